#include "sensors/kernel/immutable_guard.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/log.hpp"
#include "policy/immutable_rules.hpp"

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

ImmutableGuard::ImmutableGuard(Options options) : opts_(std::move(options)) {
  if (!opts_.attrs) opts_.attrs = system_file_attributes();
}

ImmutableGuard::~ImmutableGuard() { stop(); }

// The state file: the paths, each ended by a NUL (a path may hold any other byte).
void ImmutableGuard::restore_from_state() {
  std::ifstream in(opts_.state_path, std::ios::binary);
  if (!in) return;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t from = 0;
  for (size_t end = text.find('\0'); end != std::string::npos; end = text.find('\0', from)) {
    const std::string path = text.substr(from, end - from);
    from = end + 1;
    auto is = opts_.attrs->immutable(path);
    if (is && *is) {
      release(path);
      log().warn("file_immutable: cleared the immutable attribute a previous agent left on {}",
                 path);
    }
  }
  std::remove(opts_.state_path.c_str());
}

bool ImmutableGuard::save(const std::set<std::string>& paths) {
  if (paths.empty()) {
    std::remove(opts_.state_path.c_str());
    return true;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(opts_.state_path).parent_path(), ec);
  const std::string tmp = opts_.state_path + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const std::string& p : paths) out << p << '\0';
    out.flush();
    if (!out) {
      log().error("file_immutable: cannot write {}", tmp);
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  return std::rename(tmp.c_str(), opts_.state_path.c_str()) == 0;
}

Result<void> ImmutableGuard::start(SensorContext& ctx) {
  ctx_ = &ctx;
  restore_from_state();
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
    return Error{"file_immutable: cannot record the files it guards in " + opts_.state_path};
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
