// Thin helpers around libbpf shared by the BPF sensors: libbpf's own output routed through
// ringside::log(), and error messages that carry what libbpf (and the verifier) said.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

struct bpf_link;

namespace ringside::bpf {

// How long a ring consumer sleeps when no producer woke it: records are written without a
// wake-up (ring_common.h) unless urgent or the ring fills past its threshold, so this bounds how
// stale an unurgent record gets before it is decided and emitted (plus the timer slack the
// consumers allow, clock::allow_batch_slack). Each wake-up of a sleeping thread costs tens of
// microseconds of CPU on a virtual machine: in bench/exec_storm the agent spent 4.6 us per exec
// at 100 ms and 5.3 at 50 ms in one session, 6.2-6.4 at 100 ms and 5.5-5.7 at 250 ms in another.
inline constexpr int kRingPollMs = 100;

// Routes libbpf's messages to ringside::log() (warnings as warn, the rest as debug). Idempotent;
// process-wide, as libbpf's print hook is.
void route_libbpf_output();

// While alive, collects the libbpf messages printed on this thread (and logs them at debug
// level only), so that an expected failure — a program type this kernel refuses — is reported
// once with its reason instead of as a page of verifier warnings.
class LibbpfCapture {
 public:
  LibbpfCapture();
  ~LibbpfCapture();
  LibbpfCapture(const LibbpfCapture&) = delete;
  LibbpfCapture& operator=(const LibbpfCapture&) = delete;

  void add(std::string line);
  // The verifier's complaint when a program was rejected; else the first message that reads
  // like a failure ("failed", "error", "invalid", ...); else the last message; empty when
  // libbpf said nothing.
  std::string reason() const;

 private:
  std::vector<std::string> lines_;
  LibbpfCapture* previous_;
};

// "<what>: <strerror(err)>", with libbpf's reason appended when `capture` has one. `err` is a
// libbpf return value (negative errno) or an errno.
Error libbpf_error(std::string_view what, int err, const LibbpfCapture* capture = nullptr);

// True when the cgroup link behind `link_fd` no longer attaches its program to a cgroup
// (someone ran BPF_LINK_DETACH on it, e.g. `bpftool link detach`); false while attached or when
// the kernel cannot say.
bool cgroup_link_detached(int link_fd);

// Destroys every link in `links` (detaching its program) and clears the vector. Each detach
// waits for RCU grace periods (a tracepoint link for two or three); waits made at the same time
// share them, so the links are destroyed on threads of their own: a sensor with twenty
// tracepoint links stops in a few grace periods instead of sixty.
void destroy_links(std::vector<bpf_link*>& links);

// Whether the kernel has the tracepoint category:name (its directory under tracefs). libbpf
// attaches tracepoints by the ids tracefs lists, so when tracefs is mounted nowhere (a system
// without systemd's sys-kernel-tracing.mount) the first call mounts it on /sys/kernel/tracing,
// as the kernel documents it, and logs that it did; it stays mounted, as systemd would leave it.
bool tracepoint_exists(const std::string& category, const std::string& name);

}  // namespace ringside::bpf
