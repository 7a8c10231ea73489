// exec_storm: what process monitoring costs a program that starts programs.
//
// Whole-process A/B with interleaved rounds: a workload process runs N x (fork, execve
// /bin/true, wait) with no agent, with the kernel-level process sensor (eBPF), and with the
// interposer (user level). Two references put the interposer's figure in proportion: a
// preloaded library that does nothing (`empty_lib`: what loading any LD_PRELOAD library into
// every program costs) and the interposer with no agent listening (`lib_only`). Prints wall time
// per exec, the ratio to no agent, and the agent's CPU per exec (all its threads, from the
// kernel's accounting).
//
//   exec_storm [--iterations N] [--rounds R] [--json FILE] [--only MODE,MODE...]
//              (--only: those modes and none)
//   exec_storm --workload N          (the workload itself)

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "lab/ab.hpp"
#include "lab/workloads.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 2000;
  int rounds = 5;
  std::string json_out, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--workload" && i + 1 < argc)
      return ringside::lab::exec_workload(std::atol(argv[++i]));
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atol(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: exec_storm [--iterations N] [--rounds R] [--json FILE] "
                   "[--only MODE,MODE...]\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "exec_storm: the agent's kernel level needs root\n");
    return 2;
  }
  const std::string build = RINGSIDE_BUILD_DIR;
  const std::string policy = read_file(std::string(RINGSIDE_SOURCE_DIR) + "/policy/default.yaml");
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';

  ringside::lab::AbConfig cfg;
  cfg.ringside = build + "/ringside";
  cfg.rounds = rounds;
  cfg.workload = {self, "--workload", std::to_string(iterations)};
  std::vector<ringside::lab::Mode> modes = {
      {"none", {}, "", {}},
      {"kernel", {"--levels", "kernel", "--domains", "process"}, policy, {}},
      {"user",
       {"--levels", "user", "--domains", "process"},
       policy,
       {"LD_PRELOAD=" + build + "/libringside-preload.so", "RINGSIDE_SOCKET={socket}"}},
      {"empty_lib", {}, "", {"LD_PRELOAD=" + build + "/bench/libringside-empty-preload.so"}},
      {"lib_only",
       {},
       "",
       {"LD_PRELOAD=" + build + "/libringside-preload.so",
        "RINGSIDE_SOCKET=/nonexistent/ringside-exec-storm.sock"}},
  };
  ringside::lab::keep_modes(modes, only);
  std::fprintf(stderr, "exec_storm: %ld x fork+execve(/bin/true)+wait per run, %d rounds\n",
               iterations, rounds);
  std::vector<ringside::lab::ModeResult> results;
  try {
    results = ringside::lab::run_ab(cfg, modes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exec_storm: %s\n", e.what());
    return 1;
  }
  const double base = results[0].median_wall() / static_cast<double>(iterations);
  std::printf("%-8s %12s %8s %16s %12s\n", "mode", "wall/exec", "ratio", "agent CPU/exec",
              "events/run");
  std::ostringstream js;
  js << "{\"benchmark\":\"exec_storm\",\"iterations\":" << iterations << ",\"rounds\":" << rounds
     << ",\"modes\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const double wall = r.median_wall() / static_cast<double>(iterations);
    const double cpu = r.median_agent_cpu() / static_cast<double>(iterations);
    if (modes[i].agent_args.empty()) {  // no agent in this mode
      std::printf("%-8s %9.1f us %8.3f %16s %12s\n", r.name.c_str(), wall / 1e3, wall / base, "-",
                  "-");
    } else {
      std::printf("%-8s %9.1f us %8.3f %13.2f us %12.0f\n", r.name.c_str(), wall / 1e3, wall / base,
                  cpu / 1e3, r.median_events());
    }
    js << (i ? "," : "") << "{\"name\":\"" << r.name << "\",\"wall_ns_per_exec\":" << wall
       << ",\"ratio\":" << wall / base << ",\"agent_cpu_ns_per_exec\":" << cpu
       << ",\"events_per_run\":" << r.median_events() << "}";
  }
  js << "]}\n";
  std::printf(
      "targets: kernel <= 1.02x wall and <= 5 us agent CPU per exec; interposer <= 1.05x\n"
      "(empty_lib: a preloaded library that does nothing; lib_only: the interposer, no agent)\n");
  if (!json_out.empty()) std::ofstream(json_out) << js.str();
  return 0;
}
