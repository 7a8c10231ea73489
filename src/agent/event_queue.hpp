// The bounded queue between the sensors' threads and the sink thread.
//
// Many producers, one consumer. push() never blocks: when the queue is full the event is
// dropped and counted (a sensor thread may be holding a kernel decision open; it must not wait
// on a slow sink). Batches go in whole and come out whole: the consumer takes everything queued
// in one swap, and hands the batches it has written back for producers to build their next
// events in (EventBatch), so an event is never moved from vector to vector and, in steady
// state, needs no allocation. The consumer is woken only when `wake_depth` events are waiting;
// otherwise it drains on its own timer, so that a steady trickle of events does not cost a
// thread wake-up each (tens of microseconds on a VM).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/event.hpp"
#include "core/event_batch.hpp"

namespace ringside {

class EventQueue {
 public:
  explicit EventQueue(size_t capacity, size_t wake_depth = 256)
      : capacity_(capacity), wake_depth_(wake_depth) {}

  // False when full (the event is dropped and counted) or closed.
  bool push(Event&& ev);
  // Queues `batch` under one lock (what does not fit is dropped and counted) and leaves in its
  // place an empty batch, with written events to reuse when the consumer has handed some back.
  // Returns how many were queued.
  size_t push_all(EventBatch& batch);
  // Hands back the batches in `out` (written; their events are kept for reuse) and moves every
  // queued batch into it, oldest first; waits up to `timeout` for `wake_depth` events. Returns
  // false once closed and drained.
  bool pop_all(std::vector<EventBatch>& out, std::chrono::milliseconds timeout);
  void close();

  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t depth() const;
  size_t max_depth() const { return max_depth_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

  // Written batches kept for producers: enough for the sensors that batch to find one each,
  // and none larger than a sensor's batch (a burst of single events leaves one that is not kept).
  static constexpr size_t kSpareBatches = 16;
  static constexpr size_t kSpareBatchEvents = 1024;

 private:
  void note_depth_locked();  // max_depth_ after a push (mu_ held)
  EventBatch spare_locked();

  const size_t capacity_;
  const size_t wake_depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EventBatch> batches_;  // oldest first
  bool last_is_loose_ = false;       // batches_.back() collects single push()es
  size_t depth_ = 0;                 // events in batches_
  std::vector<EventBatch> spares_;
  bool closed_ = false;
  std::atomic<uint64_t> pushed_{0}, dropped_{0};
  std::atomic<size_t> max_depth_{0};
};

}  // namespace ringside
