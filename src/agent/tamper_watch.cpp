#include "agent/tamper_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <set>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/tamper_event.hpp"
#include "core/thread_name.hpp"

namespace ringside {

namespace {

constexpr const char* kPreloadConfig = "/etc/ld.so.preload";
constexpr const char* kPreloadLibrary = "libringside-preload.so";
// Changes to a watched file, as directory-mark events (MODIFY and ATTRIB of a child need
// FAN_EVENT_ON_CHILD; the directory entry events are the directory's own).
constexpr uint64_t kMask = FAN_MODIFY | FAN_ATTRIB | FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM |
                           FAN_MOVED_TO | FAN_EVENT_ON_CHILD;
constexpr int64_t kModifyRepeatNs = 1'000'000'000;

std::string canonical_or_absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return path;
  auto canon = std::filesystem::weakly_canonical(abs, ec);
  return ec ? abs.string() : canon.string();
}

Result<FileHandleKey> handle_of(const std::string& dir) {
  alignas(file_handle) std::array<char, sizeof(file_handle) + MAX_HANDLE_SZ> buf{};
  auto* fh = reinterpret_cast<file_handle*>(buf.data());
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, dir.c_str(), fh, &mount_id, 0) != 0) {
    return errno_error("name_to_handle_at " + dir);
  }
  struct statfs sf {};
  if (statfs(dir.c_str(), &sf) != 0) return errno_error("statfs " + dir);
  FileHandleKey key;
  key.fsid = fsid_key(sf.f_fsid.__val[0], sf.f_fsid.__val[1]);
  key.type = fh->handle_type;
  key.bytes.assign(reinterpret_cast<const char*>(fh->f_handle), fh->handle_bytes);
  return key;
}

}  // namespace

std::vector<TamperTarget> tamper_targets(const std::string& agent_binary,
                                         const std::string& policy_path,
                                         const std::string& db_path) {
  std::vector<TamperTarget> out{{kPreloadConfig, "preload_config"}};
  if (!agent_binary.empty()) {
    const std::string bin = canonical_or_absolute(agent_binary);
    out.push_back({bin, "agent_binary"});
    out.push_back({std::filesystem::path(bin).parent_path() / kPreloadLibrary, "agent_binary"});
  }
  if (!policy_path.empty()) out.push_back({canonical_or_absolute(policy_path), "policy"});
  if (!db_path.empty()) out.push_back({canonical_or_absolute(db_path), "store"});
  return out;
}

void TamperMatcher::add(const FileHandleKey& dir, const TamperTarget& t) {
  entries_.push_back({dir, std::filesystem::path(t.path).filename().string(), t});
}

std::optional<TamperMatcher::Hit> TamperMatcher::match(const FidEvent& ev) const {
  // A rename reports its two directory entries (FAN_RENAME) or one per event (MOVED_*).
  for (const auto* ref : {&ev.entry, &ev.new_entry, &ev.old_entry}) {
    if (!ref->has_value()) continue;
    for (const Entry& e : entries_) {
      if ((*ref)->name == e.name && (*ref)->dir == e.dir) {
        return Hit{e.target.path, e.target.target, std::string(change_of(ev.mask))};
      }
    }
  }
  return std::nullopt;
}

std::string_view TamperMatcher::change_of(uint64_t mask) {
  if ((mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_RENAME)) != 0) return "rename";
  if ((mask & FAN_DELETE) != 0) return "delete";
  if ((mask & FAN_CREATE) != 0) return "create";
  if ((mask & FAN_MODIFY) != 0) return "modify";
  return "attributes";
}

Result<std::unique_ptr<TamperWatch>> TamperWatch::start(const std::vector<TamperTarget>& targets,
                                                        int32_t own_pid, Report report) {
  std::unique_ptr<TamperWatch> w(new TamperWatch());
  w->own_pid_ = own_pid;
  w->report_ = std::move(report);
  w->group_ = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                            O_RDONLY | O_CLOEXEC);
  if (w->group_ < 0) return errno_error("tamper watch: fanotify_init");
  std::set<std::string> marked;
  for (const TamperTarget& t : targets) {
    const std::string dir = std::filesystem::path(t.path).parent_path().string();
    auto key = handle_of(dir);
    if (!key) {
      log().warn("tamper watch: {} is not watched: {}", t.path, key.error().message);
      continue;
    }
    if (marked.insert(dir).second && fanotify_mark(w->group_, FAN_MARK_ADD | FAN_MARK_ONLYDIR,
                                                   kMask, AT_FDCWD, dir.c_str()) != 0) {
      return errno_error("tamper watch: fanotify_mark " + dir);
    }
    w->matcher_.add(*key, t);
  }
  w->wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wake_ < 0) return errno_error("tamper watch: eventfd");
  TamperWatch* self = w.get();
  w->thread_ = std::thread([self] { self->loop(); });
  name_thread(w->thread_, "rs-tamper-watch");
  return w;
}

TamperWatch::~TamperWatch() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(wake_, &one, sizeof one) < 0) log().warn("tamper watch: cannot wake its thread");
    thread_.join();
  }
  if (group_ >= 0) close(group_);
  if (wake_ >= 0) close(wake_);
}

void TamperWatch::loop() {
  alignas(fanotify_event_metadata) std::array<char, 16384> buf{};
  while (true) {
    std::array<pollfd, 2> fds{{{group_, POLLIN, 0}, {wake_, POLLIN, 0}}};
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log().error("tamper watch: poll: {}", errno_text(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    while (true) {
      const ssize_t len = read(group_, buf.data(), buf.size());
      if (len <= 0) break;
      handle(buf.data(), static_cast<size_t>(len));
    }
  }
}

void TamperWatch::handle(const char* buf, size_t len) {
  const int64_t now = clock::monotonic_ns();
  for_each_event(buf, len, [&](const fanotify_event_metadata& m, const char* bytes) {
    if (m.fd >= 0) close(m.fd);
    if ((m.mask & FAN_Q_OVERFLOW) != 0) {
      const uint64_t total = overflows_.fetch_add(1) + 1;
      report_(make_lost_event(Level::kKernel, "fanotify", "tamper_fanotify.queue", 1, total,
                              LossAccuracy::kLowerBound, "tamper watch queue overflow"));
      return;
    }
    if (m.pid == own_pid_) return;
    FidEvent ev;
    if (!parse_fid_event(m, bytes, &ev)) return;
    auto hit = matcher_.match(ev);
    if (!hit) return;
    if (hit->change == "modify") {  // one report per writer and file per second
      auto& last = last_modify_ns_[{hit->path, m.pid}];
      if (last != 0 && now - last < kModifyRepeatNs) return;
      last = now;
      if (last_modify_ns_.size() > 4096) last_modify_ns_.clear();
    }
    Event out = tamper_event(
        "fanotify", hit->target, hit->change, hit->path,
        hit->target + " " + hit->path + ": " + hit->change + " by pid " + std::to_string(m.pid));
    if (m.pid > 0) out.set(Field::kProcessPid, int64_t{m.pid});
    reported_.fetch_add(1);
    report_(std::move(out));
  });
}

}  // namespace ringside
