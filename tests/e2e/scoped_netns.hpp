// The calling thread enters a new network namespace with its loopback up, and goes back to the
// one it came from when the object dies: a test's firewall rules, queues and connections stay
// in a namespace of its own.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "e2e_util.hpp"

namespace ringside::e2e {

class ScopedNetns {
 public:
  ScopedNetns() {
    saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_ < 0) {
      error_ = std::string("cannot open own netns: ") + std::strerror(errno);
      return;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      error_ = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    entered_ = true;
    auto r = run({"ip", "link", "set", "lo", "up"});
    if (r.exit_code != 0) error_ = "ip link set lo up: " + r.err;
  }
  ~ScopedNetns() {
    if (entered_) setns(saved_, CLONE_NEWNET);
    if (saved_ >= 0) close(saved_);
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  bool ok() const { return entered_ && error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  int saved_ = -1;
  bool entered_ = false;
  std::string error_;
};

}  // namespace ringside::e2e
