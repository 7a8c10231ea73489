// The proc connector fallback against the real kernel (agent with --force-fallback): exec and
// exit events completed from /proc, and a deny enforced by the agent's late kill. Programs
// run and killed here are scratch copies of /bin/dash, matched by path and argv marker.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

struct ProcConnector : ::testing::Test {
  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.levels = "kernel";
    o.force_fallback = true;
    o.policy_yaml = policy;
    std::string error;
    agent = AgentProcess::start(o, &error);
    ASSERT_NE(agent, nullptr) << error;
  }
  std::optional<json> wait_event(const std::string& action, pid_t pid) {
    return agent->wait_for([&](const json& e) {
      return str_field(e, "event.action") == action && int_field(e, "process.pid") == pid &&
             str_field(e, "ringside.sensor") == "proc_connector";
    });
  }

  ScratchDir dir{"pconn"};
  std::string victim = copy_program("/bin/dash", dir.file("rs-pc-victim"));
  std::unique_ptr<AgentProcess> agent;
};

TEST_F(ProcConnector, ReadyExecAndExit) {
  RINGSIDE_REQUIRE_ROOT();
  start_agent("rules: []\n");
  bool live = false;
  for (const auto& s : agent->ready()["sensors"]) {
    EXPECT_NE(s["name"], "process_ebpf") << "the fallback was forced";
    live = live || (s["name"] == "process_proc_connector" && s["mechanism"] == "proc_connector" &&
                    s["state"] == "live");
  }
  EXPECT_TRUE(live) << agent->ready().dump(2);

  // Lives 0.3 s, so /proc still describes it when the exec event is read.
  const std::string tag = "rs-pc-" + std::to_string(getpid());
  const RunResult r = run({victim, "-c", "sleep 0.3; exit 5", tag});
  ASSERT_EQ(r.exit_code, 5) << r.err;

  auto exec = wait_event("exec", r.pid);
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(str_field(*exec, "process.executable"), real(victim));
  EXPECT_EQ(str_field(*exec, "process.name"), "rs-pc-victim");
  EXPECT_EQ(*field(*exec, "process.args"), json::array({victim, "-c", "sleep 0.3; exit 5", tag}));
  EXPECT_EQ(int_field(*exec, "process.args_count"), 4);
  EXPECT_EQ(int_field(*exec, "process.parent.pid"), getpid());
  EXPECT_EQ(int_field(*exec, "user.id"), 0);
  EXPECT_EQ(str_field(*exec, "ringside.level"), "kernel");

  auto exit = wait_event("exit", r.pid);
  ASSERT_TRUE(exit) << agent->log();
  EXPECT_EQ(int_field(*exit, "process.exit_code"), 5);
  EXPECT_EQ(int_field(*exit, "process.parent.pid"), getpid());

  auto fork = wait_event("fork", r.pid);
  ASSERT_TRUE(fork);
  EXPECT_EQ(int_field(*fork, "process.parent.pid"), getpid());
}

TEST_F(ProcConnector, DenyIsALateKill) {
  RINGSIDE_REQUIRE_ROOT();
  const std::string tag = "rs-pc-kill-" + std::to_string(getpid());
  start_agent(
      "rules:\n  - name: pc-deny\n    on: process.exec\n    match:\n"
      "      process.executable: {prefix: \"" +
      dir.path() +
      "/\"}\n"
      "      process.args: \"" +
      tag + "\"\n    action: deny\n");
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run({victim, "-c", "while :; do :; done", tag}, {}, 8s);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s) << "not killed by the agent";
  auto exec = wait_event("exec", r.pid);
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(str_field(*exec, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*exec, "ringside.rule"), "pc-deny");
  EXPECT_EQ(str_field(*exec, "ringside.enforcement"), "late_kill");
  auto exit = wait_event("exit", r.pid);
  ASSERT_TRUE(exit);
  EXPECT_EQ(int_field(*exit, "process.exit_code"), -SIGKILL);
}

}  // namespace
}  // namespace ringside::e2e
