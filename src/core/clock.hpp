// Clocks. Kernel records carry CLOCK_BOOTTIME (bpf_ktime_get_boot_ns); events carry wall time.
#pragma once

#include <cstdint>

namespace ringside::clock {

int64_t realtime_ns();
int64_t boottime_ns();
int64_t monotonic_ns();

// Converts a CLOCK_BOOTTIME reading to wall time using an offset refreshed at most once a
// second, so that clock steps are followed without a syscall per event.
int64_t boot_to_realtime(int64_t boot_ns);

// Converts a process's start time (CLOCK_BOOTTIME) to wall time with a boot epoch that stays
// fixed while the wall clock only drifts or is slewed, so that every event of one process --
// whichever sensor, thread or moment converted it -- carries the same `process.start`, the key
// that joins them. The epoch follows a clock step of more than kEpochStepNs.
int64_t start_to_realtime(int64_t boot_ns);
// The inverse: a `process.start` back to CLOCK_BOOTTIME, with the same epoch.
int64_t start_to_boot(int64_t start_ns);
inline constexpr int64_t kEpochStepNs = 1000LL * 1000 * 1000;

// Clock ticks (USER_HZ) since boot, the unit of /proc/PID/stat's starttime; ringside keys
// processes by (pid, start ticks) so that kernel and /proc sources agree.
int64_t boot_ns_to_ticks(int64_t boot_ns);
int64_t ticks_to_boot_ns(int64_t ticks);

// Lets the kernel fire the calling thread's timers up to kBatchSlackNs late (PR_SET_TIMERSLACK),
// so that they share wake-ups with other timers: for threads whose timeouts are batching periods
// (a ring consumer's poll, the sink thread's flush), never for one that keeps a deadline.
inline constexpr int64_t kBatchSlackNs = 20LL * 1000 * 1000;
void allow_batch_slack();

}  // namespace ringside::clock
