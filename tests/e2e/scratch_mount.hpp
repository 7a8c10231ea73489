// A tmpfs on a fresh directory under /tmp, for tests that place fanotify marks: the marks stay
// inside it, and it is unmounted (lazily when still busy) and removed on every exit path.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/result.hpp"

namespace ringside::e2e {

class ScratchMount {
 public:
  explicit ScratchMount(const std::string& size = "512m") {
    char tmpl[] = "/tmp/ringside-fan-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    path_ = tmpl;
    const std::string opts = "size=" + size + ",mode=0755";
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = "mount tmpfs: " + errno_text(errno);
      rmdir(path_.c_str());
      path_.clear();
    }
  }
  ~ScratchMount() {
    if (path_.empty()) return;
    if (umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
    rmdir(path_.c_str());
  }
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& error() const { return error_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string error_ = "mkdtemp failed";
};

}  // namespace ringside::e2e
