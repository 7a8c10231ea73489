// The bounded queue between the sensors' threads and the sink thread.
//
// Many producers, one consumer. push() never blocks: when the queue is full the event is
// dropped and counted (a sensor thread may be holding a kernel decision open; it must not wait
// on a slow sink). The consumer takes everything queued in one swap. It is woken only when
// `wake_depth` events are waiting; otherwise it drains on its own timer, so that a steady
// trickle of events does not cost a thread wake-up each (tens of microseconds on a VM).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/event.hpp"

namespace ringside {

class EventQueue {
 public:
  explicit EventQueue(size_t capacity, size_t wake_depth = 256)
      : capacity_(capacity), wake_depth_(wake_depth) {
    items_.reserve(1024);
  }

  // False when full (the event is dropped and counted) or closed.
  bool push(Event&& ev);
  // Moves `batch` in under one lock (what does not fit is dropped and counted); leaves it
  // empty. Returns how many were queued.
  size_t push_all(std::vector<Event>& batch);
  // Moves every queued event into `out` (which is cleared first); waits up to `timeout` for
  // the first one. Returns false once closed and drained.
  bool pop_all(std::vector<Event>& out, std::chrono::milliseconds timeout);
  void close();

  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t depth() const;
  size_t max_depth() const { return max_depth_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  void note_depth_locked();  // max_depth_ after a push (mu_ held)

  const size_t capacity_;
  const size_t wake_depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> items_;
  bool closed_ = false;
  std::atomic<uint64_t> pushed_{0}, dropped_{0};
  std::atomic<size_t> max_depth_{0};
};

}  // namespace ringside
