// The answering plumbing of ExecFanotifySensor (internal): a fanotify group with the marks of
// one policy, and a permission event waiting for its answer. Kept apart from the sensor's
// threads so that each part stays small; nothing outside exec_fanotify.cpp uses it.
#pragma once

#include <fcntl.h>
#include <sys/fanotify.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/log.hpp"
#include "policy/policy.hpp"
#include "sensors/kernel/exec_mark_plan.hpp"
#include "sensors/kernel/fanotify.hpp"
#include "sensors/pending_verdict.hpp"
#include "sensors/sensor.hpp"

namespace ringside::exec_fanotify {

// One fanotify group with the marks planned for one policy; closed with the last reference.
struct Group {
  Group(std::shared_ptr<Fanotify> api_, int fd_) : api(std::move(api_)), fd(fd_) {}
  ~Group() { api->close(fd); }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  Result<void> ignore(int event_fd) const {
    return api->mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM, event_fd,
                     nullptr);
  }
  Result<void> unignore(int event_fd) const {
    return api->mark(fd, FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK, FAN_OPEN_EXEC_PERM, event_fd,
                     nullptr);
  }
  // Removes every mark: no new event can arrive; queued ones still need answers.
  void flush() const {
    for (unsigned type :
         {0U, static_cast<unsigned>(FAN_MARK_MOUNT), static_cast<unsigned>(FAN_MARK_FILESYSTEM)}) {
      auto r = api->mark(fd, FAN_MARK_FLUSH | type, 0, AT_FDCWD, nullptr);
      if (!r) log().warn("exec_fanotify: {}", r.error().message);
    }
  }

  std::shared_ptr<Fanotify> api;
  int fd;
  const policy::Policy* policy = nullptr;  // identity only: what the marks were planned for
  policy::Settings settings;
  ExecMarkPlan plan;
};

// The answer to the kernel for one event; never throws.
struct Responder {
  Group* group;
  int event_fd;
  SensorCounters* counters;
  void operator()(bool allow) const noexcept {
    auto r = group->api->respond(group->fd, event_fd, allow ? FAN_ALLOW : FAN_DENY);
    if (!r) counters->errors.fetch_add(1, std::memory_order_relaxed);
  }
};

// The event descriptor, closed after the verdict was written (member order in Job).
struct EventFd {
  std::shared_ptr<Fanotify> api;
  int fd;
  ~EventFd() { api->close(fd); }
};

// One permission event waiting for its answer. Shared by the reader (deadline) and a worker
// (decision); whichever answers first wins, the other finds it answered.
class Job {
 public:
  Job(std::shared_ptr<Group> group, int fd, int32_t caller, SensorCounters* counters)
      : group_(std::move(group)),
        event_fd_{group_->api, fd},
        verdict_(Responder{group_.get(), fd, counters},
                 group_->settings.fail_mode == policy::FailMode::kOpen, &counters->defaulted),
        pid(caller) {}

  // True when this call gave the answer.
  bool answer(bool allow) {
    std::lock_guard lock(mu_);
    if (verdict_.answered()) return false;
    verdict_.answer(allow);
    return true;
  }
  bool answer_default() {
    std::lock_guard lock(mu_);
    if (verdict_.answered()) return false;
    verdict_.answer_default();
    return true;
  }
  bool answered() const {
    std::lock_guard lock(mu_);
    return verdict_.answered();
  }
  bool default_allow() const { return verdict_.default_allow(); }
  const Group& group() const { return *group_; }
  int fd() const { return event_fd_.fd; }

 private:
  std::shared_ptr<Group> group_;
  EventFd event_fd_;
  mutable std::mutex mu_;
  PendingVerdict<Responder> verdict_;

 public:
  const int32_t pid;
  std::string path;
  int64_t timestamp_ns = 0;  // wall clock, when read
  int64_t deadline_ns = 0;   // monotonic
};

}  // namespace ringside::exec_fanotify
