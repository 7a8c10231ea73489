// ExecFanotifySensor: FAN_OPEN_EXEC_PERM events decided by the policy before the image runs.
//
//   reader thread:  poll(group, wake) -> read records -> Job (owns the event fd and a
//                   PendingVerdict) -> decision queue; answers the fail-mode default for every
//                   job still open at its deadline
//   worker threads: hash the file through the event fd -> ctx.decide -> answer -> emit (deny,
//                   alert) or cache (ignore mark on the inode)
//
// Decisions still run on the sensor's own threads (docs/proposals, "decisions on sensor
// threads"), but not on the reading one: the reader must stay free to answer at the deadline
// when a decision blocks (hashing a large file, reading /proc of a process stuck in a page
// fault). The hop costs one wake-up per decided exec; a cached file costs none.
//
// A job is answered exactly once whoever gets there first (worker, deadline, stop); the
// PendingVerdict answers the default if a path forgets. A policy change builds a new group
// with new marks (an empty cache) and retires the old one: its marks are flushed, the events
// already queued on it are read and decided, and it is closed once its last job is answered.
#include "sensors/kernel/exec_fanotify.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/hash_cache.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "sensors/kernel/exec_fanotify_job.hpp"

namespace ringside {

using exec_fanotify::Group;
using exec_fanotify::Job;

namespace {

constexpr unsigned kInitFlags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK;
constexpr unsigned kEventFlags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
constexpr uint64_t kPermEvents = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;
constexpr size_t kHashCacheEntries = 1024;
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

// One warning per interval, saying how many were left out in between.
class RateLimit {
 public:
  // True when the caller may log now; `suppressed` is how many were skipped since.
  bool allow(uint64_t* suppressed) {
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

 private:
  std::mutex mu_;
  int64_t next_ns_ = 0;
  uint64_t skipped_ = 0;
};

std::string device_string(dev_t dev) {
  return std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
}

std::string fd_path(int fd) {
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

struct ExecFanotifySensor::Impl {
  explicit Impl(Options o) : opts(std::move(o)) {
    if (!opts.fanotify) opts.fanotify = system_fanotify();
    if (!opts.resolve_dir) opts.resolve_dir = system_dir_resolver();
    opts.workers = std::max(1, opts.workers);
  }

  Result<std::shared_ptr<Group>> build_group(const policy::Policy& policy);
  void install(std::shared_ptr<Group> group);
  void start_threads();
  void stop_threads();

  // reader thread
  void reader_loop();
  void adopt_next(char* buf);
  void retire(const std::shared_ptr<Group>& group, char* buf);
  void read_events(const std::shared_ptr<Group>& group, char* buf);
  void handle(const std::shared_ptr<Group>& group, const fanotify_event_metadata& m);
  void expire(int64_t now_ns);
  // worker threads
  void worker_loop();
  void wake_if_starved();
  std::shared_ptr<Job> pop();
  void decide(Job& job);
  void cache(Job& job, const policy::Policy& policy, const Event& ev, const struct stat& before);
  void report_default(const Job& job, std::string_view why);
  void warn_error(std::string_view what);

  Options opts;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  HashCache hashes{kHashCacheEntries, policy::Settings{}.hash_max_bytes};
  const pid_t self = getpid();
  int wake_fd = -1;
  RateLimit default_log, error_log;

  // apply_policy -> reader hand-over
  std::mutex mu;
  std::condition_variable adopted_cv;
  std::shared_ptr<Group> next;
  uint64_t requested = 0, adopted = 0;
  bool running = false;
  std::atomic<bool> stopping{false};
  std::atomic<bool> starved{false};  // the reader waits for room below kMaxPending

  // reader only
  std::shared_ptr<Group> current;
  std::vector<std::shared_ptr<Job>> pending;

  // decision queue
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<std::shared_ptr<Job>> queue;
  bool workers_stop = false;

  std::thread reader;
  std::vector<std::thread> workers;
};

Result<std::shared_ptr<Group>> ExecFanotifySensor::Impl::build_group(const policy::Policy& policy) {
  std::ifstream in(opts.mountinfo_path);
  std::stringstream text;
  text << in.rdbuf();
  ExecMarkPlan plan = plan_exec_marks(policy, parse_mountinfo(text.str()), opts.resolve_dir);
  for (const auto& note : plan.notes) log().info("exec_fanotify: {}", note);
  if (plan.marks.empty()) {
    log().info("exec_fanotify: no exec deny rule for fanotify; nothing marked");
    return std::shared_ptr<Group>();
  }
  auto fd = opts.fanotify->init(kInitFlags, kEventFlags);
  if (!fd) return std::move(fd).error();
  auto group = std::make_shared<Group>(opts.fanotify, *fd);
  group->policy = &policy;
  group->settings = policy.settings();
  for (const ExecMark& m : plan.marks) {
    const bool fs = m.kind == ExecMarkKind::kFilesystem;
    auto r = opts.fanotify->mark(group->fd, FAN_MARK_ADD | (fs ? FAN_MARK_FILESYSTEM : 0U),
                                 FAN_OPEN_EXEC_PERM | (fs ? 0U : FAN_EVENT_ON_CHILD), AT_FDCWD,
                                 m.path.c_str());
    if (!r) {
      if (m.required) {
        return Error{"rule '" + m.rule + "': " + r.error().message, r.error().code};
      }
      log().warn("exec_fanotify: {} (skipped; rule '{}' is not enforced there)", r.error().message,
                 m.rule);
      continue;
    }
    log().info("exec_fanotify: marked {} {} (rule '{}')", fs ? "filesystem of" : "directory",
               m.path, m.rule);
  }
  // The agent never waits on its own binary.
  const int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (exe >= 0) {
    if (ctx->is_agent_file(fd_path(exe))) {
      auto r = group->ignore(exe);
      if (!r) log().warn("exec_fanotify: cannot exempt the agent binary: {}", r.error().message);
    }
    close(exe);
  }
  group->plan = std::move(plan);
  return group;
}

void ExecFanotifySensor::Impl::install(std::shared_ptr<Group> group) {
  std::unique_lock lock(mu);
  if (!running) return;  // stopped: the group is closed here and its marks go with it
  next = std::move(group);
  const uint64_t ticket = ++requested;
  const uint64_t one = 1;
  if (write(wake_fd, &one, sizeof one) < 0) warn_error("wake the exec_fanotify reader");
  // The caller switches its policy next: the new marks must be in service by then.
  if (!adopted_cv.wait_for(lock, kAdoptTimeout, [&] { return adopted >= ticket; })) {
    log().warn("exec_fanotify: reader slow to adopt the new marks");
  }
}

void ExecFanotifySensor::Impl::start_threads() {
  {
    std::lock_guard lock(mu);
    running = true;
  }
  {
    std::lock_guard lock(qmu);
    workers_stop = false;
  }
  reader = std::thread([this] { reader_loop(); });
  for (int i = 0; i < opts.workers; ++i) workers.emplace_back([this] { worker_loop(); });
}

void ExecFanotifySensor::Impl::stop_threads() {
  stopping.store(true);
  const uint64_t one = 1;
  if (write(wake_fd, &one, sizeof one) < 0) warn_error("wake the exec_fanotify reader");
  if (reader.joinable()) reader.join();
  {
    std::lock_guard lock(qmu);
    workers_stop = true;
  }
  qcv.notify_all();
  for (auto& w : workers) w.join();
  workers.clear();
  std::lock_guard lock(mu);
  running = false;
  next.reset();
  adopted = requested;
  adopted_cv.notify_all();
}

void ExecFanotifySensor::Impl::adopt_next(char* buf) {
  std::shared_ptr<Group> group;
  {
    std::lock_guard lock(mu);
    if (adopted == requested) return;
    group = std::move(next);
    adopted = requested;
  }
  std::shared_ptr<Group> old = std::exchange(current, std::move(group));
  if (old) retire(old, buf);
  adopted_cv.notify_all();
}

// Flushes the group's marks and takes in what is queued; the jobs keep it open until answered.
void ExecFanotifySensor::Impl::retire(const std::shared_ptr<Group>& group, char* buf) {
  group->flush();
  read_events(group, buf);
}

void ExecFanotifySensor::Impl::reader_loop() {
  alignas(fanotify_event_metadata) char buf[kReadBytes];
  bool draining = false;
  while (true) {
    adopt_next(buf);
    std::erase_if(pending, [](const auto& j) { return j->answered(); });
    if (stopping.load() && !draining) {
      draining = true;
      if (current) retire(std::exchange(current, nullptr), buf);  // released right here
      const int64_t limit = clock::monotonic_ns() + kStopGraceNs;
      for (auto& j : pending) j->deadline_ns = std::min(j->deadline_ns, limit);
    }
    if (draining && pending.empty()) break;

    int timeout_ms = -1;
    if (!pending.empty()) {
      int64_t earliest = INT64_MAX;
      for (const auto& j : pending) earliest = std::min(earliest, j->deadline_ns);
      const int64_t left = earliest - clock::monotonic_ns();
      timeout_ms = left <= 0 ? 0 : static_cast<int>((left + kMsNs - 1) / kMsNs);
    }
    const bool take_more = current && pending.size() < kMaxPending;
    starved.store(current && !take_more);
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {take_more ? current->fd : -1, POLLIN, 0}};
    const int n = poll(fds, take_more ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) warn_error("poll");
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t v = 0;
      if (read(wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) warn_error("read wake-up");
    }
    if (n > 0 && take_more && (fds[1].revents & (POLLIN | POLLERR)) != 0) {
      read_events(current, buf);
    }
    expire(clock::monotonic_ns());
  }
}

void ExecFanotifySensor::Impl::read_events(const std::shared_ptr<Group>& group, char* buf) {
  for (int round = 0; round < kReadRounds && pending.size() < kMaxPending; ++round) {
    // Every record read comes with a new descriptor: read no more than may be pending.
    const size_t room = (kMaxPending - pending.size()) * sizeof(fanotify_event_metadata);
    auto n = opts.fanotify->read(group->fd, buf, std::min(room, kReadBytes));
    if (!n) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      warn_error(n.error().message);
      return;
    }
    if (*n == 0) return;
    long len = static_cast<long>(*n);
    auto* m = reinterpret_cast<const fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
      if (m->vers != FANOTIFY_METADATA_VERSION) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        warn_error("fanotify record of an unknown version");
        return;
      }
      handle(group, *m);
    }
  }
}

void ExecFanotifySensor::Impl::handle(const std::shared_ptr<Group>& group,
                                      const fanotify_event_metadata& m) {
  if (m.fd == FAN_NOFD) {  // queue overflow: notifications only, permission events never
    counters.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  if ((m.mask & kPermEvents) == 0) {
    opts.fanotify->close(m.fd);
    return;
  }
  auto job = std::make_shared<Job>(group, m.fd, m.pid, &counters);
  job->timestamp_ns = clock::realtime_ns();
  job->deadline_ns =
      clock::monotonic_ns() + static_cast<int64_t>(group->settings.decision_deadline_ms) * kMsNs;
  // The agent never waits on itself nor on its own files.
  if (m.pid == self || (m.mask & FAN_OPEN_EXEC_PERM) == 0) {
    job->answer(true);
    return;
  }
  job->path = fd_path(m.fd);
  if (ctx->is_agent_file(job->path)) {
    job->answer(true);
    if (auto r = group->ignore(m.fd); !r) warn_error(r.error().message);
    return;
  }
  pending.push_back(job);
  {
    std::lock_guard lock(qmu);
    queue.push_back(std::move(job));
  }
  qcv.notify_one();
}

void ExecFanotifySensor::Impl::expire(int64_t now_ns) {
  for (const auto& job : pending) {
    if (job->deadline_ns > now_ns || !job->answer_default()) continue;
    report_default(*job, "no decision within " +
                             std::to_string(job->group().settings.decision_deadline_ms) + " ms");
  }
}

std::shared_ptr<Job> ExecFanotifySensor::Impl::pop() {
  std::unique_lock lock(qmu);
  qcv.wait(lock, [&] { return workers_stop || !queue.empty(); });
  if (queue.empty()) return nullptr;
  auto job = std::move(queue.front());
  queue.pop_front();
  return job;
}

void ExecFanotifySensor::Impl::worker_loop() {
  while (auto job = pop()) {
    std::string failure;
    try {
      decide(*job);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (!failure.empty()) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      warn_error("decision failed: " + failure);
      if (job->answer_default()) report_default(*job, "decision failed");
    }
    wake_if_starved();
  }
}

void ExecFanotifySensor::Impl::wake_if_starved() {
  if (!starved.exchange(false)) return;
  const uint64_t one = 1;
  if (write(wake_fd, &one, sizeof one) < 0) warn_error("wake the exec_fanotify reader");
}

void ExecFanotifySensor::Impl::decide(Job& job) {
  if (job.answered()) return;
  Event ev(EventType::kProcessExec, job.timestamp_ns);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(job.pid));
  ev.set(Field::kProcessExecutable, job.path);
  struct stat before {};
  const bool have_stat = fstat(job.fd(), &before) == 0;
  // Read through the event's own descriptor: the very file being executed, and no event.
  if (auto h = hashes.sha256_of_fd(job.fd())) ev.set(Field::kProcessHashSha256, *h);
  if (job.answered()) return;  // the deadline passed while hashing
  const auto policy_before = ctx->policy();
  const policy::Decision d = ctx->decide(ev);
  if (d.verdict == Verdict::kDeny) {
    if (!job.answer(false)) return;  // the deadline won; the reader reported it
    counters.denied.fetch_add(1, std::memory_order_relaxed);
    ev.set(Field::kEventOutcome, "failure");
    ev.set(Field::kRingsideEnforcement, "blocked");
    ctx->emit(std::move(ev));
    return;
  }
  if (d.verdict == Verdict::kAlert) {
    if (!job.answer(true)) return;
    ev.set(Field::kEventOutcome, "success");
    ev.set(Field::kRingsideEnforcement, "none");
    ctx->emit(std::move(ev));
    return;
  }
  // Cache only what this group's policy decided for certain on the file alone; the mark goes
  // in before the answer, so that the very next exec of the file is already spared.
  const Group& g = job.group();
  const bool cacheable = !d.deferred && have_stat && policy_before.get() == g.policy &&
                         ctx->policy().get() == g.policy &&
                         (!g.plan.needs_hash || ev.has(Field::kProcessHashSha256));
  if (cacheable && !job.answered()) cache(job, *policy_before, ev, before);
  job.answer(true);
}

void ExecFanotifySensor::Impl::cache(Job& job, const policy::Policy& policy, const Event& ev,
                                     const struct stat& before) {
  const Group& g = job.group();
  if (job.path.ends_with(" (deleted)")) return;
  if (!allow_survives_renaming(g.plan, policy, ev, device_string(before.st_dev))) return;
  if (auto r = g.ignore(job.fd()); !r) {
    warn_error(r.error().message);
    return;
  }
  // Changed between the decision and the mark: the kernel cleared nothing (there was no mark
  // yet), so take it back and decide the new content next time.
  struct stat after {};
  if (fstat(job.fd(), &after) != 0 || !same_version(before, after)) {
    if (auto r = g.unignore(job.fd()); !r) warn_error(r.error().message);
  }
}

void ExecFanotifySensor::Impl::report_default(const Job& job, std::string_view why) {
  const bool allow = job.default_allow();
  uint64_t suppressed = 0;
  if (default_log.allow(&suppressed)) {
    log().warn("exec_fanotify: exec of {} by pid {}: {}; answered the fail-{} default ({}){}",
               job.path, job.pid, why, allow ? "open" : "closed", allow ? "allow" : "deny",
               suppressed > 0 ? fmt::format(" [{} more since the last warning]", suppressed)
                              : std::string());
  }
  Event ev(EventType::kProcessExec, job.timestamp_ns);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(job.pid));
  ev.set(Field::kProcessExecutable, job.path);
  ev.set_verdict(allow ? Verdict::kAllow : Verdict::kDeny, "");
  ev.set(Field::kEventOutcome, allow ? "success" : "failure");
  ev.set(Field::kRingsideEnforcement, "default");
  ev.set(Field::kRingsideMessage,
         std::string(why) + "; fail-" + (allow ? "open" : "closed") + " default applied");
  ctx->emit(std::move(ev));
}

void ExecFanotifySensor::Impl::warn_error(std::string_view what) {
  uint64_t suppressed = 0;
  if (!error_log.allow(&suppressed)) return;
  log().warn("exec_fanotify: {}{}", what,
             suppressed > 0 ? fmt::format(" [{} more since the last warning]", suppressed)
                            : std::string());
}

ExecFanotifySensor::ExecFanotifySensor() : ExecFanotifySensor(Options{}) {}
ExecFanotifySensor::ExecFanotifySensor(Options options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
ExecFanotifySensor::~ExecFanotifySensor() { stop(); }

Result<void> ExecFanotifySensor::start(SensorContext& ctx) {
  if (impl_->reader.joinable()) return ok();
  impl_->ctx = &ctx;
  impl_->stopping.store(false);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) return errno_error("eventfd");
  impl_->start_threads();
  return ok();
}

Result<void> ExecFanotifySensor::apply_policy(const policy::Policy& policy) {
  if (impl_->ctx == nullptr) return Error{"exec_fanotify: apply_policy before start"};
  auto group = impl_->build_group(policy);
  if (!group) return std::move(group).error();
  impl_->hashes.set_max_bytes(policy.settings().hash_max_bytes);
  impl_->install(std::move(group).value());
  return ok();
}

void ExecFanotifySensor::stop() {
  if (!impl_->reader.joinable()) return;
  impl_->stop_threads();
  close(impl_->wake_fd);
  impl_->wake_fd = -1;
}

SensorStats ExecFanotifySensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
