// ringside lab: the measured comparison of the two levels (docs/lab.md).

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/commands.hpp"
#include "lab/lab_costs.hpp"
#include "lab/runner.hpp"

namespace ringside::cli {

namespace {

struct LabArgs {
  bool quick = false;
  bool no_overhead = false;
  bool no_peers = false;
  std::string out = "lab-report";
};

int lab(const LabArgs& a) {
  if (geteuid() != 0) {
    std::cerr << "ringside lab: needs root (it runs the agent's kernel sensors, a scratch mount, "
                 "a network namespace and a cgroup)\n";
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  lab::LabOptions o;
  o.quick = a.quick;
  o.out_dir = a.out;
  o.bin_dir = self_dir();
  lab::LabReport report;
  const bool ran = lab::run_lab(o, report);
  if (ran && !(a.no_overhead && a.no_peers)) {
    lab::CostOptions c;
    c.quick = a.quick;
    c.bin_dir = o.bin_dir;
    c.run_id = report.run_id;
    c.overhead = !a.no_overhead;
    c.peers = !a.no_peers;
    c.progress = [](const std::string& line) { std::cerr << "ringside lab: " << line << "\n"; };
    lab::measure_costs(c, report);
  }
  report.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string error;
  if (!lab::write_reports(report, a.out, &error)) {
    std::cerr << "ringside lab: " << error << "\n";
    return 1;
  }
  std::cerr << "ringside lab: report in " << a.out << "/report.{json,md,html} after "
            << report.elapsed_s << " s\n";
  for (const auto& e : report.errors) std::cerr << "ringside lab: error: " << e << "\n";
  return ran && report.errors.empty() ? 0 : 1;
}

}  // namespace

void add_lab(CLI::App& app, int& status) {
  auto args = std::make_shared<LabArgs>();
  CLI::App* cmd = app.add_subcommand(
      "lab", "Run the scenario battery at each level, monitor and deny, and write a report");
  cmd->add_flag("--quick", args->quick, "One pass of each scenario (well under 3 minutes)");
  cmd->add_flag("--no-overhead", args->no_overhead, "Skip the overhead measurements");
  cmd->add_flag("--no-peers", args->no_peers, "Skip the peers (auditd, snoopy, fatrace, ...)");
  cmd->add_option("--out", args->out, "Directory for report.json, report.md and report.html")
      ->capture_default_str();
  cmd->callback([args, &status] { status = lab(*args); });
}

}  // namespace ringside::cli
