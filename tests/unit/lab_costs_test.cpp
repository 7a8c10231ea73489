// The lab's overhead and peers pieces that need no privileges: per-pair ratios and their
// spread, the workload command line, the peers' steps, host-state comparison, and the bounded
// command runner.

#include <gtest/gtest.h>

#include <chrono>

#include "lab/ab.hpp"
#include "lab/overhead.hpp"
#include "lab/peer_setup.hpp"
#include "lab/peers.hpp"

namespace ringside::lab {
namespace {

ModeResult mode(const std::string& name, std::vector<double> walls) {
  ModeResult r;
  r.name = name;
  for (double w : walls) {
    Sample s;
    s.wall_ns = w;
    r.samples.push_back(s);
  }
  return r;
}

TEST(LabOverhead, RatiosArePerPair) {
  // Round 2 ran on a slower machine for both modes: the pair ratio is unaffected.
  const ModeResult none = mode("none", {100, 200, 100});
  const ModeResult kernel = mode("kernel", {110, 220, 110});
  EXPECT_DOUBLE_EQ(pair_ratio(none, kernel), 1.1);
  EXPECT_NEAR(pair_spread_pct(none, kernel), 0.0, 1e-9);
  // Ratios 1.0, 1.2, 1.1: median 1.1, spread (1.2 - 1.0) / 1.1.
  const ModeResult user = mode("user", {100, 240, 110});
  EXPECT_DOUBLE_EQ(pair_ratio(none, user), 1.1);
  EXPECT_NEAR(pair_spread_pct(none, user), 100.0 * 0.2 / 1.1, 1e-9);
  EXPECT_EQ(pair_spread_pct(mode("a", {1}), mode("b", {2})), 0.0);  // one pair: no spread
}

TEST(LabOverhead, MediansOfSamples) {
  ModeResult r = mode("x", {3, 1, 2});
  r.samples[0].agent_rss_kib = 2048;
  r.samples[1].agent_rss_kib = 1024;
  r.samples[2].agent_rss_kib = 4096;
  r.samples[0].workload_cpu_ns = 5;
  EXPECT_DOUBLE_EQ(r.median_wall(), 2);
  EXPECT_DOUBLE_EQ(r.median_agent_rss(), 2048);
  EXPECT_DOUBLE_EQ(r.median_workload_cpu(), 0);
}

TEST(LabOverhead, WorkloadCommandAndModes) {
  EXPECT_EQ(
      workload_command("/b/ringside", "network", 1000, "/w", ""),
      (std::vector<std::string>{"/b/ringside", "lab-workload", "network", "1000", "/w", "-"}));
  OverheadOptions o;
  o.preload_lib = "/b/libringside-preload.so";
  o.cgroup = "/sys/fs/cgroup/x";
  const auto modes = ringside_modes(o, "network");
  ASSERT_EQ(modes.size(), 3U);
  EXPECT_EQ(modes[0].name, "none");
  EXPECT_TRUE(modes[0].agent_args.empty());
  EXPECT_EQ(modes[1].agent_args,
            (std::vector<std::string>{"--levels", "kernel", "--domains", "network"}));
  // Nothing in the host's firewall, the socket programs on the lab's cgroup.
  EXPECT_NE(modes[1].policy_yaml.find("nfqueue: off"), std::string::npos);
  EXPECT_NE(modes[1].policy_yaml.find("cgroup: /sys/fs/cgroup/x"), std::string::npos);
  EXPECT_EQ(modes[2].workload_env, (std::vector<std::string>{"LD_PRELOAD=/b/libringside-preload.so",
                                                             "RINGSIDE_SOCKET={socket}"}));
  EXPECT_NE(ringside_modes(o, "file")[1].policy_yaml.find("opens: all"), std::string::npos);
  EXPECT_EQ(run_lab_workload("nonsense", 10, "/tmp", "-"), 2);
  EXPECT_EQ(run_lab_workload("process", 0, "/tmp", "-"), 2);
}

TEST(LabOverhead, QuickIsSmallerThanFull) {
  const auto q = quick_overhead_sizes({});
  const auto f = full_overhead_sizes({});
  EXPECT_LT(q.pairs, f.pairs);
  EXPECT_LT(q.exec_ops, f.exec_ops);
  EXPECT_GE(q.pairs, 3);  // a spread needs pairs
}

TEST(LabPeers, StepsAreTheProcessAndFileBatteryWithItsMarkers) {
  const LabEnv env{"r1", "/scratch", "/bin-dir", "", 0};
  const auto steps = default_peer_steps(env);
  const auto processes = process_scenarios(env);
  const auto files = file_scenarios(env);
  ASSERT_EQ(steps.size(), processes.size() + files.size() + 1);
  // The battery's scenarios, same ids, markers and programs as ringside's cells.
  EXPECT_EQ(steps[0].id, processes[0].id);
  EXPECT_EQ(steps[0].marker, processes[0].marker);
  EXPECT_EQ(steps[0].argv, processes[0].argv);
  EXPECT_EQ(steps[processes.size()].id, files[0].id);
  for (const auto& s : steps) EXPECT_EQ(s.id.rfind("network.", 0), std::string::npos) << s.id;
  // The file's path reaches the shell through the environment, not its command line.
  const auto& create = steps.back();
  EXPECT_EQ(create.id, "file.create");
  for (const auto& a : create.argv) EXPECT_EQ(a.find(create.marker), std::string::npos);
  EXPECT_EQ(create.env,
            (std::vector<std::string>{"RS_PEER_TARGET=/scratch/rs-peer-r1-file_create"}));
}

TEST(LabPeers, HostDifferencesNameWhatChanged) {
  HostState a;
  a.audit_rules = "No rules\n";
  a.audit_enabled = "0";
  a.peer_processes = {10};
  HostState b = a;
  EXPECT_TRUE(host_differences(a, b).empty());
  b.audit_rules = "-a always,exit -S execve -k ringside-lab\n";
  b.audit_enabled = "1";
  b.ld_preload_exists = true;
  b.peer_processes = {10, 42};
  b.iptables = "-A OUTPUT -j NFQUEUE\n";
  b.snoopy_ini = "[snoopy]\noutput = file:/tmp/x\n";
  const auto d = host_differences(a, b);
  ASSERT_EQ(d.size(), 6U);
  EXPECT_EQ(d[0], "/etc/ld.so.preload changed");
  EXPECT_NE(d[1].find("ringside-lab"), std::string::npos);
  EXPECT_EQ(d[2], "audit enabled changed from 0 to 1");
  EXPECT_EQ(d[3], "root namespace iptables rules changed");
  EXPECT_EQ(d[4], "peer process 42 left running");  // pid 10 ran before: not ours
  EXPECT_EQ(d[5], "/etc/snoopy.ini changed");
}

TEST(LabPeers, CommandsAreBounded) {
  using namespace std::chrono_literals;
  const auto quick = run_command({"sh", "-c", "cat; echo done; exit 3"}, 5s, "in\n");
  EXPECT_EQ(quick.status, 3);
  EXPECT_FALSE(quick.timed_out);
  EXPECT_EQ(quick.out, "in\ndone\n");
  const auto t0 = std::chrono::steady_clock::now();
  const auto slow = run_command({"sleep", "30"}, 200ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.status, 128 + 9);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  const auto missing = run_command({"/nonexistent/program"}, 1s);
  EXPECT_NE(missing.status, 0);
}

}  // namespace
}  // namespace ringside::lab
