// A terminal session for keyboard tests: forkpty() runs a command on a fresh pty; the test
// types into it (writes to the master) and a thread drains what it prints. The child is
// stopped by pid when the object dies.
#pragma once

#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringside::e2e {

class PtySession {
 public:
  // Runs argv (execvp) with `env` entries ("K=V") added; pid() is 0 when forkpty failed.
  PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      execvp(args[0], args.data());
      _exit(127);
    }
    if (pid_ < 0) {
      pid_ = 0;
      return;
    }
    drain_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        pollfd p{master_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = read(master_, buf, sizeof buf);
        if (n <= 0) break;  // EIO once every slave fd is closed
        std::lock_guard lock(mu_);
        out_.append(buf, static_cast<size_t>(n));
      }
    });
  }
  ~PtySession() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    stop_ = true;
    if (drain_.joinable()) drain_.join();
    if (master_ >= 0) close(master_);
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  pid_t pid() const { return pid_; }
  // Types `text` (as a terminal would deliver it) and waits a moment for it to be read.
  void type(const std::string& text,
            std::chrono::milliseconds settle = std::chrono::milliseconds(300)) {
    if (write(master_, text.data(), text.size()) < 0) return;
    std::this_thread::sleep_for(settle);
  }
  std::string output() {
    std::lock_guard lock(mu_);
    return out_;
  }
  // Waits for the child to exit; its status, or -1 after `timeout` (then it is killed).
  int wait(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = 0;
  int master_ = -1;
  bool reaped_ = false;
  std::atomic<bool> stop_{false};
  std::thread drain_;
  std::mutex mu_;
  std::string out_;
};

}  // namespace ringside::e2e
