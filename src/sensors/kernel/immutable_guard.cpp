#include "sensors/kernel/immutable_guard.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/log.hpp"
#include "policy/immutable_rules.hpp"
#include "sensors/kernel/late_kill.hpp"

namespace ringside {

namespace {

class SystemFileAttributes final : public FileAttributes {
 public:
  Result<bool> immutable(const std::string& path) override {
    const int fd = open_file(path);
    if (fd < 0) return errno_error(path);
    int flags = 0;
    const int rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    const int err = errno;
    close(fd);
    if (rc != 0) return errno_error(path + ": read attributes", err);
    return (flags & FS_IMMUTABLE_FL) != 0;
  }
  Result<void> set_immutable(const std::string& path, bool on) override {
    const int fd = open_file(path);
    if (fd < 0) return errno_error(path);
    int flags = 0;
    int rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    if (rc == 0) {
      flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
      rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    const int err = errno;
    close(fd);
    if (rc != 0) return errno_error(path + ": set attributes", err);
    return ok();
  }

 private:
  // A regular file only: no FIFO that would block, no device, no symbolic link.
  static int open_file(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      errno = EINVAL;
      return -1;
    }
    return fd;
  }
};

}  // namespace

std::shared_ptr<FileAttributes> system_file_attributes() {
  return std::make_shared<SystemFileAttributes>();
}

ImmutableGuard::ImmutableGuard(Options options)
    : opts_(std::move(options)), state_path_(state_file(opts_.state_dir, opts_.owner.pid)) {
  if (!opts_.attrs) opts_.attrs = system_file_attributes();
}

ImmutableGuard::~ImmutableGuard() { stop(); }

// The state file: a first record "owner PID STARTTICKS" naming the agent that wrote it, then
// the paths; each record ended by a NUL (a path may hold any other byte). A file without the
// owner record (written before it existed) has no live owner.
constexpr std::string_view kOwnerTag = "owner ";

StateOwner this_agent() {
  StateOwner o;
  o.pid = static_cast<int32_t>(getpid());
  if (auto start = proc_start(o.pid)) o.start_ticks = start->start_ticks;
  return o;
}

bool owner_running(const StateOwner& owner) {
  if (owner.pid <= 0) return false;
  const auto start = proc_start(owner.pid);
  return start && !start->zombie && start->start_ticks == owner.start_ticks;
}

std::string state_file(const std::string& state_dir, int32_t pid) {
  return state_dir + "/immutable." + std::to_string(pid) + ".list";
}

namespace {

// One state file: releases what it lists unless its agent runs; removes it when all went.
size_t release_file(const std::string& state_path, FileAttributes& attrs,
                    const std::function<bool(const StateOwner&)>& running) {
  const int fd = open(state_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::string text;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t from = 0;
  if (text.compare(0, kOwnerTag.size(), kOwnerTag) == 0) {
    const size_t end = text.find('\0');
    StateOwner owner;
    if (std::sscanf(text.substr(0, end).c_str(), "owner %" SCNd32 " %" SCNd64, &owner.pid,
                    &owner.start_ticks) == 2 &&
        running(owner)) {
      return 0;  // its agent runs: its files stay guarded
    }
    from = end == std::string::npos ? text.size() : end + 1;
  }
  size_t cleared = 0;
  bool all = true;
  for (size_t end = text.find('\0', from); end != std::string::npos; end = text.find('\0', from)) {
    const std::string path = text.substr(from, end - from);
    from = end + 1;
    auto is = attrs.immutable(path);
    if (!is) {
      // Gone, or no longer a regular file: nothing left to clear. Anything else (no permission
      // to look) is tried again by the next agent.
      const int code = is.error().code;
      all = all && (code == ENOENT || code == EINVAL || code == ELOOP);
      continue;
    }
    if (!*is) continue;
    if (auto r = attrs.set_immutable(path, false); !r) {
      all = false;
      log().warn("file_immutable: cannot clear {} (listed in {}): {}", path, state_path,
                 r.error().message);
      continue;
    }
    ++cleared;
    log().warn("file_immutable: cleared the immutable attribute a previous agent left on {}", path);
  }
  if (all) std::remove(state_path.c_str());
  return cleared;
}

}  // namespace

size_t release_leftovers(const std::string& state_dir, FileAttributes& attrs,
                         const std::function<bool(const StateOwner&)>& running) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool numbered = name.size() > 15 && name.compare(0, 10, "immutable.") == 0 &&
                          name.compare(name.size() - 5, 5, ".list") == 0;
    if (name == "immutable.list" || numbered) files.push_back(entry.path().string());
  }
  size_t cleared = 0;
  for (const std::string& f : files) cleared += release_file(f, attrs, running);
  return cleared;
}

bool ImmutableGuard::save(const std::set<std::string>& paths) {
  if (paths.empty()) {
    std::remove(state_path_.c_str());
    return true;
  }
  std::error_code ec;
  std::filesystem::create_directories(opts_.state_dir, ec);
  const std::string tmp = state_path_ + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << kOwnerTag << opts_.owner.pid << ' ' << opts_.owner.start_ticks << '\0';
    for (const std::string& p : paths) out << p << '\0';
    out.flush();
    if (!out) {
      log().error("file_immutable: cannot write {}", tmp);
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  return std::rename(tmp.c_str(), state_path_.c_str()) == 0;
}

Result<void> ImmutableGuard::start(SensorContext& ctx) {
  ctx_ = &ctx;
  release_leftovers(opts_.state_dir, *opts_.attrs, opts_.owner_running);
  return ok();
}

void ImmutableGuard::release(const std::string& path) {
  if (auto r = opts_.attrs->set_immutable(path, false); !r) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    log().warn("file_immutable: cannot clear {}: {}", path, r.error().message);
  }
}

Result<void> ImmutableGuard::apply_policy(const policy::Policy& policy) {
  std::set<std::string> wanted;
  for (const std::string& named : policy::immutable_paths(policy)) {
    char real[PATH_MAX];
    if (realpath(named.c_str(), real) == nullptr) {
      log().warn("file_immutable: {} does not exist; its rule is enforced only as it is reported",
                 named);
      continue;
    }
    if (ctx_ != nullptr && ctx_->is_agent_file(real)) continue;  // never the agent's own
    wanted.insert(real);
  }
  std::set<std::string> adding;
  for (const std::string& p : wanted) {
    if (guarded_.count(p) != 0) continue;
    auto is = opts_.attrs->immutable(p);
    if (!is) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("file_immutable: cannot guard {}: {}", p, is.error().message);
    } else if (!*is) {  // one that is immutable already is not ours to clear later
      adding.insert(p);
    }
  }
  // Listed before the attribute is set, so that a crash in between leaves nothing unlisted.
  std::set<std::string> listed = guarded_;
  listed.insert(adding.begin(), adding.end());
  if (!adding.empty() && !save(listed)) {
    return Error{"file_immutable: cannot record the files it guards in " + state_path_};
  }
  for (const std::string& p : adding) {
    if (auto r = opts_.attrs->set_immutable(p, true); !r) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("file_immutable: cannot guard {}: {}", p, r.error().message);
      listed.erase(p);
      continue;
    }
    counters_.seen.fetch_add(1, std::memory_order_relaxed);
    log().info("file_immutable: {} is immutable while its deny rule is loaded", p);
  }
  for (auto it = listed.begin(); it != listed.end();) {
    if (wanted.count(*it) != 0) {
      ++it;
      continue;
    }
    release(*it);
    it = listed.erase(it);
  }
  guarded_ = std::move(listed);
  save(guarded_);
  return ok();
}

void ImmutableGuard::stop() {
  for (const std::string& p : guarded_) release(p);
  if (!guarded_.empty()) save({});
  guarded_.clear();
}

}  // namespace ringside
