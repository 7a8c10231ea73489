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

// Clock ticks (USER_HZ) since boot, the unit of /proc/PID/stat's starttime; ringside keys
// processes by (pid, start ticks) so that kernel and /proc sources agree.
int64_t boot_ns_to_ticks(int64_t boot_ns);
int64_t ticks_to_boot_ns(int64_t ticks);

}  // namespace ringside::clock
