#include "agent/event_queue.hpp"

#include <algorithm>

namespace ringside {

void EventQueue::note_depth_locked() {
  if (items_.size() > max_depth_.load(std::memory_order_relaxed)) {
    max_depth_.store(items_.size(), std::memory_order_relaxed);
  }
}

bool EventQueue::push(Event&& ev) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || items_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    items_.push_back(std::move(ev));
    wake = items_.size() == wake_depth_;
    note_depth_locked();
  }
  pushed_.fetch_add(1, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
  return true;
}

size_t EventQueue::push_all(std::vector<Event>& batch) {
  size_t queued = 0;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    const size_t before = items_.size();
    if (!closed_) {
      queued = std::min(batch.size(), capacity_ > before ? capacity_ - before : 0);
      if (before == 0 && queued == batch.size()) {
        items_.swap(batch);  // the common case: the sink took everything; no event is moved
      } else {
        for (size_t i = 0; i < queued; ++i) items_.push_back(std::move(batch[i]));
      }
    }
    wake = before < wake_depth_ && items_.size() >= wake_depth_;
    note_depth_locked();
  }
  if (queued < batch.size()) dropped_.fetch_add(batch.size() - queued, std::memory_order_relaxed);
  pushed_.fetch_add(queued, std::memory_order_relaxed);
  batch.clear();
  if (wake) cv_.notify_one();
  return queued;
}

bool EventQueue::pop_all(std::vector<Event>& out, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || items_.size() >= wake_depth_; });
  // The emptied batch vector keeps its capacity and becomes the queue's: no allocation.
  out.swap(items_);
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
  return items_.size();
}

}  // namespace ringside
