// FileFanotifySensor: create, delete, rename, modify and attribute changes under the scopes of
// `settings.file.watch`, from one fanotify notification group (FAN_REPORT_DFID_NAME with the
// object's FID, and FAN_REPORT_TARGET_FID where the kernel has it).
//
// Marks: `filesystem` scopes get FAN_MARK_FILESYSTEM on the scope's path; `directory` scopes an
// inode mark with FAN_EVENT_ON_CHILD (direct children); `mount` scopes the filesystem too, since
// the kernel reports no directory-entry events (create, delete, rename, attrib) on mount marks;
// in every case only paths under a scope's path are reported.
//
// Events: FAN_CREATE -> file.create (mkdir, link and symlink included; file.mode from lstat),
// FAN_DELETE -> file.delete, FAN_RENAME -> file.rename with both names in one record (where the
// kernel lacks it: FAN_MOVED_FROM/FAN_MOVED_TO paired by the object's handle), FAN_ATTRIB ->
// file.chmod (only when reported with a name: link-count changes come without one and are
// already reported as create/delete), FAN_MODIFY -> file.modify once per write session
// (fanotify_fid.hpp, ModifyCoalescer: a write() storm is one event, a log file kept open is seen
// again each interval), FAN_CLOSE_WRITE ends the session. The kernel merges events of one
// object while they are queued; a merged record is reported in the order create, modify,
// chmod, delete (delete first when the name exists again by the time it is read).
//
// Paths: the directory handle of each record is resolved to a path (fanotify_fid.hpp) from the
// cache or, on a miss, as the directory is named when the record is read (a directory renamed
// after the record was queued and never seen before is reported under its new name); a
// directory renamed where no mark sees it (an ancestor of a `directory` scope) keeps its cached
// path until the cache starts over, and a record whose directory is gone and was never cached
// is counted as an error, not reported.
//
// The acting process is the event's pid; the agent's enrichment adds its executable and user.
// The agent's own activity is dropped (its pid), and its output files carry ignore marks, so
// that writing an event can never produce one.
//
// Losses: the group's kernel queue is unlimited (FAN_UNLIMITED_QUEUE, memory charged to the
// agent's cgroup) and a thread of its own does nothing but read it into a bounded buffer
// (fanotify_buffer.hpp), where records that find no room are counted one by one
// (file_fanotify.buffer, exact). A FAN_Q_OVERFLOW (a kernel without the unlimited queue, or
// out of memory for the event) says only that some were lost: file_fanotify.queue, at least 1.
#include "sensors/kernel/file_fanotify.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/fanotify_buffer.hpp"
#include "sensors/kernel/fanotify_marks.hpp"
#include "sensors/kernel/fanotify_permission.hpp"
#include "sensors/kernel/file_records.hpp"

namespace ringside {

namespace {

constexpr unsigned kInitFlags =
    FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID;
constexpr unsigned kEventFlags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
constexpr uint64_t kMask =
    FAN_CREATE | FAN_DELETE | FAN_ATTRIB | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ONDIR;
constexpr uint64_t kOwnFileMask = FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB;
constexpr size_t kReadBytes = 64 * 1024;
constexpr size_t kDefaultBufferBytes = 16 << 20;
constexpr int kReadRounds = 64;
constexpr size_t kHandleCacheEntries = 8192;
constexpr size_t kModifySessions = 8192;
constexpr int64_t kMsNs = 1000 * 1000;
constexpr int64_t kLossReportNs = 1000 * kMsNs;
constexpr auto kAdoptTimeout = std::chrono::seconds(2);

struct Scope {
  std::string path;  // canonical
  policy::MarkKind mark;
  bool operator==(const Scope& o) const { return path == o.path && mark == o.mark; }
};

// One notification group with the marks of one set of scopes; closed with the last reference.
struct NotifyGroup {
  NotifyGroup(std::shared_ptr<Fanotify> api_, int fd_) : api(std::move(api_)), fd(fd_) {}
  ~NotifyGroup() {
    api->close(fd);
    for (const auto& [fsid, mfd] : mount_fds) close(mfd);
  }
  NotifyGroup(const NotifyGroup&) = delete;
  NotifyGroup& operator=(const NotifyGroup&) = delete;

  std::shared_ptr<Fanotify> api;
  int fd;
  std::vector<Scope> scopes;
  std::unordered_map<uint64_t, int> mount_fds;  // fsid -> descriptor of a scope directory
  bool fan_rename = true;
};

std::string join(const std::string& dir, const std::string& name) {
  if (name == "." || name.empty()) return dir;
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string handle_text(const FileHandleKey& k) {
  return std::to_string(k.fsid) + ":" + std::to_string(k.type) + ":" + k.bytes;
}

}  // namespace

struct FileFanotifySensor::Impl {
  explicit Impl(Options o)
      : opts(std::move(o)),
        buffer(opts.buffer_bytes == 0 ? kDefaultBufferBytes
                                      : std::max(opts.buffer_bytes, kReadBytes)) {
    if (!opts.fanotify) opts.fanotify = system_fanotify();
    if (!opts.resolver) opts.resolver = system_handle_resolver();
  }

  Result<std::shared_ptr<NotifyGroup>> build_group(const std::vector<Scope>& scopes);
  Result<void> mark_scope(NotifyGroup& g, const Scope& s);
  void install(std::shared_ptr<NotifyGroup> group);
  void drain_loop();
  void adopt_next();
  void drain(const std::shared_ptr<NotifyGroup>& g);
  std::unique_ptr<uint64_t[]> read_buf;  // kReadBytes, 8-aligned
  void reader_loop();
  void handle_records(NotifyGroup& g, const std::vector<char>& bytes);
  void handle(NotifyGroup& g, const FidEvent& e);
  void handle_rename(NotifyGroup& g, const FidEvent& e, bool own);
  void handle_move(NotifyGroup& g, const FidEvent& e, const std::string& path, bool own);
  std::optional<std::string> resolve(NotifyGroup& g, const FileHandleKey& key, bool cache);
  std::optional<std::string> entry_path(NotifyGroup& g, const DirEntryRef& ref);
  bool in_scope(const NotifyGroup& g, std::string_view path) const;
  void emit(const NotifyGroup& g, EventType type, int32_t pid, const std::string& path,
            const std::string& target = {}, std::string_view message = {});
  void expire_moves(const NotifyGroup& g, int64_t now_ns);
  void report_losses(bool now = false);
  void warn(std::string_view what);

  Options opts;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  const pid_t self = getpid();
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  fanotify_perm::RateLimit warn_log;

  // apply_policy -> reader hand-over
  std::mutex mu;
  std::condition_variable adopted_cv;
  std::shared_ptr<NotifyGroup> next;
  uint64_t requested = 0, adopted = 0;
  std::vector<Scope> scopes;  // what the newest group watches (apply_policy's view)
  bool has_group = false;

  // drainer only
  std::shared_ptr<NotifyGroup> current;
  // drainer -> reader
  FanotifyBuffer<NotifyGroup> buffer;
  std::atomic<uint64_t> buffer_dropped{0};

  // reader only
  std::shared_ptr<NotifyGroup> handled;  // the group of the last records handled
  HandlePathCache dirs{kHandleCacheEntries};
  RenamePairer moves;
  ModifyCoalescer modifies{1000 * kMsNs, kModifySessions};
  // FAN_Q_OVERFLOW says that events were lost, not how many: each overflow counts one.
  std::atomic<uint64_t> overflows{0};
  LossChannel queue_losses{Level::kKernel, "fanotify", "file_fanotify.queue",
                           LossAccuracy::kLowerBound};
  LossChannel buffer_losses{Level::kKernel, "fanotify", "file_fanotify.buffer",
                            LossAccuracy::kExact};
  int64_t last_loss_check = 0;

  std::thread drainer, reader;
};

Result<std::shared_ptr<NotifyGroup>> FileFanotifySensor::Impl::build_group(
    const std::vector<Scope>& want) {
  // Newest kernel first: FAN_REPORT_TARGET_FID (EINVAL before 5.17); the unlimited queue needs
  // CAP_SYS_ADMIN (EPERM without it: then the kernel's queue bounds, and overflows).
  unsigned flags = kInitFlags | FAN_UNLIMITED_QUEUE | FAN_REPORT_TARGET_FID;
  auto fd = opts.fanotify->init(flags, kEventFlags);
  if (!fd && fd.error().code == EPERM) {
    flags &= ~static_cast<unsigned>(FAN_UNLIMITED_QUEUE);
    fd = opts.fanotify->init(flags, kEventFlags);
  }
  if (!fd && fd.error().code == EINVAL) {
    fd = opts.fanotify->init(flags & ~static_cast<unsigned>(FAN_REPORT_TARGET_FID), kEventFlags);
  }
  if (!fd) return std::move(fd).error();
  auto g = std::make_shared<NotifyGroup>(opts.fanotify, *fd);
  g->fan_rename = opts.use_fan_rename;
  for (const Scope& s : want) {
    auto r = mark_scope(*g, s);
    if (!r) return std::move(r).error();
  }
  g->scopes = want;
  // The agent's own output files never produce events (ignore marks that survive writes).
  for (const std::string& f : ctx->agent_files()) {
    struct stat st {};
    if (stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !in_scope(*g, f)) continue;
    auto r = opts.fanotify->mark(
        g->fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, kOwnFileMask,
        AT_FDCWD, f.c_str());
    if (!r) log().warn("file_fanotify: cannot exempt {}: {}", f, r.error().message);
  }
  return g;
}

Result<void> FileFanotifySensor::Impl::mark_scope(NotifyGroup& g, const Scope& s) {
  const bool dir = s.mark == policy::MarkKind::kDirectory;
  const unsigned type = dir ? 0U : static_cast<unsigned>(FAN_MARK_FILESYSTEM);
  const uint64_t base = kMask | (dir ? FAN_EVENT_ON_CHILD : 0U);
  auto r = Result<void>(Error{"not tried"});
  if (g.fan_rename) {
    r = opts.fanotify->mark(g.fd, FAN_MARK_ADD | type, base | FAN_RENAME, AT_FDCWD, s.path.c_str());
    if (!r && r.error().code == EINVAL) {
      log().info("file_fanotify: no FAN_RENAME here; pairing FAN_MOVED_FROM with FAN_MOVED_TO");
      g.fan_rename = false;
    }
  }
  if (!g.fan_rename) {
    r = opts.fanotify->mark(g.fd, FAN_MARK_ADD | type, base | FAN_MOVED_FROM | FAN_MOVED_TO,
                            AT_FDCWD, s.path.c_str());
  }
  if (!r) return Error{"watch " + s.path + ": " + r.error().message, r.error().code};
  // open_by_handle_at(2) takes no O_PATH descriptor; a directory open is no event of ours.
  const int mfd = open(s.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mfd < 0) return errno_error("open " + s.path);
  struct statfs sf {};
  if (fstatfs(mfd, &sf) != 0) {
    close(mfd);
    return errno_error("statfs " + s.path);
  }
  int32_t v[2];
  std::memcpy(v, &sf.f_fsid, sizeof v);
  if (!g.mount_fds.emplace(fsid_key(v[0], v[1]), mfd).second) close(mfd);
  log().info("file_fanotify: watching {} ({} scope, {} mark)", s.path, policy::to_string(s.mark),
             dir ? "directory" : "filesystem");
  return ok();
}

void FileFanotifySensor::Impl::install(std::shared_ptr<NotifyGroup> group) {
  std::unique_lock lock(mu);
  next = std::move(group);
  const uint64_t ticket = ++requested;
  const uint64_t one = 1;
  if (write(wake_fd, &one, sizeof one) < 0) warn("cannot wake the reader");
  if (!adopted_cv.wait_for(lock, kAdoptTimeout, [&] { return adopted >= ticket; })) {
    log().warn("file_fanotify: reader slow to adopt the new marks");
  }
}

void FileFanotifySensor::Impl::adopt_next() {
  std::shared_ptr<NotifyGroup> g;
  {
    std::lock_guard lock(mu);
    if (adopted == requested) return;
    g = std::move(next);
    adopted = requested;
  }
  // What the old group queued is still reported; both groups overlap for that short moment.
  if (current) drain(current);
  current = std::move(g);
  adopted_cv.notify_all();
}

// Drainer thread: adopts new groups and reads their records into the buffer, nothing more.
void FileFanotifySensor::Impl::drain_loop() {
  while (true) {
    adopt_next();
    if (stopping.load()) break;
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {current ? current->fd : -1, POLLIN, 0}};
    const int n = poll(fds, 2, static_cast<int>(kLossReportNs / kMsNs));
    if (n < 0 && errno != EINTR) warn("poll");
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t v = 0;
      if (read(wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) warn("read wake-up");
    }
    if (current && n > 0 && (fds[1].revents & (POLLIN | POLLERR)) != 0) drain(current);
  }
  if (current) drain(current);
  buffer.close();
}

void FileFanotifySensor::Impl::drain(const std::shared_ptr<NotifyGroup>& g) {
  // On the heap, once per sensor (only the drainer reads): a static thread_local buffer would
  // put 64 KiB into the static TLS of every thread of the process, libraries' threads with
  // small stacks included.
  if (!read_buf) read_buf = std::make_unique<uint64_t[]>(kReadBytes / sizeof(uint64_t));
  char* buf = reinterpret_cast<char*>(read_buf.get());
  for (int round = 0; round < kReadRounds; ++round) {
    auto n = opts.fanotify->read(g->fd, buf, kReadBytes);
    if (!n) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      warn(n.error().message);
      return;
    }
    if (*n == 0) return;
    const uint64_t dropped =
        buffer.push(g, buf, static_cast<size_t>(*n), [this](int fd) { opts.fanotify->close(fd); });
    if (dropped > 0) {
      counters.dropped.fetch_add(dropped, std::memory_order_relaxed);
      buffer_dropped.fetch_add(dropped, std::memory_order_relaxed);
    }
  }
}

// Reader thread: handles what the drainer read, in order; pairs renames and reports losses.
void FileFanotifySensor::Impl::reader_loop() {
  while (true) {
    const int64_t wait_ns =
        moves.empty() ? kLossReportNs : std::max(1, opts.rename_pair_ms) * kMsNs;
    FanotifyBuffer<NotifyGroup>::Chunk chunk;
    const auto got = buffer.pop(&chunk, std::chrono::nanoseconds(wait_ns));
    if (got == FanotifyBuffer<NotifyGroup>::Pop::kChunk) {
      if (handled != chunk.group && handled) expire_moves(*handled, INT64_MAX);
      handled = chunk.group;
      handle_records(*handled, chunk.bytes);
    }
    if (handled) expire_moves(*handled, clock::monotonic_ns());
    report_losses();
    if (got == FanotifyBuffer<NotifyGroup>::Pop::kClosed) break;
  }
  if (handled) expire_moves(*handled, INT64_MAX);
  handled.reset();
  report_losses(true);
}

void FileFanotifySensor::Impl::handle_records(NotifyGroup& g, const std::vector<char>& bytes) {
  const bool known =
      for_each_event(bytes.data(), bytes.size(), [&](const auto& m, const char* event) {
        if (m.fd >= 0) opts.fanotify->close(m.fd);  // none is asked for; never leak one
        if ((m.mask & FAN_Q_OVERFLOW) != 0) {
          counters.dropped.fetch_add(1, std::memory_order_relaxed);
          overflows.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        counters.seen.fetch_add(1, std::memory_order_relaxed);
        FidEvent e;
        if (!parse_fid_event(m, event, &e)) {
          counters.errors.fetch_add(1, std::memory_order_relaxed);
          warn("malformed fanotify record");
          return;
        }
        handle(g, e);
      });
  if (!known) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("fanotify record of an unknown version");
  }
}

std::optional<std::string> FileFanotifySensor::Impl::resolve(NotifyGroup& g,
                                                             const FileHandleKey& key, bool cache) {
  if (auto p = dirs.find(key)) return p;
  auto mfd = g.mount_fds.find(key.fsid);
  if (mfd == g.mount_fds.end()) return std::nullopt;
  auto path = opts.resolver->path_of(mfd->second, key);
  if (path && cache) dirs.put(key, *path);
  return path;
}

std::optional<std::string> FileFanotifySensor::Impl::entry_path(NotifyGroup& g,
                                                                const DirEntryRef& ref) {
  auto dir = resolve(g, ref.dir, true);
  if (!dir) return std::nullopt;
  return join(*dir, ref.name);
}

bool FileFanotifySensor::Impl::in_scope(const NotifyGroup& g, std::string_view path) const {
  return std::any_of(g.scopes.begin(), g.scopes.end(),
                     [&](const Scope& s) { return is_under(path, s.path); });
}

void FileFanotifySensor::Impl::handle(NotifyGroup& g, const FidEvent& e) {
  const bool own = e.pid == self;
  if ((e.mask & FAN_RENAME) != 0) {
    handle_rename(g, e, own);
    return;
  }
  const bool ondir = (e.mask & FAN_ONDIR) != 0;
  // The agent's own activity matters only for the directory cache.
  if (own && !ondir) return;
  std::optional<std::string> path;
  if (e.entry) {
    path = entry_path(g, *e.entry);
  } else if (e.object && (e.mask & (FAN_MODIFY | FAN_CLOSE_WRITE)) != 0) {
    path = resolve(g, *e.object, false);
  } else {
    return;  // an attribute change without a name: a link count, reported as create/delete
  }
  if (!path) {
    if (own) return;
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("an event's directory no longer exists; event not reported");
    return;
  }
  struct stat st {};
  const bool exists = lstat(path->c_str(), &st) == 0;
  const auto create = [&] {
    if (ondir && e.object) dirs.put(*e.object, *path);
    if (own) return;
    emit(g, EventType::kFileCreate, e.pid, *path, {},
         exists ? std::string_view() : std::string_view("already gone when read"));
  };
  const bool create_last = (e.mask & FAN_CREATE) != 0 && (e.mask & FAN_DELETE) != 0 && exists;
  if ((e.mask & FAN_CREATE) != 0 && !create_last) create();
  const std::string key = e.object ? handle_text(*e.object) : *path;
  const int64_t now = clock::monotonic_ns();
  if ((e.mask & FAN_MODIFY) != 0 && !ondir && !own && modifies.on_modify(key, now)) {
    emit(g, EventType::kFileModify, e.pid, *path);
  }
  if ((e.mask & FAN_CLOSE_WRITE) != 0) modifies.on_close_write(key);
  if ((e.mask & FAN_ATTRIB) != 0 && e.entry && !own) {
    emit(g, EventType::kFileChmod, e.pid, *path);
  }
  if ((e.mask & (FAN_MOVED_FROM | FAN_MOVED_TO)) != 0 && !g.fan_rename) {
    handle_move(g, e, *path, own);
  }
  if ((e.mask & FAN_DELETE) != 0) {
    if (ondir) dirs.forget_tree(*path);
    if (!own) emit(g, EventType::kFileDelete, e.pid, *path);
  }
  if (create_last) create();
}

void FileFanotifySensor::Impl::handle_rename(NotifyGroup& g, const FidEvent& e, bool own) {
  std::optional<std::string> from, to;
  if (e.old_entry) from = entry_path(g, *e.old_entry);
  if (e.new_entry) to = entry_path(g, *e.new_entry);
  if ((e.mask & FAN_ONDIR) != 0) {
    if (from) dirs.forget_tree(*from);
    if (to) dirs.forget_tree(*to);
    if (to && e.object) dirs.put(*e.object, *to);
  }
  if (own) return;
  if (!from && !to) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("a rename's directories no longer exist; event not reported");
    return;
  }
  emit(g, EventType::kFileRename, e.pid, from.value_or(""), to.value_or(""));
}

// Without FAN_RENAME: a rename is a MOVED_FROM and a MOVED_TO with the same object handle (the
// same pid where the kernel reports no handle for them).
void FileFanotifySensor::Impl::handle_move(NotifyGroup& g, const FidEvent& e,
                                           const std::string& path, bool own) {
  const bool ondir = (e.mask & FAN_ONDIR) != 0;
  const std::string key = e.object ? handle_text(*e.object) : "pid:" + std::to_string(e.pid);
  if ((e.mask & FAN_MOVED_FROM) != 0) {
    if (ondir) dirs.forget_tree(path);
    if (!own) moves.moved_from(key, path, e.pid, clock::monotonic_ns());
  }
  if ((e.mask & FAN_MOVED_TO) != 0) {
    if (ondir) {
      dirs.forget_tree(path);
      if (e.object) dirs.put(*e.object, path);
    }
    if (own) return;
    RenamePairer::Move m = moves.moved_to(key, path, e.pid);
    emit(g, EventType::kFileRename, e.pid, m.from, m.to,
         m.from.empty() ? "moved in from outside the watched scopes" : "");
  }
}

void FileFanotifySensor::Impl::expire_moves(const NotifyGroup& g, int64_t now_ns) {
  for (auto& m : moves.expire(now_ns, static_cast<int64_t>(opts.rename_pair_ms) * kMsNs)) {
    emit(g, EventType::kFileRename, m.pid, m.from, {}, "moved out of the watched scopes");
  }
}

void FileFanotifySensor::Impl::emit(const NotifyGroup& g, EventType type, int32_t pid,
                                    const std::string& path, const std::string& target,
                                    std::string_view message) {
  const bool path_in = !path.empty() && in_scope(g, path);
  const bool target_in = !target.empty() && in_scope(g, target);
  if (!path_in && !target_in) return;
  Event ev(type, clock::realtime_ns());
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(pid));
  if (!path.empty()) ev.set(Field::kFilePath, path);
  if (!target.empty()) ev.set(Field::kFileTargetPath, target);
  if (type == EventType::kFileCreate || type == EventType::kFileChmod) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
      ev.set(Field::kFileMode, file_records::mode_text(static_cast<uint32_t>(st.st_mode)));
    }
  }
  if (!message.empty()) ev.set(Field::kRingsideMessage, message);
  const policy::Decision d = ctx->decide(ev);
  ev.set(Field::kEventOutcome, "success");
  // Reported after the fact: a deny or alert rule could not stop it.
  if (d.verdict != Verdict::kAllow) ev.set(Field::kRingsideEnforcement, "none");
  ctx->emit(std::move(ev));
}

void FileFanotifySensor::Impl::report_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_loss_check < kLossReportNs) return;
  last_loss_check = t;
  if (auto ev = queue_losses.report(overflows.load(std::memory_order_relaxed),
                                    "fanotify queue overflow")) {
    ctx->emit(std::move(*ev));
  }
  if (auto ev = buffer_losses.report(buffer_dropped.load(std::memory_order_relaxed),
                                     "records read from the kernel found the buffer full")) {
    ctx->emit(std::move(*ev));
  }
}

void FileFanotifySensor::Impl::warn(std::string_view what) {
  uint64_t suppressed = 0;
  if (!warn_log.allow(&suppressed)) return;
  log().warn("file_fanotify: {}{}", what,
             suppressed > 0 ? fmt::format(" [{} more since the last warning]", suppressed)
                            : std::string());
}

FileFanotifySensor::FileFanotifySensor() : FileFanotifySensor(Options{}) {}
FileFanotifySensor::FileFanotifySensor(Options options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
FileFanotifySensor::~FileFanotifySensor() { stop(); }

Result<void> FileFanotifySensor::start(SensorContext& ctx) {
  if (impl_->reader.joinable()) return ok();
  impl_->buffer.reset();
  impl_->ctx = &ctx;
  impl_->modifies = ModifyCoalescer(static_cast<int64_t>(impl_->opts.modify_interval_ms) * kMsNs,
                                    kModifySessions);
  impl_->stopping.store(false);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) return errno_error("eventfd");
  impl_->reader = std::thread([this] { impl_->reader_loop(); });
  name_thread(impl_->reader, "rs-fan-read");
  impl_->drainer = std::thread([this] { impl_->drain_loop(); });
  name_thread(impl_->drainer, "rs-fan-drain");
  return ok();
}

Result<void> FileFanotifySensor::apply_policy(const policy::Policy& policy) {
  if (impl_->ctx == nullptr) return Error{"file_fanotify: apply_policy before start"};
  std::vector<Scope> want;
  for (const policy::WatchScope& w : policy.settings().file.watch) {
    char buf[PATH_MAX];
    if (realpath(w.path.c_str(), buf) == nullptr) {
      return errno_error("file_fanotify: watched path " + w.path);
    }
    Scope s{buf, w.mark};
    if (std::find(want.begin(), want.end(), s) == want.end()) want.push_back(std::move(s));
  }
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->has_group && want == impl_->scopes) return ok();
  }
  std::shared_ptr<NotifyGroup> group;
  if (!want.empty()) {
    auto g = impl_->build_group(want);
    if (!g) return std::move(g).error();
    group = std::move(g).value();
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->scopes = want;
    impl_->has_group = true;
  }
  impl_->install(std::move(group));
  return ok();
}

void FileFanotifySensor::stop() {
  if (!impl_->reader.joinable()) return;
  impl_->stopping.store(true);
  const uint64_t one = 1;
  if (write(impl_->wake_fd, &one, sizeof one) < 0) impl_->warn("cannot wake the reader");
  impl_->drainer.join();  // its last read done, it closes the buffer
  impl_->reader.join();   // which the reader then empties
  impl_->current.reset();
  {
    std::lock_guard lock(impl_->mu);
    impl_->next.reset();
    impl_->adopted = impl_->requested;
    impl_->has_group = false;
    impl_->adopted_cv.notify_all();
  }
  close(impl_->wake_fd);
  impl_->wake_fd = -1;
}

SensorStats FileFanotifySensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
