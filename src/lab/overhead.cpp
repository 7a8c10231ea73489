#include "lab/overhead.hpp"

#include <filesystem>
#include <stdexcept>

#include "lab/workloads.hpp"

namespace ringside::lab {

namespace {

constexpr long kOpenFiles = 64;

std::string policy_for(const std::string& area, const std::string& cgroup) {
  std::string p = "settings:\n";
  if (area == "file") p += "  file: {opens: all}\n";
  // Network: the socket programs on the lab's cgroup, no NFQUEUE chains (nothing is added to
  // the host's firewall), DNS not queued.
  p += "  network: {nfqueue: off, dns: false";
  if (!cgroup.empty()) p += ", cgroup: " + cgroup;
  p += "}\nrules: []\n";
  return p;
}

std::string domain_of(const std::string& area) {
  return area == "process" ? "process" : area == "file" ? "file" : "network";
}

}  // namespace

OverheadOptions quick_overhead_sizes(OverheadOptions o) {
  o.pairs = 3;
  o.exec_ops = 1000;
  o.open_ops = 5000;
  o.connect_ops = 1000;
  return o;
}

OverheadOptions full_overhead_sizes(OverheadOptions o) {
  o.pairs = 7;
  o.exec_ops = 3000;
  o.open_ops = 50000;
  o.connect_ops = 5000;
  return o;
}

std::vector<std::string> workload_command(const std::string& ringside, const std::string& area,
                                          long ops, const std::string& work_dir,
                                          const std::string& cgroup) {
  return {
      ringside, "lab-workload", area, std::to_string(ops), work_dir, cgroup.empty() ? "-" : cgroup};
}

int run_lab_workload(const std::string& area, long ops, const std::string& work_dir,
                     const std::string& cgroup) {
  if (ops <= 0) return 2;
  if (area == "process") return exec_workload(ops);
  if (area == "file") return open_workload(ops, work_dir, kOpenFiles);
  if (area == "network") return connect_workload(ops, cgroup);
  return 2;
}

std::vector<Mode> ringside_modes(const OverheadOptions& o, const std::string& area) {
  const std::string policy = policy_for(area, o.cgroup);
  const std::string domain = domain_of(area);
  return {
      {"none", {}, "", {}, "", {}, {}},
      {"kernel", {"--levels", "kernel", "--domains", domain}, policy, {}, "", {}, {}},
      {"user",
       {"--levels", "user", "--domains", domain},
       policy,
       {"LD_PRELOAD=" + o.preload_lib, "RINGSIDE_SOCKET={socket}"},
       "",
       {},
       {}},
  };
}

Result<std::vector<OverheadMeasurement>> measure_modes(const OverheadOptions& o,
                                                       const std::string& area,
                                                       const std::vector<Mode>& modes) {
  const long ops = area == "process" ? o.exec_ops : area == "file" ? o.open_ops : o.connect_ops;
  if (area == "file" && !make_open_files(o.work_dir, kOpenFiles)) {
    return Error{"overhead: cannot create the open workload's files in " + o.work_dir};
  }
  AbConfig cfg;
  cfg.ringside = o.ringside;
  cfg.rounds = o.pairs;
  cfg.workload = workload_command(o.ringside, area, ops, o.work_dir, o.cgroup);
  cfg.progress = o.progress;
  std::vector<ModeResult> results;
  try {
    results = run_ab(cfg, modes);
  } catch (const std::exception& e) {
    return Error{"overhead (" + area + "): " + e.what()};
  }
  std::vector<OverheadMeasurement> out;
  const ModeResult& base = results.front();
  const double n = static_cast<double>(ops);
  for (size_t i = 1; i < results.size(); ++i) {
    const ModeResult& r = results[i];
    OverheadMeasurement m;
    m.area = area;
    m.mode = r.name;
    m.ops = ops;
    m.pairs = o.pairs;
    m.base_wall_us_per_op = base.median_wall() / n / 1e3;
    m.wall_us_per_op = r.median_wall() / n / 1e3;
    m.ratio = pair_ratio(base, r);
    m.noise_pct = pair_spread_pct(base, r);
    m.base_workload_cpu_us_per_op = base.median_workload_cpu() / n / 1e3;
    m.workload_cpu_us_per_op = r.median_workload_cpu() / n / 1e3;
    m.agent_cpu_us_per_op = r.median_agent_cpu() / n / 1e3;
    m.agent_rss_mib = r.median_agent_rss() / 1024.0;
    m.events_per_run = r.median_events();
    if (area == "file" && (r.name == "kernel" || r.name == "user")) m.note = "opens: all";
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<OverheadMeasurement> measure_overhead(const OverheadOptions& o,
                                                  std::vector<std::string>* errors) {
  std::vector<OverheadMeasurement> out;
  for (const std::string area : {"process", "file", "network"}) {
    if (o.progress) o.progress("overhead: " + area);
    auto r = measure_modes(o, area, ringside_modes(o, area));
    if (!r) {
      if (errors != nullptr) errors->push_back(r.error().message);
      continue;
    }
    for (auto& m : *r) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace ringside::lab
