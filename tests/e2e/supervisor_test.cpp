// End to end: `ringside run`'s own supervisor. A SIGSTOPped agent holding fanotify permission
// marks (open and exec deny rules on a scratch tmpfs) is killed by its supervisor within
// settings.supervisor.bound, so no opener or exec waits longer; the supervisor then restarts
// the agent, which enforces the rules again.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_mount.hpp"
#include "waiters.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

pid_t agent_pid_of(const json& ready) {
  return ready.is_object() && ready.contains("pid") ? ready["pid"].get<pid_t>() : 0;
}

class Supervisor : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    mnt_ = std::make_unique<ScratchMount>();
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
    std::ofstream(mnt_->file("secret")) << "secret";
    std::ofstream(mnt_->file("other")) << "other";
    forbidden_ = copy_program("/bin/true", mnt_->file("forbidden"));
    allowed_ = copy_program("/bin/true", mnt_->file("allowed"));
  }
  // The supervisor first (so it restarts nothing), then whichever agent it ran last: a stopped
  // agent must never outlive the test with its marks.
  void TearDown() override {
    if (agent_) {
      const pid_t agent = agent_pid_of(agent_->ready_now());
      agent_->kill9();
      if (agent > 0) kill(agent, SIGKILL);
      std::this_thread::sleep_for(100ms);
    }
    agent_.reset();
    mnt_.reset();
  }

  std::string policy(const std::string& settings) const {
    return "settings:\n" + settings + "  file:\n    watch: [{path: " + mnt_->path() +
           "}]\n    opens: none\nrules:\n  - {name: no-secret, on: file.open, match: {file.path: " +
           mnt_->file("secret") +
           "}, action: deny}\n  - {name: no-forbidden, on: process.exec, match: "
           "{process.executable: " +
           forbidden_ + "}, action: deny}\n";
  }

  void start_agent(const std::string& policy_yaml) {
    AgentProcess::Options o;
    o.policy_yaml = policy_yaml;
    o.levels = "kernel";
    o.domains = "process,file";
    o.supervisor = true;
    o.extra_args = {"--log-level", "info"};
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }

  // Both rules enforced by the agent now running.
  void expect_enforced() const {
    std::vector<Waiter> ws{start_open_waiter(mnt_->file("secret")), start_exec_waiter(forbidden_),
                           start_open_waiter(mnt_->file("other")), start_exec_waiter(allowed_)};
    reap_waiters(ws, 5s);
    for (const auto& w : ws) ASSERT_TRUE(w.finished) << w.what;
    EXPECT_EQ(WEXITSTATUS(ws[0].status), 1) << "open of the denied file worked";
    EXPECT_EQ(WEXITSTATUS(ws[1].status), 127) << "exec of the denied program worked";
    EXPECT_EQ(WEXITSTATUS(ws[2].status), 0);
    EXPECT_EQ(WEXITSTATUS(ws[3].status), 0);
  }

  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
  std::string forbidden_, allowed_;
};

// The default bound (5 s): a stopped agent is killed, every waiting open and exec finishes
// within the bound, and the restarted agent enforces the rules again.
TEST_F(Supervisor, StoppedAgentKilledWithinBoundAndRestarted) {
  ASSERT_NO_FATAL_FAILURE(start_agent(policy("")));
  const pid_t agent = agent_pid_of(agent_->ready());
  ASSERT_GT(agent, 0);
  ASSERT_NE(agent, agent_->pid()) << "the agent should be the supervisor's child";
  ASSERT_NO_FATAL_FAILURE(expect_enforced());

  ASSERT_EQ(kill(agent, SIGSTOP), 0);
  std::this_thread::sleep_for(200ms);  // the waiters start while the agent is stopped
  std::vector<Waiter> ws{start_open_waiter(mnt_->file("other")), start_exec_waiter(allowed_),
                         start_open_waiter(mnt_->file("secret"))};
  const auto longest = reap_waiters(ws, 15s);
  for (const auto& w : ws) {
    ASSERT_TRUE(w.finished) << w.what << " still blocked after 15 s\n" << agent_->log();
  }
  // Permission events the dead agent left pending are allowed by the kernel.
  EXPECT_EQ(WEXITSTATUS(ws[0].status), 0);
  EXPECT_EQ(WEXITSTATUS(ws[1].status), 0);
  std::cout << "supervisor bound 5000 ms: longest wait " << longest.count() << " ms (open "
            << ws[0].waited.count() << ", exec " << ws[1].waited.count() << ", denied open "
            << ws[2].waited.count() << ")\n";
  EXPECT_GE(ws[0].waited, 1s) << "the open did not wait for the stopped agent";
  EXPECT_LE(longest, 5000ms + 500ms);
  EXPECT_NE(agent_->log().find("silent for"), std::string::npos) << agent_->log();

  // Restarted: a new agent writes the ready file and enforces both rules again.
  const auto deadline = Clock::now() + 30s;
  pid_t restarted = 0;
  while (Clock::now() < deadline) {
    restarted = agent_pid_of(agent_->ready_now());
    if (restarted > 0 && restarted != agent) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(restarted, agent) << agent_->log();
  ASSERT_GT(restarted, 0);
  ASSERT_NO_FATAL_FAILURE(expect_enforced());
  // SIGTERM to the supervisor stops the agent cleanly and both exit.
  EXPECT_EQ(agent_->stop(), 0) << agent_->log();
  EXPECT_NE(kill(restarted, 0), 0) << "the agent outlived its supervisor";
}

// A bound from the policy (settings.supervisor.bound) applies; restart: false ends the
// supervisor with the agent.
TEST_F(Supervisor, BoundFromPolicyNoRestart) {
  ASSERT_NO_FATAL_FAILURE(start_agent(policy("  supervisor: {bound: 1500ms, restart: false}\n")));
  const pid_t agent = agent_pid_of(agent_->ready());
  ASSERT_GT(agent, 0);
  ASSERT_EQ(kill(agent, SIGSTOP), 0);
  std::this_thread::sleep_for(100ms);
  std::vector<Waiter> ws{start_open_waiter(mnt_->file("other"))};
  const auto longest = reap_waiters(ws, 10s);
  ASSERT_TRUE(ws[0].finished) << "open still blocked after 10 s";
  std::cout << "supervisor bound 1500 ms: open waited " << longest.count() << " ms\n";
  EXPECT_LE(longest, 1500ms + 500ms);
  EXPECT_EQ(agent_->stop(5s), 128 + SIGKILL) << agent_->log();
}

}  // namespace
}  // namespace ringside::e2e
