#include "core/clock.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>

namespace ringside::clock {

namespace {

int64_t read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t ticks_per_second() {
  static const int64_t hz = [] {
    const long v = sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<int64_t>(v) : int64_t{100};
  }();
  return hz;
}

std::atomic<int64_t> g_offset{0};
std::atomic<int64_t> g_offset_taken_at{-1};

}  // namespace

int64_t realtime_ns() { return read(CLOCK_REALTIME); }
int64_t boottime_ns() { return read(CLOCK_BOOTTIME); }
int64_t monotonic_ns() { return read(CLOCK_MONOTONIC); }

int64_t boot_to_realtime(int64_t boot_ns) {
  const int64_t taken = g_offset_taken_at.load(std::memory_order_relaxed);
  // `taken` is a real boot time, far from the limits: taken ± 1 s cannot overflow, whatever a
  // record claims boot_ns is.
  if (taken < 0 || boot_ns > taken + 1000000000 || boot_ns < taken - 1000000000) {
    const int64_t b = boottime_ns();
    g_offset.store(realtime_ns() - b, std::memory_order_relaxed);
    g_offset_taken_at.store(b, std::memory_order_relaxed);
  }
  int64_t real = 0;
  if (__builtin_add_overflow(boot_ns, g_offset.load(std::memory_order_relaxed), &real)) {
    return boot_ns < 0 ? INT64_MIN : INT64_MAX;
  }
  return real;
}

int64_t boot_ns_to_ticks(int64_t boot_ns) { return boot_ns / (1000000000 / ticks_per_second()); }

int64_t ticks_to_boot_ns(int64_t ticks) {
  int64_t ns = 0;
  if (__builtin_mul_overflow(ticks, 1000000000 / ticks_per_second(), &ns)) {
    return ticks < 0 ? INT64_MIN : INT64_MAX;
  }
  return ns;
}

}  // namespace ringside::clock
