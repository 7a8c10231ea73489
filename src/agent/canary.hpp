// The canary heartbeat (settings.canary, docs/policy.md): at each interval the agent starts a
// helper process (`ringside canary-helper`, with the interposer preloaded when the hook server
// is live) that performs a marked open, a marked connect and a marked exec, then checks that
// every live sensor that should see that kind of operation reported it. A sensor that missed
// one is blind although it counts as live: the agent raises a ringside.alert naming the sensor
// and the operation.
//
//   canary thread:  plan checks -> spawn helper (held on a pipe until its pid is known)
//                   -> release -> wait for its exit (bounded) -> wait for the events (bounded)
//                   -> ringside.alert per missed (sensor, operation)
//   sensor threads: Agent::emit -> Canary::observe (one atomic load for foreign events)
//
// The helper is exempt from every decision the agent makes (Agent::decide answers allow at
// once for its pid), so it never waits on a permission event or a hooked-call verdict.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"
#include "policy/policy.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

enum class CanaryOp : uint8_t { kExec, kOpen, kConnect };
std::string_view to_string(CanaryOp op);

// One sensor and one marked operation it must report.
struct CanaryCheck {
  std::string sensor;     // instance name, e.g. file_ebpf
  std::string mechanism;  // its ringside.sensor value, e.g. ebpf
  Level level = Level::kKernel;
  CanaryOp op = CanaryOp::kExec;
};

// A live sensor as the planner sees it.
struct CanarySensor {
  std::string name;
  std::string mechanism;
  Level level = Level::kKernel;
  Domain domain = Domain::kProcess;
};

struct CanaryPlanInput {
  std::vector<CanarySensor> live;
  policy::FileSettings file;
  std::string canary_dir;         // where the helper's marked file is created
  bool helper_preloaded = false;  // the helper runs with the interposer
  bool hooks_report_files = false;
  bool hooks_report_network = false;
  // Device of a path (stat's st_dev), for fanotify filesystem and mount marks; nothing when
  // the path cannot be read.
  std::function<std::optional<uint64_t>(const std::string&)> device_of;
};

// Which (sensor, operation) pairs the canary checks. Sensors that only see what deny rules
// mark (fanotify permission events, NFQUEUE, cgroup socket programs) and keyboard sensors
// are not checked: without a rule naming the canary they are not supposed to see it.
std::vector<CanaryCheck> plan_canary_checks(const CanaryPlanInput& in);

// The operation a reported event stands for, if any: process.exec -> exec, file.open and
// file.create -> open, network.connect -> connect.
std::optional<CanaryOp> canary_op_of(EventType type);

// One heartbeat: the checks and which were seen. Thread-safe.
class CanaryRound {
 public:
  explicit CanaryRound(std::vector<CanaryCheck> checks);
  // Marks every check this event satisfies (the caller matched the helper's pid); true when
  // all checks are now seen.
  bool observe(const Event& ev);
  std::vector<CanaryCheck> missed() const;
  size_t size() const { return checks_.size(); }

 private:
  mutable std::mutex mu_;
  std::vector<CanaryCheck> checks_;
  std::vector<bool> seen_;
  size_t remaining_;
};

class Canary {
 public:
  struct Config {
    std::string helper_binary;  // the ringside binary (`canary-helper` subcommand)
    std::string preload_lib;    // interposer library; empty: the helper runs without it
    std::string hook_socket;    // RINGSIDE_SOCKET for the helper
    std::string dir;            // canary directory, created 0700
    // Fault injection for tests: `fault` runs once, `fault_after_ms` after start().
    std::function<void()> fault;
    int64_t fault_after_ms = 0;
  };
  struct Stats {
    uint64_t rounds = 0, alerts = 0, helper_failures = 0;
  };
  using IntervalFn = std::function<int64_t()>;  // current interval in ms; 0: paused
  using PlanFn = std::function<std::vector<CanaryCheck>(bool helper_preloaded)>;
  using RaiseFn = std::function<void(Event&&)>;

  Canary(Config config, IntervalFn interval, PlanFn plan, RaiseFn raise);
  ~Canary();
  Canary(const Canary&) = delete;
  Canary& operator=(const Canary&) = delete;

  // Creates the directory, reserves the closed loopback port and starts the thread.
  Result<void> start();
  void stop();  // idempotent; kills and reaps a running helper

  // Called for every event the agent emits, from any thread.
  void observe(const Event& ev);
  // The running helper's pid: exempt from every decision.
  bool is_helper(int64_t pid) const {
    const pid_t p = helper_pid_.load(std::memory_order_relaxed);
    return p > 0 && p == pid;
  }
  Stats stats() const;

 private:
  void loop();
  void run_round(int64_t interval_ms, uint64_t round);
  void alert(const CanaryCheck* check, std::string_view op, std::string message);
  bool sleep_for_ms(int64_t ms);  // false when stopping

  Config cfg_;
  IntervalFn interval_;
  PlanFn plan_;
  RaiseFn raise_;
  int port_fd_ = -1;  // bound, never listening: connects to it are refused
  uint16_t port_ = 0;
  std::thread thread_;
  std::thread fault_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<pid_t> helper_pid_{0};
  std::shared_ptr<CanaryRound> round_;  // under mu_
  std::atomic<uint64_t> rounds_{0}, alerts_{0}, helper_failures_{0};
};

// The helper's side (`ringside canary-helper DIR TOKEN PORT`): waits for the agent's go on
// descriptor 3, creates DIR/TOKEN, connects to 127.0.0.1:PORT (refused), then execs
// /bin/true with the marker argument. Returns only on failure: the exit status to use.
int run_canary_helper(const std::string& dir, const std::string& token, uint16_t port);

}  // namespace ringside
