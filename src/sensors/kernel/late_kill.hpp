// Killing a process from user space after the fact, safely: for a deny the kernel could not
// enforce itself (a rule its table cannot express, or a sensor that only observes, such as the
// proc connector). The process is named by (pid, start time), so a pid reused in between is
// never signalled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringside {

enum class LateKillOutcome : uint8_t {
  kKilled,  // SIGKILL delivered to the very process
  kGone,    // it had already exited (or the pid now belongs to another process)
  kFailed,  // the kill itself failed (errno in LateKillResult::error)
};

struct LateKillResult {
  LateKillOutcome outcome = LateKillOutcome::kFailed;
  int error = 0;
};

// The ringside.enforcement value of an outcome: "late_kill" when killed, "none" otherwise.
std::string_view enforcement_of(LateKillOutcome outcome);

// Start time of /proc/PID (field 22 of stat, clock ticks since boot), and whether it is a
// zombie; nothing when the process does not exist.
struct ProcStart {
  int64_t start_ticks = 0;
  bool zombie = false;
};
std::optional<ProcStart> proc_start(int32_t pid, const std::string& proc_root = "/proc");

// pidfd_open(pid), then the start time of /proc/PID compared with `start_ticks`, then
// pidfd_send_signal(SIGKILL). The pidfd is taken before the check, so once the check passes it
// can only refer to that process, whatever happens to the pid afterwards.
LateKillResult late_kill(int32_t pid, int64_t start_ticks, const std::string& proc_root = "/proc");

}  // namespace ringside
