#include "core/clock.hpp"

#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

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
std::atomic<int64_t> g_epoch{0};
std::atomic<int64_t> g_epoch_checked_at{0};

// realtime - boottime, read between two boot-time readings close enough together that no
// preemption split them (a split reading would be off by however long the thread slept).
int64_t measure_offset() {
  int64_t best = 0;
  int64_t best_gap = INT64_MAX;
  for (int i = 0; i < 4; ++i) {
    const int64_t b1 = boottime_ns();
    const int64_t r = realtime_ns();
    const int64_t b2 = boottime_ns();
    if (b2 - b1 < best_gap) {
      best_gap = b2 - b1;
      best = r - (b1 + (b2 - b1) / 2);
    }
    if (best_gap < 20000) break;
  }
  return best;
}

// For once-a-second checks on every event: the kernel's tick-granular reading, a few ns from
// the vDSO instead of a read of the clock source (on a VM, the paravirtual clock's page).
int64_t coarse_monotonic_ns() { return read(CLOCK_MONOTONIC_COARSE); }

// The boot epoch: measured once, then compared with a fresh measurement at most once a second by
// one thread at a time, and replaced only when the wall clock was stepped.
int64_t epoch() {
  static std::once_flag first;
  std::call_once(first, [] {
    g_epoch.store(measure_offset(), std::memory_order_relaxed);
    g_epoch_checked_at.store(coarse_monotonic_ns(), std::memory_order_release);
  });
  int64_t checked = g_epoch_checked_at.load(std::memory_order_acquire);
  const int64_t now = coarse_monotonic_ns();
  if (now - checked > 1000000000 &&
      g_epoch_checked_at.compare_exchange_strong(checked, now, std::memory_order_acq_rel)) {
    const int64_t measured = measure_offset();
    const int64_t held = g_epoch.load(std::memory_order_relaxed);
    if (measured - held > kEpochStepNs || held - measured > kEpochStepNs) {
      g_epoch.store(measured, std::memory_order_relaxed);
    }
  }
  return g_epoch.load(std::memory_order_relaxed);
}

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

int64_t start_to_realtime(int64_t boot_ns) {
  int64_t real = 0;
  if (__builtin_add_overflow(boot_ns, epoch(), &real)) return boot_ns < 0 ? INT64_MIN : INT64_MAX;
  return real;
}

int64_t start_to_boot(int64_t start_ns) {
  int64_t boot = 0;
  if (__builtin_sub_overflow(start_ns, epoch(), &boot)) return start_ns < 0 ? INT64_MIN : INT64_MAX;
  return boot;
}

int64_t boot_ns_to_ticks(int64_t boot_ns) { return boot_ns / (1000000000 / ticks_per_second()); }

int64_t ticks_to_boot_ns(int64_t ticks) {
  int64_t ns = 0;
  if (__builtin_mul_overflow(ticks, 1000000000 / ticks_per_second(), &ns)) {
    return ticks < 0 ? INT64_MIN : INT64_MAX;
  }
  return ns;
}

void allow_batch_slack() {
  // Best effort: without it the timers are merely exact.
  (void)prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kBatchSlackNs), 0, 0, 0);
}

}  // namespace ringside::clock
