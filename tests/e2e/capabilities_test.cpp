// After start-up the agent keeps only the capabilities docs/architecture.md lists
// ("Privileges"), in every thread and in the supervisor, and still does its work.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "agent/capabilities.hpp"
#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

// CapInh, CapPrm, CapEff, CapBnd, CapAmb of one /proc/<pid>[/task/<tid>]/status.
std::map<std::string, uint64_t> capability_sets(const std::string& status_path) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Cap", 0) != 0) continue;
    const size_t colon = line.find(':');
    out[line.substr(0, colon)] = std::stoull(line.substr(colon + 1), nullptr, 16);
  }
  return out;
}

// The documented set, within what this test (and so the agent it starts) may hold at all: a
// container or a service manager may have taken some from the bounding set already.
uint64_t kept_mask() {
  uint64_t mask = 0;
  for (int c : kept_capabilities()) mask |= uint64_t{1} << c;
  return mask & capability_sets("/proc/self/status").at("CapBnd");
}

void expect_only_kept(const std::string& status_path) {
  const auto sets = capability_sets(status_path);
  ASSERT_EQ(sets.size(), 5u) << status_path;
  EXPECT_EQ(sets.at("CapEff"), kept_mask()) << status_path << std::hex << " CapEff";
  EXPECT_EQ(sets.at("CapPrm"), kept_mask()) << status_path << std::hex << " CapPrm";
  EXPECT_EQ(sets.at("CapBnd"), kept_mask()) << status_path << std::hex << " CapBnd";
  EXPECT_EQ(sets.at("CapInh"), 0u) << status_path;
  EXPECT_EQ(sets.at("CapAmb"), 0u) << status_path;
}

TEST(Capabilities, AgentAndEveryThreadKeepOnlyTheDocumentedSetAndStillWork) {
  RINGSIDE_REQUIRE_ROOT();
  // Root starts with the full set: the test is meaningful only if something gets dropped.
  ASSERT_NE(capability_sets("/proc/self/status").at("CapEff") & ~kept_mask(), 0u);
  AgentProcess::Options o;
  o.domains = "process,file,network";
  std::string err;
  auto agent = AgentProcess::start(o, &err);
  ASSERT_NE(agent, nullptr) << err;
  int threads = 0;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(agent->pid()) + "/task")) {
    expect_only_kept(t.path().string() + "/status");
    ++threads;
  }
  EXPECT_GT(threads, 1);
  // Still sees: an exec after the drop is reported with its executable.
  const std::string exe =
      copy_program("/bin/true", "/tmp/rs-caps-true-" + std::to_string(getpid()));
  const RunResult r = run({exe});
  EXPECT_EQ(r.exit_code, 0);
  const auto ev = agent->wait_for([&](const json& e) {
    const json* x = field(e, "process.executable");
    const json* a = field(e, "event.action");
    return x && a && *x == exe && *a == "exec";
  });
  std::filesystem::remove(exe);
  EXPECT_TRUE(ev) << agent->log();
}

TEST(Capabilities, SupervisorAndRestartedAgentKeepOnlyTheDocumentedSet) {
  RINGSIDE_REQUIRE_ROOT();
  AgentProcess::Options o;
  o.supervisor = true;
  std::string err;
  auto agent = AgentProcess::start(o, &err);
  ASSERT_NE(agent, nullptr) << err;
  expect_only_kept("/proc/" + std::to_string(agent->pid()) + "/status");
  const auto ready = agent->ready_now();
  ASSERT_TRUE(ready.contains("pid")) << ready.dump();
  const int child = ready["pid"].get<int>();
  EXPECT_NE(child, agent->pid());
  expect_only_kept("/proc/" + std::to_string(child) + "/status");
}

}  // namespace
}  // namespace ringside::e2e
