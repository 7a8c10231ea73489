// Every thread of a running agent carries its part's name ("rs-..."), so that top -H and
// /proc/PID/task/TID/comm tell an operator where the agent's CPU goes.

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

TEST(AgentThreads, EveryThreadButTheMainOneIsNamed) {
  RINGSIDE_REQUIRE_ROOT();
  AgentProcess::Options o;
  o.domains = "process,file,network";
  std::string err;
  auto agent = AgentProcess::start(o, &err);
  ASSERT_NE(agent, nullptr) << err;
  const std::string task_dir = "/proc/" + std::to_string(agent->pid()) + "/task";
  std::set<std::string> names;
  for (const auto& t : std::filesystem::directory_iterator(task_dir)) {
    std::string comm = slurp(t.path().string() + "/comm");
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (t.path().filename() == std::to_string(agent->pid())) {
      EXPECT_EQ(comm, "ringside");
      continue;
    }
    EXPECT_EQ(comm.rfind("rs-", 0), 0u)
        << "thread " << t.path().filename() << " is named '" << comm << "'";
    names.insert(comm);
  }
  // The parts every kernel+user agent with these domains runs.
  for (const char* part : {"rs-sink", "rs-proc-ebpf", "rs-hook-server"}) {
    EXPECT_EQ(names.count(part), 1u) << part << " missing; threads: " << names.size();
  }
}

}  // namespace
}  // namespace ringside::e2e
