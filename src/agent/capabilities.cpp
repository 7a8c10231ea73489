#include "agent/capabilities.hpp"

#include <sys/capability.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <iterator>

namespace ringside {

namespace {

// Why each is kept:
//   DAC_OVERRIDE, DAC_READ_SEARCH  hash executables and read files of any owner; write the
//                                  configured outputs wherever they are
//   KILL                           kill-on-exec rules; the supervisor's SIGKILL
//   NET_ADMIN, NET_RAW             NFQUEUE (bind, verdicts) and the iptables chain it runs;
//                                  cgroup socket programs; proc connector and audit netlink
//   IPC_LOCK, SYS_RESOURCE         locked memory and limits for BPF maps and ring buffers
//   SYS_PTRACE                     /proc/<pid>/exe, cwd and environ of other users' processes
//   SYS_ADMIN                      fanotify groups and marks (also on policy reload), BPF
//   AUDIT_CONTROL, AUDIT_READ      TTY auditing status and the audit multicast group
//   BPF, PERFMON                   BPF programs, maps and tracepoint attachment
//   LINUX_IMMUTABLE, FOWNER        the immutable attribute of files deny rules guard, whoever
//                                  owns them (file_immutable)
constexpr std::array kKept = {
    CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_KILL,         CAP_NET_ADMIN,
    CAP_NET_RAW,      CAP_IPC_LOCK,        CAP_SYS_RESOURCE, CAP_SYS_PTRACE,
    CAP_SYS_ADMIN,    CAP_AUDIT_CONTROL,   CAP_AUDIT_READ,   CAP_BPF,
    CAP_PERFMON,      CAP_LINUX_IMMUTABLE, CAP_FOWNER,
};

bool kept(int cap) { return std::find(kKept.begin(), kKept.end(), cap) != kKept.end(); }

size_t thread_count() {
  std::error_code ec;
  const std::filesystem::directory_iterator it("/proc/self/task", ec);
  return ec ? 0 : static_cast<size_t>(std::distance(it, std::filesystem::directory_iterator()));
}

}  // namespace

std::span<const int> kept_capabilities() { return kKept; }

Result<std::string> drop_unneeded_capabilities() {
  // Capability sets belong to threads: dropping them now, with one thread, covers all later.
  if (const size_t n = thread_count(); n > 1) {
    return Error{"cannot drop capabilities: the process already has " + std::to_string(n) +
                 " threads"};
  }
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return errno_error("cap_get_proc");
  cap_flag_value_t setpcap = CAP_CLEAR;
  cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
  std::string dropped;
  const int max = static_cast<int>(cap_max_bits());
  for (int c = 0; c < max; ++c) {
    if (kept(c)) continue;
    if (setpcap == CAP_SET && cap_drop_bound(static_cast<cap_value_t>(c)) != 0) {
      const int err = errno;
      cap_free(caps);
      return errno_error("cannot drop capability " + std::to_string(c) + " from the bounding set",
                         err);
    }
    const cap_value_t one[] = {static_cast<cap_value_t>(c)};
    for (cap_flag_t f : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
      cap_set_flag(caps, f, 1, one, CAP_CLEAR);
    }
    char* name = cap_to_name(static_cast<cap_value_t>(c));
    if (!dropped.empty()) dropped += ' ';
    dropped += name != nullptr ? name : std::to_string(c);
    cap_free(name);
  }
  const int rc = cap_set_proc(caps);
  const int err = errno;
  cap_free(caps);
  if (rc != 0) return errno_error("cap_set_proc", err);
  if (cap_reset_ambient() != 0 && errno != EINVAL) return errno_error("cap_reset_ambient");
  return dropped;
}

}  // namespace ringside
