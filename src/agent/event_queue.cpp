#include "agent/event_queue.hpp"

#include <algorithm>
#include <utility>

namespace ringside {

void EventQueue::note_depth_locked() {
  if (depth_ > max_depth_.load(std::memory_order_relaxed)) {
    max_depth_.store(depth_, std::memory_order_relaxed);
  }
}

EventBatch EventQueue::spare_locked() {
  if (spares_.empty()) return {};
  EventBatch b = std::move(spares_.back());
  spares_.pop_back();
  return b;
}

bool EventQueue::push(Event&& ev) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || depth_ >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // Single events join a batch of their own at the end, so the order of arrival holds.
    if (!last_is_loose_) {
      batches_.push_back(spare_locked());
      last_is_loose_ = true;
    }
    batches_.back().push(std::move(ev));
    ++depth_;
    wake = depth_ == wake_depth_;
    note_depth_locked();
  }
  pushed_.fetch_add(1, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
  return true;
}

size_t EventQueue::push_all(EventBatch& batch) {
  const size_t offered = batch.size();
  size_t queued = 0;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    const size_t before = depth_;
    if (!closed_) queued = std::min(offered, capacity_ > before ? capacity_ - before : 0);
    if (queued > 0) {
      batch.truncate(queued);  // in order: what did not fit is the newest
      batches_.push_back(std::move(batch));
      last_is_loose_ = false;
      depth_ += queued;
      batch = spare_locked();
    }
    wake = before < wake_depth_ && depth_ >= wake_depth_;
    note_depth_locked();
  }
  if (queued < offered) dropped_.fetch_add(offered - queued, std::memory_order_relaxed);
  pushed_.fetch_add(queued, std::memory_order_relaxed);
  batch.clear();  // when nothing was queued: the same events, stale now
  if (wake) cv_.notify_one();
  return queued;
}

bool EventQueue::pop_all(std::vector<EventBatch>& out, std::chrono::milliseconds timeout) {
  // Outside the lock: releasing large arenas, and the batches that are not kept.
  std::erase_if(out, [](const EventBatch& b) { return b.held() > kSpareBatchEvents; });
  for (EventBatch& b : out) b.clear();
  std::vector<EventBatch> unkept;  // declared before the lock: freed after it is released
  std::unique_lock lock(mu_);
  for (EventBatch& b : out) {
    (spares_.size() < kSpareBatches ? spares_ : unkept).push_back(std::move(b));
  }
  out.clear();  // moved-from: empty
  cv_.wait_for(lock, timeout, [&] { return closed_ || depth_ >= wake_depth_; });
  out.swap(batches_);
  depth_ = 0;
  last_is_loose_ = false;
  return !(closed_ && out.empty());
}

void EventQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

size_t EventQueue::depth() const {
  std::lock_guard lock(mu_);
  return depth_;
}

}  // namespace ringside
