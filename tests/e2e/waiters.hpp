// Processes that wait on a blocking decision (an open or an exec on a fanotify-marked scratch
// mount, a connect in a network namespace), started in a fork, and how long each waited.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace ringside::e2e {

struct Waiter {
  pid_t pid = 0;
  std::string what;
  std::chrono::steady_clock::time_point started;
  bool finished = false;
  int status = 0;
  std::chrono::milliseconds waited{0};
};

// A child that opens `path` for reading and exits 0 when the open worked.
inline Waiter start_open_waiter(const std::string& path) {
  Waiter w;
  w.what = "open " + path;
  w.started = std::chrono::steady_clock::now();
  w.pid = fork();
  if (w.pid == 0) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    _exit(fd >= 0 ? 0 : 1);
  }
  return w;
}

// A child that execs `program` (no arguments, empty environment); 127 when the exec failed.
inline Waiter start_exec_waiter(const std::string& program) {
  Waiter w;
  w.what = "exec " + program;
  w.started = std::chrono::steady_clock::now();
  w.pid = fork();
  if (w.pid == 0) {
    char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
    char* envp[] = {nullptr};
    execve(argv[0], argv, envp);
    _exit(127);
  }
  return w;
}

// A child that joins `cgroup` (when not empty) and connects over TCP to 127.0.0.1:`port`
// (5 s timeout); exits 0 when connected, else the errno (clamped to 1..125).
inline Waiter start_connect_waiter(uint16_t port, const std::string& cgroup = "") {
  Waiter w;
  w.what = "connect 127.0.0.1:" + std::to_string(port);
  w.started = std::chrono::steady_clock::now();
  w.pid = fork();
  if (w.pid == 0) {
    if (!cgroup.empty()) std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    _exit(rc == 0 ? 0 : std::min(std::max(rc, 1), 125));
  }
  return w;
}

// Waits for every waiter until `limit` after its start; those still running then are
// SIGKILLed and stay `finished == false`. Returns the longest wait of those that finished.
inline std::chrono::milliseconds reap_waiters(std::vector<Waiter>& ws,
                                              std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds longest{0};
  bool pending = true;
  while (pending) {
    pending = false;
    for (auto& w : ws) {
      if (w.finished || w.pid <= 0) continue;
      if (waitpid(w.pid, &w.status, WNOHANG) == w.pid) {
        w.finished = true;
        w.waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - w.started);
        longest = std::max(longest, w.waited);
      } else if (Clock::now() - w.started > limit) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, &w.status, 0);
        w.pid = 0;
      } else {
        pending = true;
      }
    }
    if (pending) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return longest;
}

}  // namespace ringside::e2e
