// The supervisor `ringside run` starts when it is not under systemd: a small parent process,
// forked before any sensor starts (so it holds no fanotify group, NFQUEUE binding or BPF
// object), that runs the agent as its child and SIGKILLs it when its heartbeat stops for
// longer than `settings.supervisor.bound` allows. The kernel then releases what the agent
// held: pending fanotify permission events are allowed, NFQUEUE rules with --queue-bypass let
// packets through, the cgroup socket programs' links go away. With `restart`, an agent that
// died by a signal is started again with a backoff; it re-installs its marks, maps and chains
// (and removes a dead agent's chains) like any start.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace ringside {

// Shared (MAP_SHARED) between the supervisor and the agent it runs.
struct SupervisorShared {
  std::atomic<int64_t> heartbeat_ns{0};  // CLOCK_MONOTONIC of the agent's last beat; 0: none yet
  std::atomic<int64_t> bound_ms{5000};   // settings.supervisor.bound of the agent's policy
  std::atomic<int32_t> restart{1};       // settings.supervisor.restart
};

// The agent's side: a thread that beats (supervisor_beat_ms of the bound), and the settings of
// its policy.
class SupervisorLink {
 public:
  explicit SupervisorLink(SupervisorShared* shared) : shared_(shared) {}
  ~SupervisorLink();
  SupervisorLink(const SupervisorLink&) = delete;
  SupervisorLink& operator=(const SupervisorLink&) = delete;

  void start_heartbeat();
  void set_settings(int64_t bound_ms, bool restart);

 private:
  SupervisorShared* shared_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool settings_changed_ = false;
  std::thread thread_;
};

// How often the agent beats for a bound, and how often the supervisor looks (half that): often
// enough that a silent agent is killed within the bound, rarely enough that an idle agent costs
// next to nothing (every wake-up of a sleeping thread costs tens of microseconds of CPU on a
// virtual machine). 100 ms up to a 1 s bound, a tenth of the bound above, at most 1 s.
int64_t supervisor_beat_ms(int64_t bound_ms);
int64_t supervisor_check_ms(int64_t bound_ms);

// When the agent is declared unresponsive: `bound_ms` minus a margin for the check interval
// and the kill itself, so that no caller waits longer than the bound.
int64_t supervisor_kill_after_ms(int64_t bound_ms);

// Delay before restart number `consecutive` (0-based) of an agent that died quickly.
int64_t supervisor_backoff_ms(int consecutive);

// Runs `agent_main` in a forked child under supervision and returns its exit status (in the
// supervisor). SIGINT, SIGTERM and SIGHUP are passed on to the agent. Call with those signals
// blocked (block_agent_signals) and before any thread or sensor exists.
int run_supervised(const std::function<int(SupervisorLink&)>& agent_main);

}  // namespace ringside
