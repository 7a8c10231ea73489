// End to end: the agent reloads its policy when the file changes on disk (no SIGHUP), swaps
// enforcement atomically, and keeps the running policy when the new file is broken, saying
// why in a ringside.policy event (file:line:column) and in its log.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_mount.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

int try_open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

// Writes a new file next to `path` and renames it over, as editors do.
void replace_by_rename(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".new";
  std::ofstream(tmp, std::ios::trunc) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

class PolicyReload : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    mnt_ = std::make_unique<ScratchMount>();
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
    std::ofstream(mnt_->file("a")) << "a";
    std::ofstream(mnt_->file("b")) << "b";
  }
  void TearDown() override {
    if (agent_) agent_->kill9();  // before the unmount
    agent_.reset();
    mnt_.reset();
  }
  std::string deny(const std::string& name) const {
    return "settings:\n  file:\n    watch: [{path: " + mnt_->path() +
           "}]\n    opens: none\nrules:\n  - {name: no-" + name +
           ", on: file.open, match: {file.path: " + mnt_->file(name) + "}, action: deny}\n";
  }
  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.policy_yaml = policy;
    o.levels = "kernel";
    o.domains = "file";
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }
  std::optional<json> policy_event(const std::string& outcome, const std::string& trigger) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "event.action") == "policy" &&
                 str_field(ev, "event.outcome") == outcome &&
                 str_field(ev, "ringside.policy.trigger") == trigger;
        },
        5s);
  }

  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(PolicyReload, ChangeOnDiskSwapsEnforcementWithoutSighup) {
  ASSERT_NO_FATAL_FAILURE(start_agent(deny("a")));
  ASSERT_TRUE(policy_event("success", "start")) << agent_->log();
  EXPECT_EQ(try_open(mnt_->file("a")), EPERM);
  EXPECT_EQ(try_open(mnt_->file("b")), 0);

  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(replace_by_rename(agent_->policy_path(), deny("b")));
  while (try_open(mnt_->file("b")) != EPERM && Clock::now() - t0 < 5s) {
    std::this_thread::sleep_for(5ms);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  std::cout << "policy change on disk enforced after " << took.count() << " ms\n";
  EXPECT_EQ(try_open(mnt_->file("b")), EPERM) << agent_->log();
  EXPECT_EQ(try_open(mnt_->file("a")), 0);
  EXPECT_LT(took, 2000ms);
  auto ev = policy_event("success", "file_change");
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "event.category"), "ringside");
  EXPECT_EQ(str_field(*ev, "file.path"), agent_->policy_path());

  // A write in place (no rename) is seen too, and SIGHUP still reloads.
  std::ofstream(agent_->policy_path(), std::ios::trunc) << deny("a");
  const auto t1 = Clock::now();
  while (try_open(mnt_->file("a")) != EPERM && Clock::now() - t1 < 5s) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(try_open(mnt_->file("a")), EPERM);
  agent_->signal(SIGHUP);
  EXPECT_TRUE(policy_event("success", "sighup")) << agent_->log();
}

TEST_F(PolicyReload, BrokenFileKeepsTheRunningPolicyAndSaysWhere) {
  ASSERT_NO_FATAL_FAILURE(start_agent(deny("a")));
  // Line 3, column 31: an unknown operator.
  const std::string broken =
      "rules:\n  - name: broken\n    on: file.open\n    match: {file.path: {prefx: /}}\n"
      "    action: deny\n";
  ASSERT_NO_FATAL_FAILURE(replace_by_rename(agent_->policy_path(), broken));
  auto ev = policy_event("failure", "file_change");
  ASSERT_TRUE(ev) << agent_->log();
  const std::string msg = str_field(*ev, "ringside.message");
  EXPECT_TRUE(std::regex_search(msg, std::regex(agent_->policy_path() + ":4:[0-9]+: "))) << msg;
  EXPECT_NE(agent_->log().find("keeping the running policy"), std::string::npos);
  // The old rule still holds, and nothing new is denied.
  EXPECT_EQ(try_open(mnt_->file("a")), EPERM);
  EXPECT_EQ(try_open(mnt_->file("b")), 0);
  // Fixed again: enforced from the new file.
  ASSERT_NO_FATAL_FAILURE(replace_by_rename(agent_->policy_path(), deny("b")));
  ASSERT_TRUE(policy_event("success", "file_change")) << agent_->log();
  EXPECT_EQ(try_open(mnt_->file("b")), EPERM);
  EXPECT_EQ(try_open(mnt_->file("a")), 0);
}

}  // namespace
}  // namespace ringside::e2e
