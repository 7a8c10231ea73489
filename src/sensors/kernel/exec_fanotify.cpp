// ExecFanotifySensor: FAN_OPEN_EXEC_PERM events decided by the policy before the image runs.
//
//   reader thread:  (fanotify_permission.hpp) own pid and own files are allowed at once; every
//                   other exec goes to a worker
//   worker threads: hash the file through the event fd -> ctx.decide -> answer -> emit (deny,
//                   alert) or cache (ignore mark on the inode)
//
// Decisions still run on the sensor's own threads (docs/proposals, "decisions on sensor
// threads"), but not on the reading one: the reader must stay free to answer at the deadline
// when a decision blocks (hashing a large file, reading /proc of a process stuck in a page
// fault). The hop costs one wake-up per decided exec; a cached file costs none.
//
// A policy change builds a new group with new marks (an empty cache) and retires the old one
// (PermissionLoop::install).
#include "sensors/kernel/exec_fanotify.hpp"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/hash_cache.hpp"
#include "agent/process_table.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "sensors/kernel/exec_fanotify_job.hpp"

namespace ringside {

using exec_fanotify::Group;
using fanotify_perm::Job;

namespace {

constexpr unsigned kInitFlags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK;
constexpr unsigned kEventFlags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
constexpr size_t kHashCacheEntries = 1024;

}  // namespace

struct ExecFanotifySensor::Impl final : fanotify_perm::Handler {
  explicit Impl(Options o)
      : opts(normalized(std::move(o))),
        loop({"exec_fanotify", opts.fanotify, opts.workers, 0}, *this, counters) {}

  static Options normalized(Options o) {
    if (!o.fanotify) o.fanotify = system_fanotify();
    if (!o.resolve_dir) o.resolve_dir = system_dir_resolver();
    return o;
  }

  Result<std::shared_ptr<Group>> build_group(const policy::Policy& policy);
  // fanotify_perm::Handler
  bool on_event(const std::shared_ptr<Job>& job) override;
  void decide(Job& job) override;
  void report_default(const Job& job, std::string_view why) override;

  void cache(Job& job, const policy::Policy& policy, const Event& ev, const struct stat& before);
  static const Group& group_of(const Job& job) { return static_cast<const Group&>(job.group()); }

  Options opts;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  HashCache hashes{kHashCacheEntries, policy::Settings{}.hash_max_bytes};
  const pid_t self = getpid();
  fanotify_perm::RateLimit default_log;
  fanotify_perm::PermissionLoop loop;
};

Result<std::shared_ptr<Group>> ExecFanotifySensor::Impl::build_group(const policy::Policy& policy) {
  ExecMarkPlan plan =
      plan_exec_marks(policy, read_mountinfo(opts.mountinfo_path), opts.resolve_dir);
  for (const auto& note : plan.notes) log().info("exec_fanotify: {}", note);
  if (plan.marks.empty()) {
    log().info("exec_fanotify: no exec deny rule for fanotify; nothing marked");
    return std::shared_ptr<Group>();
  }
  auto fd = opts.fanotify->init(kInitFlags, kEventFlags);
  if (!fd) return std::move(fd).error();
  auto group = std::make_shared<Group>(opts.fanotify, *fd, FAN_OPEN_EXEC_PERM);
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
    if (ctx->is_agent_file(fanotify_perm::fd_path(exe))) {
      auto r = group->ignore(exe);
      if (!r) log().warn("exec_fanotify: cannot exempt the agent binary: {}", r.error().message);
    }
    close(exe);
  }
  group->plan = std::move(plan);
  return group;
}

bool ExecFanotifySensor::Impl::on_event(const std::shared_ptr<Job>& job) {
  // The agent never waits on itself nor on its own files.
  if (job->pid == self || (job->mask & FAN_OPEN_EXEC_PERM) == 0) {
    job->answer(true);
    return false;
  }
  job->path = fanotify_perm::fd_path(job->fd());
  if (ctx->is_agent_file(job->path)) {
    job->answer(true);
    if (auto r = job->group().ignore(job->fd()); !r) loop.warn(r.error().message);
    return false;
  }
  return true;
}

void ExecFanotifySensor::Impl::decide(Job& job) {
  if (job.answered()) return;
  Event ev(EventType::kProcessExec, job.timestamp_ns);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(job.pid));
  ev.set(Field::kProcessExecutable, job.path);
  // The process table learns forks and execs from the event stream, which can lag behind an
  // exec waiting here: the parent (and its image, for process.parent.* rules) is read from
  // /proc, where it is current, instead of a table entry that may still be the fork's copy.
  if (auto opener = read_proc_process(job.pid, "/proc", false); opener && opener->ppid > 0) {
    ev.set(Field::kProcessParentPid, static_cast<int64_t>(opener->ppid));
    ev.set(Field::kUserId, static_cast<int64_t>(opener->uid));
    if (auto parent = read_proc_process(opener->ppid, "/proc", false);
        parent && !parent->executable.empty()) {
      ev.set(Field::kProcessParentExecutable, parent->executable);
    }
  }
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
  const Group& g = group_of(job);
  const bool cacheable = !d.deferred && have_stat && policy_before.get() == g.policy &&
                         ctx->policy().get() == g.policy &&
                         (!g.plan.needs_hash || ev.has(Field::kProcessHashSha256));
  if (cacheable && !job.answered()) cache(job, *policy_before, ev, before);
  job.answer(true);
}

void ExecFanotifySensor::Impl::cache(Job& job, const policy::Policy& policy, const Event& ev,
                                     const struct stat& before) {
  const Group& g = group_of(job);
  if (job.path.ends_with(" (deleted)")) return;
  if (!allow_survives_renaming(g.plan, policy, ev, fanotify_perm::device_string(before.st_dev)))
    return;
  if (auto r = g.ignore(job.fd()); !r) {
    loop.warn(r.error().message);
    return;
  }
  // Changed between the decision and the mark: the kernel cleared nothing (there was no mark
  // yet), so take it back and decide the new content next time.
  struct stat after {};
  if (fstat(job.fd(), &after) != 0 || !fanotify_perm::same_version(before, after)) {
    if (auto r = g.unignore(job.fd()); !r) loop.warn(r.error().message);
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
  fanotify_perm::set_default_verdict(ev, allow, why);
  ctx->emit(std::move(ev));
}

ExecFanotifySensor::ExecFanotifySensor() : ExecFanotifySensor(Options{}) {}
ExecFanotifySensor::ExecFanotifySensor(Options options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
ExecFanotifySensor::~ExecFanotifySensor() { stop(); }

Result<void> ExecFanotifySensor::start(SensorContext& ctx) {
  if (impl_->loop.started()) return ok();
  impl_->ctx = &ctx;
  return impl_->loop.start();
}

Result<void> ExecFanotifySensor::apply_policy(const policy::Policy& policy) {
  if (impl_->ctx == nullptr) return Error{"exec_fanotify: apply_policy before start"};
  auto group = impl_->build_group(policy);
  if (!group) return std::move(group).error();
  impl_->hashes.set_max_bytes(policy.settings().hash_max_bytes);
  impl_->loop.install(std::move(group).value());
  return ok();
}

void ExecFanotifySensor::stop() { impl_->loop.stop(); }

SensorStats ExecFanotifySensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
