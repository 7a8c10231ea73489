// Thin helpers around libbpf shared by the BPF sensors: libbpf's own output routed through
// ringside::log(), and error messages that carry what libbpf (and the verifier) said.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ringside::bpf {

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

}  // namespace ringside::bpf
