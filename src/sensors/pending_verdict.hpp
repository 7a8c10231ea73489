// A decision a kernel or hooked caller is waiting for. It must be answered exactly once: the
// destructor answers the configured default (fail-open or fail-closed) when nothing else did,
// and counts it, so a code path that forgets to answer cannot leave a process blocked.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace ringside {

// Answer: callable as `void(bool allow)`; it must not throw.
template <class Answer>
class PendingVerdict {
 public:
  PendingVerdict(Answer answer, bool default_allow, std::atomic<uint64_t>* defaulted)
      : answer_(std::move(answer)), default_allow_(default_allow), defaulted_(defaulted) {}
  PendingVerdict(const PendingVerdict&) = delete;
  PendingVerdict& operator=(const PendingVerdict&) = delete;
  PendingVerdict(PendingVerdict&& o) noexcept
      : answer_(std::move(o.answer_)),
        default_allow_(o.default_allow_),
        defaulted_(o.defaulted_),
        answered_(std::exchange(o.answered_, true)) {}
  ~PendingVerdict() {
    if (!answered_) answer_default();
  }

  void answer(bool allow) {
    if (answered_) return;
    answered_ = true;
    answer_(allow);
  }
  // Answers with the fail-mode default (deadline missed, decision impossible) and counts it.
  void answer_default() {
    if (answered_) return;
    if (defaulted_ != nullptr) defaulted_->fetch_add(1, std::memory_order_relaxed);
    answer(default_allow_);
  }
  bool answered() const { return answered_; }
  bool default_allow() const { return default_allow_; }

 private:
  Answer answer_;
  bool default_allow_;
  std::atomic<uint64_t>* defaulted_;
  bool answered_ = false;
};

}  // namespace ringside
