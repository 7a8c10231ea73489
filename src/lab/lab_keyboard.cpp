// Keyboard steps: an Xvfb for the X11 scenario, and a pty for the terminal one.

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lab/lab_agent.hpp"

extern char** environ;

namespace ringside::lab {

namespace {

using Clock = std::chrono::steady_clock;

bool on_path(const std::string& prog) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
    if (access((std::string(dir) + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void stop_pid(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace

LabXvfb::LabXvfb() {
  if (!on_path("Xvfb") || !on_path("xdotool")) {
    error_ = "needs Xvfb and xdotool (scripts/setup installs them)";
    return;
  }
  for (int n = 150 + getpid() % 40; n < 250; ++n) {
    const std::string sock = "/tmp/.X11-unix/X" + std::to_string(n);
    const std::string lock = "/tmp/.X" + std::to_string(n) + "-lock";
    struct stat st {};
    if (stat(sock.c_str(), &st) == 0 || stat(lock.c_str(), &st) == 0) continue;
    const std::string display = ":" + std::to_string(n);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      execlp("Xvfb", "Xvfb", display.c_str(), "-screen", "0", "640x480x24", "-nolisten", "tcp",
             nullptr);
      _exit(127);
    }
    if (pid < 0) break;
    for (int i = 0; i < 200; ++i) {
      if (stat(sock.c_str(), &st) == 0) {
        pid_ = pid;
        display_ = display;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    stop_pid(pid);
    error_ = "Xvfb did not start on " + display;
    return;
  }
  if (error_.empty()) error_ = "no free X display number";
}

LabXvfb::~LabXvfb() { stop_pid(pid_); }

StepResult run_pty_step(const Scenario& s, const StepContext& ctx) {
  StepResult r;
  std::vector<std::string> args = s.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  const auto t0 = Clock::now();
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(125);
  }
  if (pid < 0) return r;
  r.started = true;
  r.pid = pid;
  // Give the session time to switch auditing on and the shell to wait in `read`.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (write(master, s.pty_input.data(), s.pty_input.size()) < 0) r.err = errno;
  const auto deadline = t0 + std::chrono::milliseconds(ctx.timeout_ms);
  int status = 0;
  while (true) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      char buf[512];
      const ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) r.out.append(buf, static_cast<size_t>(n));
    }
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (Clock::now() >= deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
  }
  close(master);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

}  // namespace ringside::lab
