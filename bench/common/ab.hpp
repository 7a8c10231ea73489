// Whole-process A/B measurement: the workload runs in its own process, the agent in another,
// modes are interleaved round by round so that drift of the machine hits every mode alike, and
// the agent's CPU is read from the kernel's per-thread accounting (ns, all threads).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ringside::bench {

struct Mode {
  std::string name;
  // Arguments for `ringside run` (empty: no agent in this mode).
  std::vector<std::string> agent_args;
  std::string policy_yaml;
  // Extra environment for the workload ("K=V"); {socket} is replaced by the agent's socket.
  std::vector<std::string> workload_env;
  // The agent's program (called as `PROGRAM run ...`); AbConfig::ringside when empty.
  std::string agent;
};

struct Sample {
  double wall_ns = 0;       // workload wall time
  double agent_cpu_ns = 0;  // agent CPU while the workload ran (+ drain)
  uint64_t agent_events = 0;
  std::string agent_stats;  // the agent's counters file (JSON) as it wrote it at exit
};

struct ModeResult {
  std::string name;
  std::vector<Sample> samples;
  double median_wall() const;
  double median_agent_cpu() const;
  double median_events() const;
};

struct AbConfig {
  std::string ringside;  // path to the ringside binary
  int rounds = 5;
  // The workload command; run with each mode's environment.
  std::vector<std::string> workload;
  // How long the agent may keep working after the workload ended (events in flight).
  int drain_ms = 300;
  // Called before each run, before its agent starts (fresh input files, for instance).
  std::function<void(const Mode&)> prepare;
};

// Sum of on-CPU time of every thread of `pid` (/proc/PID/task/*/schedstat), ns.
uint64_t process_cpu_ns(pid_t pid);
// Resident set size of `pid` in KiB.
uint64_t process_rss_kib(pid_t pid);

std::vector<ModeResult> run_ab(const AbConfig& config, const std::vector<Mode>& modes);

double median(std::vector<double> v);

}  // namespace ringside::bench
