// A fake fanotify for the file sensors' unit tests: groups are eventfds (pollable like the real
// ones), queued records are raw bytes (permission events carry real descriptors of test files,
// so that a sensor can readlink, stat and hash them), and every call is recorded.
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sensors/kernel/fanotify.hpp"

namespace ringside::testing_fanotify {

using namespace std::chrono_literals;

// Pids of fake events lie above PID_MAX_LIMIT (2^22), so none can be the test's own pid: the
// sensors let their own process through without asking the policy.
inline constexpr int32_t kFakePid = 1 << 22;

class FakeFanotify final : public Fanotify {
 public:
  struct InitCall {
    unsigned flags, event_f_flags;
  };
  struct MarkCall {
    int group;
    unsigned flags;
    uint64_t mask;
    int dirfd;
    std::string path;
    int event;  // id of the event whose descriptor was marked, 0 otherwise
  };

  // init() fails with `errno_value` while `flags` contains `bits` (a kernel without them).
  void refuse_init(unsigned bits, int errno_value) {
    std::lock_guard lock(mu_);
    refuse_init_bits_ = bits;
    refuse_init_errno_ = errno_value;
  }
  // mark() fails with EINVAL for a mask containing `bits`.
  void refuse_mask(uint64_t bits) {
    std::lock_guard lock(mu_);
    refuse_mask_bits_ = bits;
  }

  Result<int> init(unsigned flags, unsigned event_f_flags) override {
    std::lock_guard lock(mu_);
    if (refuse_init_bits_ != 0 && (flags & refuse_init_bits_) == refuse_init_bits_) {
      return Error{"fanotify_init refused", refuse_init_errno_};
    }
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    groups_.push_back(fd);
    inits_.push_back({flags, event_f_flags});
    return fd;
  }

  Result<void> mark(int group, unsigned flags, uint64_t mask, int dirfd,
                    const char* path) override {
    std::lock_guard lock(mu_);
    if (refuse_mask_bits_ != 0 && (mask & refuse_mask_bits_) != 0) {
      return Error{"fanotify_mark: Invalid argument", EINVAL};
    }
    auto it = ids_.find(dirfd);
    marks_.push_back({group, flags, mask, dirfd, path != nullptr ? path : "",
                      (path == nullptr && it != ids_.end()) ? it->second : 0});
    return ok();
  }

  Result<size_t> read(int group, void* buf, size_t len) override {
    std::lock_guard lock(mu_);
    uint64_t v = 0;
    (void)!::read(group, &v, sizeof v);
    auto& q = queued_[group];
    size_t n = 0;
    while (!q.empty() && n + q.front().size() <= len) {
      std::memcpy(static_cast<char*>(buf) + n, q.front().data(), q.front().size());
      n += q.front().size();
      q.pop_front();
    }
    if (!q.empty()) signal(group);
    return n;
  }

  Result<void> respond(int /*group*/, int event_fd, uint32_t response) override {
    std::lock_guard lock(mu_);
    auto it = ids_.find(event_fd);
    EXPECT_NE(it, ids_.end()) << "response for a descriptor that is not an open event";
    responses_.emplace_back(it == ids_.end() ? -1 : it->second, response);
    cv_.notify_all();
    return ok();
  }

  void close(int fd) override {
    std::lock_guard lock(mu_);
    ids_.erase(fd);
    closed_.push_back(fd);
    ::close(fd);
  }

  // Queues a permission event (`mask`) for `file` on the newest group; returns its id.
  int push_perm(const std::string& file, int32_t pid, uint64_t mask = FAN_OPEN_PERM) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << file;
    fanotify_event_metadata m{};
    m.event_len = sizeof m;
    m.vers = FANOTIFY_METADATA_VERSION;
    m.metadata_len = sizeof m;
    m.mask = mask;
    m.fd = fd;
    m.pid = pid;
    std::lock_guard lock(mu_);
    const int id = ++next_id_;
    ids_[fd] = id;
    push_locked(std::string(reinterpret_cast<const char*>(&m), sizeof m));
    return id;
  }
  // Queues raw record bytes on the newest group.
  void push_raw(std::string record) {
    std::lock_guard lock(mu_);
    push_locked(std::move(record));
  }

  // The responses for event `id`, once at least one arrived (or `timeout` passed).
  std::vector<uint32_t> wait_responses(int id, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !responses_for(id).empty(); });
    return responses_for(id);
  }
  std::vector<uint32_t> responses(int id) {
    std::lock_guard lock(mu_);
    return responses_for(id);
  }
  std::vector<MarkCall> marks() {
    std::lock_guard lock(mu_);
    return marks_;
  }
  std::vector<InitCall> inits() {
    std::lock_guard lock(mu_);
    return inits_;
  }
  std::vector<int> groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }
  bool closed(int fd) {
    std::lock_guard lock(mu_);
    return std::find(closed_.begin(), closed_.end(), fd) != closed_.end();
  }
  bool wait_closed(int fd) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!closed(fd) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
    return closed(fd);
  }
  // Ignore marks placed on the descriptor of event `id` with `mask`.
  size_t ignore_marks_for(int id, uint64_t mask) {
    size_t n = 0;
    for (const auto& m : marks()) {
      if (m.event == id && (m.flags & FAN_MARK_IGNORED_MASK) != 0 &&
          (m.flags & FAN_MARK_ADD) != 0 && m.mask == mask) {
        ++n;
      }
    }
    return n;
  }

 private:
  void push_locked(std::string record) {
    queued_[groups_.back()].push_back(std::move(record));
    signal(groups_.back());
  }
  void signal(int group) {
    const uint64_t one = 1;
    (void)!::write(group, &one, sizeof one);
  }
  std::vector<uint32_t> responses_for(int id) const {
    std::vector<uint32_t> out;
    for (const auto& [i, r] : responses_) {
      if (i == id) out.push_back(r);
    }
    return out;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> groups_;
  std::vector<InitCall> inits_;
  std::map<int, std::deque<std::string>> queued_;
  std::map<int, int> ids_;  // open event descriptor -> event id
  int next_id_ = 0;
  std::vector<std::pair<int, uint32_t>> responses_;
  std::vector<MarkCall> marks_;
  std::vector<int> closed_;
  unsigned refuse_init_bits_ = 0;
  int refuse_init_errno_ = 0;
  uint64_t refuse_mask_bits_ = 0;
};

}  // namespace ringside::testing_fanotify
