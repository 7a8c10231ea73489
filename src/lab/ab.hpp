// Whole-process A/B measurement (the lab's overhead and peers sections, the benchmarks): the
// workload runs in its own process, the agent (or a peer) in another, modes are interleaved
// round by round so that drift of the machine hits every mode alike, and the agent's CPU is
// read from the kernel's per-thread accounting (schedstat: ns, all threads; /proc/PID/stat's
// utime + stime count in clock ticks, too coarse for runs of a few thousand operations).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ringside::lab {

struct Mode {
  std::string name;
  // Arguments for `ringside run` (empty: no agent in this mode).
  std::vector<std::string> agent_args;
  std::string policy_yaml;
  // Extra environment for the workload ("K=V"); {socket} is replaced by the agent's socket.
  std::vector<std::string> workload_env;
  // The agent's program (called as `PROGRAM run ...`); AbConfig::ringside when empty.
  std::string agent;
  // A peer instead of a ringside agent: started before each run of the workload, stopped
  // after it (bounded, every path). `start` returns the pid whose CPU and RSS are measured
  // (0: nothing to measure, e.g. a library preloaded into the workload) or throws.
  std::function<pid_t()> start;
  std::function<void()> stop;
  // The agent runs in a network namespace of its own (`unshare --net`), and the workload joins
  // it (RS_LAB_NETNS=/proc/AGENT/ns/net): rules the agent installs there (NFQUEUE) see the
  // workload's traffic and nothing of the host's.
  bool agent_own_netns = false;
};

struct Sample {
  double wall_ns = 0;          // workload wall time
  double workload_cpu_ns = 0;  // workload user + system time (wait4), its children included
  double agent_cpu_ns = 0;     // agent CPU while the workload ran (+ drain)
  double agent_rss_kib = 0;    // agent resident set size at the end of the run
  uint64_t agent_events = 0;
  std::string agent_stats;  // the agent's counters file (JSON) as it wrote it at exit
};

struct ModeResult {
  std::string name;
  std::vector<Sample> samples;
  double median_wall() const;
  double median_agent_cpu() const;
  double median_events() const;
  double median_workload_cpu() const;
  double median_agent_rss() const;
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
  // Progress lines ("round r/R mode seconds"); stderr when empty.
  std::function<void(const std::string&)> progress;
};

// Sum of on-CPU time of every thread of `pid` (/proc/PID/task/*/schedstat), ns.
uint64_t process_cpu_ns(pid_t pid);
// Resident set size of `pid` in KiB.
uint64_t process_rss_kib(pid_t pid);

std::vector<ModeResult> run_ab(const AbConfig& config, const std::vector<Mode>& modes);

double median(std::vector<double> v);

// Relative spread of A/B pairs: for each round, the ratio of `mode`'s wall time to `base`'s
// (the same round, so machine drift hits both), then (max - min) / median of those ratios, in
// percent. 0 with fewer than two rounds.
double pair_spread_pct(const ModeResult& base, const ModeResult& mode);
// The median of the per-round ratios mode / base.
double pair_ratio(const ModeResult& base, const ModeResult& mode);

// A reference mode: empty eBPF programs (bpftrace, `PROBE,PROBE { }`) on the tracepoints a
// kernel-level sensor uses, what any program there costs before it does anything. `why_not` is
// set (and the mode is not usable) when bpftrace is missing. Its log goes to `dir`.
Mode empty_probes_mode(const std::string& name, const std::vector<std::string>& probes,
                       const std::string& dir, std::string* why_not);

// A benchmark's `--only MODE,MODE...`: keeps "none" and the modes named in `only`
// (comma-separated); all of them when `only` is empty.
void keep_modes(std::vector<Mode>& modes, const std::string& only);

}  // namespace ringside::lab
