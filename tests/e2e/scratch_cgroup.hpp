// A child of the cgroup v2 root for tests that attach cgroup programs or move processes: the
// programs stay scoped to it, and it is removed on every exit path. path() is empty when it
// could not be created.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "sensors/kernel/network_ebpf.hpp"

namespace ringside::e2e {

class ScratchCgroup {
 public:
  // `tag` names the test in the directory name: <cgroup root>/ringside-<tag>-<pid>.
  explicit ScratchCgroup(const std::string& tag) {
    const std::string root = cgroup2_root();
    if (root.empty()) return;
    path_ = root + "/ringside-" + tag + "-" + std::to_string(getpid());
    rmdir(path_.c_str());
    if (mkdir(path_.c_str(), 0755) != 0) path_.clear();
  }
  ~ScratchCgroup() {
    if (!path_.empty()) rmdir(path_.c_str());
  }
  ScratchCgroup(const ScratchCgroup&) = delete;
  ScratchCgroup& operator=(const ScratchCgroup&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ringside::e2e
