#include "agent/event_queue.hpp"

namespace ringside {

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
    if (items_.size() > max_depth_.load(std::memory_order_relaxed)) {
      max_depth_.store(items_.size(), std::memory_order_relaxed);
    }
  }
  pushed_.fetch_add(1, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
  return true;
}

bool EventQueue::pop_all(std::vector<Event>& out, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || items_.size() >= wake_depth_; });
  out.swap(items_);
  items_.reserve(out.capacity());
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
