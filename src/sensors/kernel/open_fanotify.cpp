// OpenFanotifySensor: FAN_OPEN_PERM (and FAN_ACCESS_PERM) events decided by the policy while
// the opener waits.
//
//   reader thread:  (fanotify_permission.hpp) own pid and own files are allowed at once; a
//                   decision that cannot depend on a hash (no rule reads one, or every rule
//                   that does is excluded by the path already), or whose hash is cheap (cached
//                   for this version of the file, or a file of at most 16 KiB) is made right
//                   there: the path, the process table, the policy, the answer. Only the first
//                   (uncached) open of a file pays for it, and a hop to another thread would
//                   cost a wake-up.
//   worker threads: the rest: hash the file through the event fd -> decide -> answer
//
// After the answer: a deny is reported (file.open, ringside.enforcement "blocked", the flags the
// opener passed), an alert too; an allow is silent (the eBPF sensor reports opens) and cached
// with an ignore mark on the inode when the decision depends on the file alone and holds under
// any name the file could get (open_allow_survives_renaming). The kernel drops the ignore mark
// when the file is modified; a new policy builds a new group, with an empty cache.
//
// The reader never opens a file that could be marked: it reads /proc (never marked) and
// readlinks the event descriptor; a rule that would make the evaluator hash some other path
// sends the decision to a worker, whose own opens the reader allows at once (own pid).
#include "sensors/kernel/open_fanotify.hpp"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "agent/hash_cache.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "sensors/kernel/fanotify_permission.hpp"
#include "sensors/kernel/file_records.hpp"
#include "sensors/kernel/open_mark_plan.hpp"
#include "sensors/kernel/opener_call.hpp"

namespace ringside {

using fanotify_perm::Job;

namespace {

constexpr unsigned kInitFlags = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK;
constexpr unsigned kEventFlags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
constexpr size_t kHashCacheEntries = 1024;
constexpr off_t kInlineHashBytes = 16 * 1024;  // about 10 us of SHA-256 on the reader

struct OpenGroup final : fanotify_perm::Group {
  using fanotify_perm::Group::Group;
  OpenMarkPlan plan;
};

std::string read_link(const char* path) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

struct OpenFanotifySensor::Impl final : fanotify_perm::Handler {
  explicit Impl(Options o)
      : opts(normalized(std::move(o))),
        loop({"open_fanotify", opts.fanotify, opts.workers,
              static_cast<int64_t>(opts.spin_us) * 1000},
             *this, counters) {}

  static Options normalized(Options o) {
    if (!o.fanotify) o.fanotify = system_fanotify();
    if (!o.resolve_dir) o.resolve_dir = system_dir_resolver();
    return o;
  }

  Result<std::shared_ptr<OpenGroup>> build_group(const policy::Policy& policy);
  // fanotify_perm::Handler
  bool on_event(const std::shared_ptr<Job>& job) override;
  void decide(Job& job) override;
  void report_default(const Job& job, std::string_view why) override;

  Event base_event(const Job& job) const;
  void fill_process(Event& ev, int32_t pid);
  void fill_opener(Event& ev, const Job& job);
  void finish(Job& job, Event& ev, const struct stat* before, bool hashed);
  void cache(Job& job, const policy::Policy& policy, const Event& ev, const struct stat& before);
  static const OpenGroup& group_of(const Job& job) {
    return static_cast<const OpenGroup&>(job.group());
  }

  Options opts;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  HashCache hashes{kHashCacheEntries, policy::Settings{}.hash_max_bytes};
  const pid_t self = getpid();
  fanotify_perm::RateLimit default_log;
  fanotify_perm::PermissionLoop loop;
};

Result<std::shared_ptr<OpenGroup>> OpenFanotifySensor::Impl::build_group(
    const policy::Policy& policy) {
  OpenMarkPlan plan =
      plan_open_marks(policy, read_mountinfo(opts.mountinfo_path), opts.resolve_dir);
  for (const auto& note : plan.notes) log().info("open_fanotify: {}", note);
  if (plan.marks.empty()) {
    log().info("open_fanotify: no file.open deny rule for fanotify; nothing marked");
    return std::shared_ptr<OpenGroup>();
  }
  auto fd = opts.fanotify->init(kInitFlags, kEventFlags);
  if (!fd) return std::move(fd).error();
  auto group = std::make_shared<OpenGroup>(opts.fanotify, *fd, plan.mask);
  group->policy = &policy;
  group->settings = policy.settings();
  for (const FanMark& m : plan.marks) {
    const bool fs = m.kind == FanMarkKind::kFilesystem;
    auto r =
        opts.fanotify->mark(group->fd, FAN_MARK_ADD | (fs ? FAN_MARK_FILESYSTEM : 0U),
                            plan.mask | (fs ? 0U : FAN_EVENT_ON_CHILD), AT_FDCWD, m.path.c_str());
    if (!r) {
      if (m.required) {
        return Error{"rule '" + m.rule + "': " + r.error().message, r.error().code};
      }
      log().warn("open_fanotify: {} (skipped; rule '{}' is not enforced there)", r.error().message,
                 m.rule);
      continue;
    }
    log().info("open_fanotify: marked {} {} for {} (rule '{}')", fs ? "filesystem of" : "directory",
               m.path, (plan.mask & FAN_ACCESS_PERM) != 0 ? "open and read" : "open", m.rule);
  }
  // The agent never waits on its own files: exempt them by name (no open, no event).
  for (const std::string& f : ctx->agent_files()) {
    struct stat st {};
    if (stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (auto r = group->ignore_path(f); !r) {
      log().warn("open_fanotify: cannot exempt {}: {}", f, r.error().message);
    }
  }
  group->plan = std::move(plan);
  return group;
}

Event OpenFanotifySensor::Impl::base_event(const Job& job) const {
  Event ev(EventType::kFileOpen, job.timestamp_ns);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(job.pid));
  ev.set(Field::kFilePath, job.path);
  return ev;
}

bool OpenFanotifySensor::Impl::on_event(const std::shared_ptr<Job>& job) {
  // The agent never waits on itself.
  if (job->pid == self || (job->mask & (FAN_OPEN_PERM | FAN_ACCESS_PERM)) == 0) {
    job->answer(true);
    return false;
  }
  job->path = fanotify_perm::fd_path(job->fd());
  if (ctx->is_agent_file(job->path)) {
    job->answer(true);
    if (auto r = job->group().ignore(job->fd()); !r) loop.warn(r.error().message);
    return false;
  }
  const OpenGroup& g = group_of(*job);
  Event ev = base_event(*job);
  struct stat before {};
  const fanotify_perm::PermissionLoop::Watched watched(loop, job);
  if (!hash_could_matter(g.plan, ev)) {
    const bool have_stat = g.plan.cacheable && fstat(job->fd(), &before) == 0;
    finish(*job, ev, have_stat ? &before : nullptr, /*hashed=*/false);
    return false;
  }
  // A hash the cache has for this very version of the file, or of a small file read through
  // the event's descriptor (which raises no event), costs the reader less than a hop to a
  // worker; anything else is hashed there. The executable's hash may need its file opened.
  if (g.plan.reads_process_hash || fstat(job->fd(), &before) != 0) return true;
  auto hash = hashes.lookup(FileIdentity::of(before));
  if (!hash && S_ISREG(before.st_mode) && before.st_size <= kInlineHashBytes) {
    hash = hashes.sha256_of_fd(job->fd());
  }
  if (!hash) return true;
  ev.set(Field::kFileInode, static_cast<int64_t>(before.st_ino));
  ev.set(Field::kFileHashSha256, *hash);
  finish(*job, ev, &before, /*hashed=*/true);
  return false;
}

void OpenFanotifySensor::Impl::decide(Job& job) {
  Event ev = base_event(job);
  struct stat before {};
  const bool have_stat = fstat(job.fd(), &before) == 0;
  if (have_stat) ev.set(Field::kFileInode, static_cast<int64_t>(before.st_ino));
  // Read through the event's own descriptor: the very file being opened, and no event.
  if (auto h = hashes.sha256_of_fd(job.fd())) ev.set(Field::kFileHashSha256, *h);
  if (job.answered()) return;  // the deadline passed while hashing
  const OpenGroup& g = group_of(job);
  if (g.plan.reads_process_hash) {
    const std::string exe_link = "/proc/" + std::to_string(job.pid) + "/exe";
    const std::string exe = read_link(exe_link.c_str());
    struct stat st {};
    if (!exe.empty() && stat(exe_link.c_str(), &st) == 0) {
      if (auto h = ctx->sha256_of(exe, FileIdentity::of(st))) {
        ev.set(Field::kProcessExecutable, exe);
        ev.set(Field::kProcessHashSha256, *h);
      }
    }
  }
  finish(job, ev, have_stat ? &before : nullptr, /*hashed=*/true);
}

// The acting process as it is now (it waits in open): its image, read fresh, since the process
// table is not told of execs when only the file domain runs.
void OpenFanotifySensor::Impl::fill_process(Event& ev, int32_t pid) {
  if (ev.has(Field::kProcessExecutable)) return;
  char link[32];
  std::snprintf(link, sizeof link, "/proc/%d/exe", pid);
  if (std::string exe = read_link(link); !exe.empty()) ev.set(Field::kProcessExecutable, exe);
}

// The flags and the path as typed: only while the opener still waits in its open call.
void OpenFanotifySensor::Impl::fill_opener(Event& ev, const Job& job) {
  if ((job.mask & FAN_OPEN_PERM) == 0 || ev.has(Field::kRingsideFileFlags)) return;
  auto call = read_opener_call(job.pid, job.path);
  if (!call) return;
  ev.set(Field::kRingsideFileFlags, {});
  for (std::string_view flag :
       file_records::open_flag_names(static_cast<uint32_t>(call->flags), nullptr)) {
    ev.append(Field::kRingsideFileFlags, flag);
  }
  ev.set(Field::kRingsideFileRequestedPath, call->requested_path);
}

void OpenFanotifySensor::Impl::finish(Job& job, Event& ev, const struct stat* before, bool hashed) {
  const OpenGroup& g = group_of(job);
  if (g.plan.reads_process) fill_process(ev, job.pid);
  if (g.plan.reads_flags) fill_opener(ev, job);
  // Without a hash, the hash rules are excluded by their path already (hash_could_matter):
  // empty hashes change no outcome and keep the evaluator from hashing the file itself.
  bool set_file_hash = false, set_process_hash = false;
  if (!hashed && g.plan.needs_hash) {
    set_file_hash = !ev.has(Field::kFileHashSha256);
    set_process_hash = !ev.has(Field::kProcessHashSha256);
    if (set_file_hash) ev.set(Field::kFileHashSha256, "");
    if (set_process_hash) ev.set(Field::kProcessHashSha256, "");
  }
  const auto policy_before = ctx->policy();
  const policy::Decision d = ctx->decide(ev);
  if (set_file_hash) ev.clear(Field::kFileHashSha256);
  if (set_process_hash) ev.clear(Field::kProcessHashSha256);

  if (d.verdict == Verdict::kDeny) {
    fill_opener(ev, job);
    if (!job.answer(false)) return;  // the deadline won; the reader reported it
    counters.denied.fetch_add(1, std::memory_order_relaxed);
    struct stat st {};
    if (!ev.has(Field::kFileInode) && fstat(job.fd(), &st) == 0) {
      ev.set(Field::kFileInode, static_cast<int64_t>(st.st_ino));
    }
    ev.set(Field::kEventOutcome, "failure");
    ev.set(Field::kRingsideEnforcement, "blocked");
    if ((job.mask & FAN_OPEN_PERM) == 0) {
      ev.set(Field::kRingsideMessage, "read through an open descriptor denied");
    }
    ctx->emit(std::move(ev));
    return;
  }
  if (!job.answer(true)) return;
  if (d.verdict == Verdict::kAlert) {
    ev.set(Field::kEventOutcome, "success");
    ev.set(Field::kRingsideEnforcement, "none");
    ctx->emit(std::move(ev));
    return;
  }
  // Cache only what this group's policy decided for certain on the file alone.
  const bool cacheable = before != nullptr && !d.deferred && policy_before.get() == g.policy &&
                         ctx->policy().get() == g.policy &&
                         (!g.plan.needs_hash || ev.has(Field::kFileHashSha256));
  if (cacheable) cache(job, *policy_before, ev, *before);
}

// The answer went out first (the opener does not wait for the mark); a change of the file
// between the decision and the mark is caught by comparing its version before and after.
void OpenFanotifySensor::Impl::cache(Job& job, const policy::Policy& policy, const Event& ev,
                                     const struct stat& before) {
  const OpenGroup& g = group_of(job);
  if (job.path.ends_with(" (deleted)")) return;
  if (!open_allow_survives_renaming(g.plan, policy, ev,
                                    fanotify_perm::device_string(before.st_dev))) {
    return;
  }
  if (auto r = g.ignore(job.fd()); !r) {
    loop.warn(r.error().message);
    return;
  }
  struct stat after {};
  if (fstat(job.fd(), &after) != 0 || !fanotify_perm::same_version(before, after)) {
    if (auto r = g.unignore(job.fd()); !r) loop.warn(r.error().message);
  }
}

void OpenFanotifySensor::Impl::report_default(const Job& job, std::string_view why) {
  const bool allow = job.default_allow();
  uint64_t suppressed = 0;
  if (default_log.allow(&suppressed)) {
    log().warn("open_fanotify: open of {} by pid {}: {}; answered the fail-{} default ({}){}",
               job.path, job.pid, why, allow ? "open" : "closed", allow ? "allow" : "deny",
               suppressed > 0 ? fmt::format(" [{} more since the last warning]", suppressed)
                              : std::string());
  }
  Event ev = base_event(job);
  fanotify_perm::set_default_verdict(ev, allow, why);
  ctx->emit(std::move(ev));
}

OpenFanotifySensor::OpenFanotifySensor() : OpenFanotifySensor(Options{}) {}
OpenFanotifySensor::OpenFanotifySensor(Options options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
OpenFanotifySensor::~OpenFanotifySensor() { stop(); }

Result<void> OpenFanotifySensor::start(SensorContext& ctx) {
  if (impl_->loop.started()) return ok();
  impl_->ctx = &ctx;
  return impl_->loop.start();
}

Result<void> OpenFanotifySensor::apply_policy(const policy::Policy& policy) {
  if (impl_->ctx == nullptr) return Error{"open_fanotify: apply_policy before start"};
  auto group = impl_->build_group(policy);
  if (!group) return std::move(group).error();
  impl_->hashes.set_max_bytes(policy.settings().hash_max_bytes);
  impl_->loop.install(std::move(group).value());
  return ok();
}

void OpenFanotifySensor::stop() { impl_->loop.stop(); }

SensorStats OpenFanotifySensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
