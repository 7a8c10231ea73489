// core::EventBatch: events handed from a sensor's thread to the sink thread, and the storage
// handed back.
//
// A batch keeps the events it held after they were written (stale, outside its size): a sensor
// that builds its next events in them with next() reuses their slots and string arenas, so in
// steady state an event costs no allocation and is never moved between threads' vectors.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/event.hpp"

namespace ringside {

class EventBatch {
 public:
  EventBatch() = default;
  // A moved-from batch is empty.
  EventBatch(EventBatch&& o) noexcept
      : events_(std::move(o.events_)), size_(std::exchange(o.size_, 0)) {
    o.events_.clear();
  }
  EventBatch& operator=(EventBatch&& o) noexcept {
    events_ = std::move(o.events_);
    size_ = std::exchange(o.size_, 0);
    o.events_.clear();
    return *this;
  }
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;
  ~EventBatch() = default;

  // An event at the end of the batch for the caller to build: a stale one (holding an earlier
  // event's fields until the caller's Event::reset) or a new, empty one. The reference holds
  // until the next next() or push(), which may move the batch's events.
  Event& next() {
    if (size_ == events_.size()) events_.emplace_back();
    return events_[size_++];
  }
  void push(Event&& ev) { next() = std::move(ev); }
  // Takes back the last next() (an event that is not to be emitted after all).
  void drop_last() {
    if (size_ > 0) --size_;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Event& operator[](size_t i) { return events_[i]; }
  const Event& operator[](size_t i) const { return events_[i]; }
  const Event& back() const { return events_[size_ - 1]; }
  Event* begin() { return events_.data(); }
  Event* end() { return events_.data() + size_; }
  const Event* begin() const { return events_.data(); }
  const Event* end() const { return events_.data() + size_; }

  // Keeps the first `n` events; the rest become stale.
  void truncate(size_t n) {
    if (n < size_) size_ = n;
  }
  // Every event becomes stale; arenas grown past `keep_bytes` (an event with a huge argument
  // list) are released rather than kept for reuse.
  void clear(size_t keep_bytes = kKeepArenaBytes) {
    for (size_t i = 0; i < size_; ++i) events_[i].release_arena_above(keep_bytes);
    size_ = 0;
  }
  void reserve(size_t n) { events_.reserve(n); }
  // Events held, live and stale.
  size_t held() const { return events_.size(); }

  static constexpr size_t kKeepArenaBytes = 4096;

 private:
  std::vector<Event> events_;
  size_t size_ = 0;  // events_[0, size_) are live
};

}  // namespace ringside
