// Records read from a fanotify notification group by one thread and handled by another. The
// reading thread does nothing but read(2), so the kernel's queue (FAN_UNLIMITED_QUEUE) stays
// short while the handling thread resolves paths; what waits here is bounded by a byte budget,
// and the records that find it full are dropped and counted one by one. That count is exact,
// where a full kernel queue would only say FAN_Q_OVERFLOW ("some were lost").
#pragma once

#include <sys/fanotify.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "sensors/kernel/fanotify_fid.hpp"

namespace ringside {

template <typename Group>
class FanotifyBuffer {
 public:
  struct Chunk {
    std::shared_ptr<Group> group;  // the group the records were read from
    std::vector<char> bytes;       // whole records, as read(2) returned them
  };
  enum class Pop { kChunk, kTimeout, kClosed };

  explicit FanotifyBuffer(size_t budget_bytes) : budget_(budget_bytes) {}

  // Queues `n` bytes of whole records from `group`. When they do not fit the budget, nothing
  // is queued: returns how many records they held, after passing any event descriptor in them
  // to `close_fd`. A FAN_Q_OVERFLOW record is not counted (the kernel's own loss, reported as
  // such by the handler when it gets one).
  template <typename CloseFd>
  uint64_t push(const std::shared_ptr<Group>& group, const char* data, size_t n,
                CloseFd&& close_fd) {
    {
      std::lock_guard lock(mu_);
      if (bytes_ + n <= budget_) {
        chunks_.push_back(Chunk{group, std::vector<char>(data, data + n)});
        bytes_ += n;
        cv_.notify_one();
        return 0;
      }
    }
    uint64_t records = 0;
    for_each_event(data, n, [&](const fanotify_event_metadata& m, const char*) {
      if (m.fd >= 0) close_fd(m.fd);
      if ((m.mask & FAN_Q_OVERFLOW) == 0) ++records;
    });
    return records;
  }

  // Takes the oldest chunk, waiting up to `timeout` for one; kClosed once close() was called
  // and everything queued before it was taken.
  Pop pop(Chunk* out, std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !chunks_.empty() || closed_; });
    if (chunks_.empty()) return closed_ ? Pop::kClosed : Pop::kTimeout;
    *out = std::move(chunks_.front());
    chunks_.pop_front();
    bytes_ -= out->bytes.size();
    return Pop::kChunk;
  }

  // The reading thread is done (after its last push).
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // For the next start: empty and open.
  void reset() {
    std::lock_guard lock(mu_);
    chunks_.clear();
    bytes_ = 0;
    closed_ = false;
  }

 private:
  const size_t budget_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> chunks_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace ringside
