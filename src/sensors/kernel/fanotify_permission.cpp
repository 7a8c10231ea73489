#include "sensors/kernel/fanotify_permission.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace ringside::fanotify_perm {

namespace {

constexpr size_t kReadBytes = 16 * 1024;
constexpr int kReadRounds = 16;  // then deadlines and the wake-up are looked at again
// Events read but not answered hold a descriptor each. Past this many the reader leaves the
// rest queued in the kernel (their callers keep waiting) rather than run out of descriptors:
// the kernel denies a permission event it cannot make a descriptor for, whatever fail_mode says.
constexpr size_t kMaxPending = 256;
constexpr int64_t kMsNs = 1000 * 1000;
constexpr int64_t kStopGraceNs = 1000 * kMsNs;  // longest stop() waits for a decision
constexpr auto kAdoptTimeout = std::chrono::seconds(2);
constexpr int64_t kLogIntervalNs = 1000 * kMsNs;

}  // namespace

bool RateLimit::allow(uint64_t* suppressed) {
  std::lock_guard lock(mu_);
  const int64_t now = clock::monotonic_ns();
  if (now < next_ns_) {
    ++skipped_;
    return false;
  }
  next_ns_ = now + kLogIntervalNs;
  *suppressed = std::exchange(skipped_, 0);
  return true;
}

void set_default_verdict(Event& ev, bool allow, std::string_view why) {
  ev.set_verdict(allow ? Verdict::kAllow : Verdict::kDeny, "");
  ev.set(Field::kEventOutcome, allow ? "success" : "failure");
  ev.set(Field::kRingsideEnforcement, "default");
  ev.set(Field::kRingsideMessage,
         std::string(why) + "; fail-" + (allow ? "open" : "closed") + " default applied");
}

std::string fd_path(int fd) {
  // One descriptor of this process's fd directory saves the walk through /proc/self on every
  // call (the reader resolves one path per permission event).
  static const int fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char name[16];
  const auto r = std::to_chars(name, name + sizeof name - 1, fd);
  *r.ptr = '\0';
  char buf[PATH_MAX];
  const ssize_t n = fd_dir >= 0
                        ? readlinkat(fd_dir, name, buf, sizeof buf)
                        : readlink(("/proc/self/fd/" + std::string(name)).c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string device_string(dev_t dev) {
  return std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

void Group::flush() const {
  for (unsigned type :
       {0U, static_cast<unsigned>(FAN_MARK_MOUNT), static_cast<unsigned>(FAN_MARK_FILESYSTEM)}) {
    auto r = api->mark(fd, FAN_MARK_FLUSH | type, 0, AT_FDCWD, nullptr);
    if (!r) log().warn("fanotify: {}", r.error().message);
  }
}

PermissionLoop::PermissionLoop(Options options, Handler& handler, SensorCounters& counters)
    : opts_(std::move(options)), handler_(handler), counters_(counters) {
  if (!opts_.fanotify) opts_.fanotify = system_fanotify();
  opts_.workers = std::max(1, opts_.workers);
}

PermissionLoop::~PermissionLoop() { stop(); }

Result<void> PermissionLoop::start() {
  if (started()) return ok();
  stopping_.store(false);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return errno_error("eventfd");
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  {
    std::lock_guard lock(qmu_);
    workers_stop_ = false;
  }
  {
    std::lock_guard lock(inline_mu_);
    watchdog_stop_ = false;
    stop_deadline_ns_ = INT64_MAX;
  }
  watchdog_ = std::thread([this] { watchdog_loop(); });
  name_thread(watchdog_, "rs-fperm-watch");
  reader_ = std::thread([this] { reader_loop(); });
  name_thread(reader_, "rs-fperm-read");
  for (int i = 0; i < opts_.workers; ++i) {
    workers_.emplace_back([this] { worker_loop(); });
    name_thread(workers_.back(), "rs-fperm-work");
  }
  return ok();
}

void PermissionLoop::wake_reader() {
  wake_pending_.store(true);
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) warn("cannot wake the reader");
}

void PermissionLoop::install(std::shared_ptr<Group> group) {
  std::unique_lock lock(mu_);
  if (!running_) return;  // stopped: the group is closed here and its marks go with it
  next_ = std::move(group);
  const uint64_t ticket = ++requested_;
  wake_reader();
  // The caller switches its policy next: the new marks must be in service by then.
  if (!adopted_cv_.wait_for(lock, kAdoptTimeout, [&] { return adopted_ >= ticket; })) {
    log().warn("{}: reader slow to adopt the new marks", opts_.name);
  }
}

void PermissionLoop::stop() {
  if (!started()) return;
  stopping_.store(true);
  {
    std::lock_guard lock(inline_mu_);
    stop_deadline_ns_ = clock::monotonic_ns() + kStopGraceNs;
  }
  inline_cv_.notify_all();
  wake_reader();
  reader_.join();
  {
    std::lock_guard lock(qmu_);
    workers_stop_ = true;
  }
  qcv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  {
    std::lock_guard lock(inline_mu_);
    watchdog_stop_ = true;
  }
  inline_cv_.notify_all();
  watchdog_.join();
  {
    std::lock_guard lock(mu_);
    running_ = false;
    next_.reset();
    adopted_ = requested_;
    adopted_cv_.notify_all();
  }
  close(wake_fd_);
  wake_fd_ = -1;
}

void PermissionLoop::adopt_next(char* buf) {
  std::shared_ptr<Group> group;
  {
    std::lock_guard lock(mu_);
    if (adopted_ == requested_) return;
    group = std::move(next_);
    adopted_ = requested_;
  }
  std::shared_ptr<Group> old = std::exchange(current_, std::move(group));
  if (old) retire(old, buf);
  adopted_cv_.notify_all();
}

// Flushes the group's marks and takes in what is queued; the jobs keep it open until answered.
void PermissionLoop::retire(const std::shared_ptr<Group>& group, char* buf) {
  group->flush();
  read_events(group, buf);
}

void PermissionLoop::reader_loop() {
  alignas(fanotify_event_metadata) char buf[kReadBytes];
  bool draining = false;
  int64_t spin_until = 0;
  while (true) {
    wake_pending_.store(false);
    adopt_next(buf);
    std::erase_if(pending_, [](const auto& j) { return j->answered(); });
    if (stopping_.load() && !draining) {
      draining = true;
      spin_until = 0;
      if (current_) retire(std::exchange(current_, nullptr), buf);  // released right here
      const int64_t limit = clock::monotonic_ns() + kStopGraceNs;
      for (auto& j : pending_) j->deadline_ns = std::min(j->deadline_ns, limit);
    }
    if (draining && pending_.empty()) break;

    const bool take_more = current_ && pending_.size() < kMaxPending;
    starved_.store(current_ && !take_more);
    // Spinning: read without sleeping; a wake-up request is seen through the flag.
    if (take_more && spin_until > 0) {
      while (!wake_pending_.load(std::memory_order_relaxed)) {
        const int64_t now = clock::monotonic_ns();
        if (read_events(current_, buf) > 0) {
          spin_until = now + opts_.spin_ns;
          break;
        }
        expire(now);
        if (now >= spin_until) {
          spin_until = 0;
          break;
        }
        // The opener just answered is often woken on this very CPU: let it run rather than
        // hold the CPU from it until the spin ends.
        sched_yield();
      }
      expire(clock::monotonic_ns());
      continue;
    }

    int timeout_ms = -1;
    if (!pending_.empty()) {
      int64_t earliest = INT64_MAX;
      for (const auto& j : pending_) earliest = std::min(earliest, j->deadline_ns);
      const int64_t left = earliest - clock::monotonic_ns();
      timeout_ms = left <= 0 ? 0 : static_cast<int>((left + kMsNs - 1) / kMsNs);
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {take_more ? current_->fd : -1, POLLIN, 0}};
    const int n = poll(fds, take_more ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) warn("poll");
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t v = 0;
      if (read(wake_fd_, &v, sizeof v) < 0 && errno != EAGAIN) warn("read wake-up");
    }
    if (n > 0 && take_more && (fds[1].revents & (POLLIN | POLLERR)) != 0) {
      if (read_events(current_, buf) > 0 && opts_.spin_ns > 0) {
        spin_until = clock::monotonic_ns() + opts_.spin_ns;
      }
    }
    expire(clock::monotonic_ns());
  }
}

size_t PermissionLoop::read_events(const std::shared_ptr<Group>& group, char* buf) {
  size_t handled = 0;
  for (int round = 0; round < kReadRounds && pending_.size() < kMaxPending; ++round) {
    // Every record read comes with a new descriptor: read no more than may be pending.
    const size_t room = (kMaxPending - pending_.size()) * sizeof(fanotify_event_metadata);
    auto n = opts_.fanotify->read(group->fd, buf, std::min(room, kReadBytes));
    if (!n) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      warn(n.error().message);
      return handled;
    }
    if (*n == 0) return handled;
    long len = static_cast<long>(*n);
    auto* m = reinterpret_cast<const fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
      if (m->vers != FANOTIFY_METADATA_VERSION) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        warn("fanotify record of an unknown version");
        return handled;
      }
      handle(group, *m);
      ++handled;
    }
  }
  return handled;
}

void PermissionLoop::handle(const std::shared_ptr<Group>& group, const fanotify_event_metadata& m) {
  if (m.fd == FAN_NOFD) {  // queue overflow: notifications only, permission events never
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.seen.fetch_add(1, std::memory_order_relaxed);
  if ((m.mask & kPermEvents) == 0) {
    opts_.fanotify->close(m.fd);
    return;
  }
  auto job = std::make_shared<Job>(group, m, &counters_);
  job->timestamp_ns = clock::realtime_ns();
  job->deadline_ns =
      clock::monotonic_ns() + static_cast<int64_t>(group->settings.decision_deadline_ms) * kMsNs;
  bool to_worker = false;
  try {
    to_worker = handler_.on_event(job);
  } catch (const std::exception& e) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    warn(std::string("decision failed: ") + e.what());
    if (job->answer_default()) handler_.report_default(*job, "decision failed");
  }
  if (!to_worker || job->answered()) return;
  pending_.push_back(job);
  {
    std::lock_guard lock(qmu_);
    queue_.push_back(std::move(job));
  }
  qcv_.notify_one();
}

void PermissionLoop::expire(int64_t now_ns) {
  for (const auto& job : pending_) {
    if (job->deadline_ns > now_ns || !job->answer_default()) continue;
    handler_.report_default(
        *job,
        "no decision within " + std::to_string(job->group().settings.decision_deadline_ms) + " ms");
  }
}

void PermissionLoop::begin_inline(const std::shared_ptr<Job>& job) {
  std::lock_guard lock(inline_mu_);
  inline_job_ = job;
  if (watchdog_idle_) {
    watchdog_idle_ = false;
    inline_cv_.notify_one();
  }
}

void PermissionLoop::end_inline() {
  std::lock_guard lock(inline_mu_);
  inline_job_.reset();
}

void PermissionLoop::watchdog_loop() {
  std::unique_lock lock(inline_mu_);
  while (!watchdog_stop_) {
    if (!inline_job_) {
      watchdog_idle_ = true;
      inline_cv_.wait(lock, [&] { return watchdog_stop_ || !watchdog_idle_; });
      continue;
    }
    const std::shared_ptr<Job> job = inline_job_;
    const bool stopping = stop_deadline_ns_ < job->deadline_ns;
    const int64_t left = std::min(job->deadline_ns, stop_deadline_ns_) - clock::monotonic_ns();
    if (left > 0) {
      inline_cv_.wait_for(lock, std::chrono::nanoseconds(left));
      continue;
    }
    lock.unlock();
    if (job->answer_default()) {
      handler_.report_default(
          *job, stopping ? std::string("agent stopping")
                         : "no decision within " +
                               std::to_string(job->group().settings.decision_deadline_ms) + " ms");
    }
    lock.lock();
    // Answered: look again once the reader has moved on (or a little later).
    inline_cv_.wait_for(lock, std::chrono::milliseconds(1),
                        [&] { return watchdog_stop_ || inline_job_ != job; });
  }
}

std::shared_ptr<Job> PermissionLoop::pop() {
  std::unique_lock lock(qmu_);
  qcv_.wait(lock, [&] { return workers_stop_ || !queue_.empty(); });
  if (queue_.empty()) return nullptr;
  auto job = std::move(queue_.front());
  queue_.pop_front();
  return job;
}

void PermissionLoop::worker_loop() {
  while (auto job = pop()) {
    std::string failure;
    try {
      if (!job->answered()) handler_.decide(*job);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (!failure.empty()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      warn("decision failed: " + failure);
      if (job->answer_default()) handler_.report_default(*job, "decision failed");
    }
    wake_if_starved();
  }
}

void PermissionLoop::wake_if_starved() {
  if (!starved_.exchange(false)) return;
  wake_reader();
}

void PermissionLoop::warn(std::string_view what) {
  uint64_t suppressed = 0;
  if (!error_log_.allow(&suppressed)) return;
  log().warn("{}: {}{}", opts_.name, what,
             suppressed > 0 ? fmt::format(" [{} more since the last warning]", suppressed)
                            : std::string());
}

}  // namespace ringside::fanotify_perm
