// The lab's overhead section: the exec, open and connect workloads (lab/workloads.hpp), each in
// its own process, run as interleaved A/B pairs with no agent, with the agent's kernel level
// and with its user level (the interposer preloaded into the workload), or with a peer.
// Figures per area and mode: wall-time ratio to no agent (median of per-pair ratios), the
// spread of those ratios (the noise), the workload's own CPU, the agent's CPU per operation
// (schedstat of every agent thread) and its resident set size.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "lab/ab.hpp"

namespace ringside::lab {

struct OverheadOptions {
  std::string ringside;     // the ringside binary (agent and workload)
  std::string preload_lib;  // libringside-preload.so
  std::string work_dir;     // scratch directory: open workload's files, agent files
  std::string cgroup;       // child cgroup: the connect workload and the socket programs
  int pairs = 3;
  long exec_ops = 1000;
  long open_ops = 20000;
  long connect_ops = 2000;
  std::function<void(const std::string&)> progress;
};

// Sizes for `ringside lab --quick` (the whole lab under 3 minutes) and the full run.
OverheadOptions quick_overhead_sizes(OverheadOptions o);
OverheadOptions full_overhead_sizes(OverheadOptions o);

struct OverheadMeasurement {
  std::string area;  // process | file | network
  std::string mode;  // kernel | user | a peer's name
  long ops = 0;      // operations per run
  int pairs = 0;
  double base_wall_us_per_op = 0;  // no agent
  double wall_us_per_op = 0;
  double ratio = 0;      // median of per-pair wall ratios (1.0: no overhead)
  double noise_pct = 0;  // (max - min) / median of those ratios
  double base_workload_cpu_us_per_op = 0;
  double workload_cpu_us_per_op = 0;  // user + system of the workload process tree
  double agent_cpu_us_per_op = 0;     // the agent's (or peer's) CPU
  double agent_rss_mib = 0;
  double events_per_run = 0;  // JSON lines the agent wrote (ringside modes)
  std::string note;           // what the mode reports (e.g. "opens: all")
};

// A workload's command line for `ringside lab-workload`.
std::vector<std::string> workload_command(const std::string& ringside, const std::string& area,
                                          long ops, const std::string& work_dir,
                                          const std::string& cgroup);

// The ringside modes of an area: none (first), kernel, user.
std::vector<Mode> ringside_modes(const OverheadOptions& o, const std::string& area);

// Interleaved pairs of `modes` (the first is the baseline, with no agent) on the area's
// workload; one measurement per mode after the first. Errors name the area.
Result<std::vector<OverheadMeasurement>> measure_modes(const OverheadOptions& o,
                                                       const std::string& area,
                                                       const std::vector<Mode>& modes);

// Every area, in order process, file, network; an area that failed is skipped and its error
// appended to `errors`.
std::vector<OverheadMeasurement> measure_overhead(const OverheadOptions& o,
                                                  std::vector<std::string>* errors);

// `ringside lab-workload AREA OPS WORK_DIR CGROUP`: runs one workload; the exit status.
int run_lab_workload(const std::string& area, long ops, const std::string& work_dir,
                     const std::string& cgroup);

}  // namespace ringside::lab
