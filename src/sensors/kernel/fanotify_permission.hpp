// The answering machinery every fanotify permission sensor shares (exec and open): a group with
// the marks of one policy, a permission event waiting for its answer, and the loop that reads
// events, hands them to a handler, answers the fail-mode default at the deadline and swaps
// groups when the policy changes.
//
//   reader thread:  poll(group, wake) -> read records -> Job (owns the event fd and a
//                   PendingVerdict) -> Handler::on_event: answered right there (cheap cases)
//                   or queued for a worker; answers the fail-mode default for every job still
//                   open at its deadline. With `spin_ns`, the reader keeps reading for that
//                   long after the last event before it sleeps in poll() again: a burst of
//                   permission events then never waits for a wake-up of the reader. It
//                   yields the CPU between reads: the opener it just answered is often woken
//                   on the reader's own CPU and would otherwise wait for the spin to end
//                   (back-to-back first opens, p99: 50 us spinning without yielding, 8 us
//                   yielding; the deny-path storm: 31x with the spin, 92x without one).
//   worker threads: Handler::decide (hashing, slow lookups) -> answer -> report
//   watchdog:       answers the fail-mode default for a decision the reader makes itself
//                   (Handler::on_event, under a Watched guard) when it overruns its deadline;
//                   it sleeps until that deadline and is woken at most once per burst
//
// A job is answered exactly once whoever gets there first (handler, deadline, stop); the
// PendingVerdict answers the default if a path forgets. A new group (new policy) retires the
// old one: its marks are flushed, the events already queued on it are read and decided, and it
// is closed once its last job is answered.
#pragma once

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/stat.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policy/policy.hpp"
#include "sensors/kernel/fanotify.hpp"
#include "sensors/pending_verdict.hpp"
#include "sensors/sensor.hpp"

namespace ringside::fanotify_perm {

inline constexpr uint64_t kPermEvents = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;

// One warning per interval, saying how many were left out in between.
class RateLimit {
 public:
  // True when the caller may log now; `suppressed` is how many were skipped since.
  bool allow(uint64_t* suppressed);

 private:
  std::mutex mu_;
  int64_t next_ns_ = 0;
  uint64_t skipped_ = 0;
};

// Path of an open descriptor of this process (/proc/self/fd readlink); empty when unknown.
std::string fd_path(int fd);

// Marks `ev` as decided by the fail-mode default (`allow` or not) because of `why`.
void set_default_verdict(Event& ev, bool allow, std::string_view why);
// "major:minor", as the mount table writes it.
std::string device_string(dev_t dev);
// Same size, mtime and ctime: the file was not changed between the two stats.
bool same_version(const struct stat& a, const struct stat& b);

// One fanotify group with the marks planned for one policy; closed with the last reference.
// Sensors derive from it to keep their plan next to the marks it produced.
struct Group {
  // `cache_mask`: the permission events an ignore mark (a cached allow) covers.
  Group(std::shared_ptr<Fanotify> api_, int fd_, uint64_t cache_mask_)
      : api(std::move(api_)), fd(fd_), cache_mask(cache_mask_) {}
  virtual ~Group() { api->close(fd); }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  Result<void> ignore(int event_fd) const {
    return api->mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, cache_mask, event_fd, nullptr);
  }
  Result<void> unignore(int event_fd) const {
    return api->mark(fd, FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK, cache_mask, event_fd, nullptr);
  }
  // An ignore mark placed by name that survives writes (the agent's own output files): the
  // file is never decided for this group. Does not open the file.
  Result<void> ignore_path(const std::string& path) const {
    return api->mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
                     cache_mask, AT_FDCWD, path.c_str());
  }
  // Removes every mark: no new event can arrive; queued ones still need answers.
  void flush() const;

  std::shared_ptr<Fanotify> api;
  int fd;
  uint64_t cache_mask;
  const policy::Policy* policy = nullptr;  // identity only: what the marks were planned for
  policy::Settings settings;
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
  Job(std::shared_ptr<Group> group, const fanotify_event_metadata& m, SensorCounters* counters)
      : group_(std::move(group)),
        event_fd_{group_->api, m.fd},
        verdict_(Responder{group_.get(), m.fd, counters},
                 group_->settings.fail_mode == policy::FailMode::kOpen, &counters->defaulted),
        pid(m.pid),
        mask(m.mask) {}

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
  const uint64_t mask;
  std::string path;
  int64_t timestamp_ns = 0;  // wall clock, when read
  int64_t deadline_ns = 0;   // monotonic
};

// What a sensor does with its permission events.
class Handler {
 public:
  // Reader thread: answer `job` right here, or return true to hand it to a worker. Must not
  // block and must never open a file that could be marked (the reader would wait on itself).
  virtual bool on_event(const std::shared_ptr<Job>& job) = 0;
  // Worker thread: decide and answer (the deadline may have answered first).
  virtual void decide(Job& job) = 0;
  // The fail-mode default answered `job` (deadline, failed decision, stop): report it.
  virtual void report_default(const Job& job, std::string_view why) = 0;

 protected:
  ~Handler() = default;
};

class PermissionLoop {
 public:
  struct Options {
    std::string name;  // the sensor's, for log lines
    std::shared_ptr<Fanotify> fanotify;
    int workers = 2;
    int64_t spin_ns = 0;
  };

  PermissionLoop(Options options, Handler& handler, SensorCounters& counters);
  ~PermissionLoop();
  PermissionLoop(const PermissionLoop&) = delete;
  PermissionLoop& operator=(const PermissionLoop&) = delete;

  Result<void> start();
  // Puts `group` (null: none) in service and retires the current one; returns once the reader
  // adopted it, so that the caller may switch its policy next.
  void install(std::shared_ptr<Group> group);
  // Answers what is pending (within a grace period), closes every group, joins the threads.
  void stop();
  bool started() const { return reader_.joinable(); }
  // Rate-limited warning, prefixed with the sensor's name.
  void warn(std::string_view what);

  // Held by Handler::on_event around a decision it makes itself: the watchdog answers the
  // fail-mode default if the decision outlives the job's deadline (or stop's grace period).
  class Watched {
   public:
    Watched(PermissionLoop& loop, const std::shared_ptr<Job>& job) : loop_(loop) {
      loop_.begin_inline(job);
    }
    ~Watched() { loop_.end_inline(); }
    Watched(const Watched&) = delete;
    Watched& operator=(const Watched&) = delete;

   private:
    PermissionLoop& loop_;
  };

 private:
  void reader_loop();
  void adopt_next(char* buf);
  void retire(const std::shared_ptr<Group>& group, char* buf);
  size_t read_events(const std::shared_ptr<Group>& group, char* buf);
  void handle(const std::shared_ptr<Group>& group, const fanotify_event_metadata& m);
  void expire(int64_t now_ns);
  void wake_reader();
  void worker_loop();
  void wake_if_starved();
  std::shared_ptr<Job> pop();
  void watchdog_loop();
  void begin_inline(const std::shared_ptr<Job>& job);
  void end_inline();

  Options opts_;
  Handler& handler_;
  SensorCounters& counters_;
  int wake_fd_ = -1;
  RateLimit error_log_;

  // install -> reader hand-over
  std::mutex mu_;
  std::condition_variable adopted_cv_;
  std::shared_ptr<Group> next_;
  uint64_t requested_ = 0, adopted_ = 0;
  bool running_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wake_pending_{false};  // seen by a spinning reader without a system call
  std::atomic<bool> starved_{false};       // the reader waits for room below kMaxPending

  // reader only
  std::shared_ptr<Group> current_;
  std::vector<std::shared_ptr<Job>> pending_;

  // decision queue
  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool workers_stop_ = false;

  // the decision the reader is making itself, watched by the watchdog
  std::mutex inline_mu_;
  std::condition_variable inline_cv_;
  std::shared_ptr<Job> inline_job_;
  bool watchdog_idle_ = false, watchdog_stop_ = false;
  int64_t stop_deadline_ns_ = INT64_MAX;  // stop(): inline decisions get the grace period too

  std::thread reader_;
  std::vector<std::thread> workers_;
  std::thread watchdog_;
};

}  // namespace ringside::fanotify_perm
