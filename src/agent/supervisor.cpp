#include "agent/supervisor.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/result.hpp"
#include "core/thread_name.hpp"

namespace ringside {

namespace {

constexpr int64_t kCheckMs = 50;              // while waiting to restart an agent
constexpr int64_t kQuickDeathMs = 60 * 1000;  // an agent that lived longer resets the backoff

// The state letter of /proc/PID/stat (R, S, D, T, t, Z, ...), for the log.
char proc_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '?';
}

int64_t now_ms() { return clock::monotonic_ns() / 1000000; }

pid_t fork_agent(SupervisorShared* shared, const std::function<int(SupervisorLink&)>& agent_main) {
  shared->heartbeat_ns.store(0);
  std::fflush(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The agent: it stops (SIGTERM) when its supervisor is gone.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) raise(SIGTERM);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_UNBLOCK, &chld, nullptr);
  int status = 1;
  {
    SupervisorLink link(shared);
    link.start_heartbeat();
    status = agent_main(link);
  }
  std::fflush(nullptr);
  std::exit(status);  // NOLINT(concurrency-mt-unsafe): the agent's threads are joined
}

}  // namespace

SupervisorLink::~SupervisorLink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SupervisorLink::start_heartbeat() {
  if (thread_.joinable()) return;
  shared_->heartbeat_ns.store(clock::monotonic_ns());
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      shared_->heartbeat_ns.store(clock::monotonic_ns());
      settings_changed_ = false;
      // A new bound beats at once and then at its own pace: a shorter bound never finds the
      // agent asleep for the old, longer interval.
      cv_.wait_for(lock, std::chrono::milliseconds(supervisor_beat_ms(shared_->bound_ms.load())),
                   [this] { return stop_ || settings_changed_; });
    }
  });
  name_thread(thread_, "rs-heartbeat");
}

void SupervisorLink::set_settings(int64_t bound_ms, bool restart) {
  shared_->bound_ms.store(bound_ms);
  shared_->restart.store(restart ? 1 : 0);
  {
    std::lock_guard lock(mu_);
    settings_changed_ = true;
  }
  cv_.notify_all();
}

int64_t supervisor_beat_ms(int64_t bound_ms) {
  return std::clamp<int64_t>(bound_ms / 10, 100, 1000);
}

int64_t supervisor_check_ms(int64_t bound_ms) { return supervisor_beat_ms(bound_ms) / 2; }

int64_t supervisor_kill_after_ms(int64_t bound_ms) {
  return std::max<int64_t>(bound_ms - std::max<int64_t>(250, bound_ms / 10),
                           2 * supervisor_beat_ms(bound_ms) + supervisor_check_ms(bound_ms));
}

int64_t supervisor_backoff_ms(int consecutive) {
  int64_t ms = 100;
  for (int i = 0; i < consecutive && ms < 10000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 10000);
}

int run_supervised(const std::function<int(SupervisorLink&)>& agent_main) {
  void* mem = mmap(nullptr, sizeof(SupervisorShared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    log().error("supervisor: cannot map its shared page ({}); running the agent unsupervised",
                errno_text(errno));
    SupervisorShared local;
    SupervisorLink link(&local);
    return agent_main(link);
  }
  auto* shared = new (mem) SupervisorShared();
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  int quick_deaths = 0;
  int status_out = 0;
  bool stopping = false;
  while (true) {
    const int64_t started = now_ms();
    const pid_t pid = fork_agent(shared, agent_main);
    if (pid < 0) {
      log().error("supervisor: cannot start the agent: {}", errno_text(errno));
      status_out = 1;
      break;
    }
    log().info("supervisor {}: agent {} started", getpid(), pid);
    bool killed = false;
    int status = 0;
    while (true) {
      const int64_t check_ms = supervisor_check_ms(shared->bound_ms.load());
      const timespec tick{static_cast<time_t>(check_ms / 1000), (check_ms % 1000) * 1000000};
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        stopping = true;
        kill(pid, sig);
      } else if (sig == SIGHUP) {
        kill(pid, SIGHUP);
      }
      if (waitpid(pid, &status, WNOHANG) == pid) break;
      const int64_t beat = shared->heartbeat_ns.load();
      if (killed || beat == 0) continue;
      const int64_t silent_ms = (clock::monotonic_ns() - beat) / 1000000;
      if (silent_ms > supervisor_kill_after_ms(shared->bound_ms.load())) {
        log().error(
            "supervisor: agent {} silent for {} ms (state {}, bound {} ms); killing it so that "
            "nothing waits on it",
            pid, silent_ms, proc_state(pid), shared->bound_ms.load());
        kill(pid, SIGKILL);
        killed = true;
      }
    }
    if (WIFEXITED(status)) {
      status_out = WEXITSTATUS(status);
      break;  // the agent ended by itself: a clean stop or a failed start
    }
    const int term = WTERMSIG(status);
    if (stopping || shared->restart.load() == 0) {
      log().error("supervisor: agent {} died by signal {}", pid, term);
      status_out = 128 + term;
      break;
    }
    quick_deaths = now_ms() - started > kQuickDeathMs ? 0 : quick_deaths + 1;
    const int64_t delay = supervisor_backoff_ms(quick_deaths - 1);
    log().warn("supervisor: agent {} died by signal {}; restarting it in {} ms", pid, term, delay);
    const int64_t until = now_ms() + delay;
    while (!stopping && now_ms() < until) {
      const timespec tick{0, kCheckMs * 1000000};
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) stopping = true;
    }
    if (stopping) {
      status_out = 0;
      break;
    }
  }
  munmap(mem, sizeof(SupervisorShared));
  return status_out;
}

}  // namespace ringside
