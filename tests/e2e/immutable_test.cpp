// End to end: kernel-level deny rules on renaming over a file and on truncating one are
// enforced by the immutable attribute (file_immutable) in a scratch tmpfs: the operations fail
// with EPERM for any process, the eBPF file sensor reports them denied and blocked, a reload
// without the rules makes the files mutable again, and an agent killed while guarding is
// cleaned up after by the next one started on the same state directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_mount.hpp"

namespace ringside::e2e {
namespace {

using namespace std::chrono_literals;

int errno_of(int rc) { return rc == 0 ? 0 : errno; }

class Immutable : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    ASSERT_TRUE(mnt_.ok()) << mnt_.error();
    for (const char* f : {"kept", "kept-src", "sized"}) std::ofstream(mnt_.file(f)) << "content\n";
  }
  std::string rules() const {
    return "rules:\n  - {name: no-rename-over, on: file.rename, match: {file.target_path: " +
           mnt_.file("kept") +
           "}, action: deny}\n  - {name: no-truncate, on: file.modify, "
           "match: {file.path: " +
           mnt_.file("sized") + "}, action: deny}\n";
  }
  void start(const std::string& policy, const std::string& state_dir) {
    AgentProcess::Options o;
    o.levels = "kernel";
    o.domains = "file";
    o.policy_yaml = policy;
    o.extra_args = {"--state-dir", state_dir};
    std::string error;
    agent_ = AgentProcess::start(o, &error);
    ASSERT_NE(agent_, nullptr) << error;
  }
  std::optional<json> denied(const std::string& action, const std::string& field,
                             const std::string& path) const {
    return agent_->wait_for([&](const json& ev) {
      return str_field(ev, "ringside.sensor") == "ebpf" &&
             str_field(ev, "event.action") == action && str_field(ev, field) == path &&
             str_field(ev, "ringside.verdict") == "deny";
    });
  }
  bool renamed_over() const {
    std::ofstream(mnt_.file("kept-src")) << "replacement\n";
    return errno_of(rename(mnt_.file("kept-src").c_str(), mnt_.file("kept").c_str())) == 0;
  }

  ScratchMount mnt_{"16m"};
  ScratchDir state_{"immutable-state"};
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(Immutable, RenameOverAndTruncateFailWithEpermAndAreReportedBlocked) {
  ASSERT_NO_FATAL_FAILURE(start(rules(), state_.path()));
  EXPECT_EQ(errno_of(rename(mnt_.file("kept-src").c_str(), mnt_.file("kept").c_str())), EPERM);
  EXPECT_EQ(errno_of(truncate(mnt_.file("sized").c_str(), 0)), EPERM);
  auto r = denied("rename", "file.target_path", mnt_.file("kept"));
  ASSERT_TRUE(r) << agent_->log();
  EXPECT_EQ(str_field(*r, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*r, "ringside.rule"), "no-rename-over");
  EXPECT_EQ(str_field(*r, "event.outcome"), "failure");
  auto t = denied("modify", "file.path", mnt_.file("sized"));
  ASSERT_TRUE(t) << agent_->log();
  EXPECT_EQ(str_field(*t, "ringside.enforcement"), "blocked");
  // Reading is untouched; the guarded file's content is intact.
  std::ifstream in(mnt_.file("kept"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "content");

  // A policy without the rules: the files are mutable again.
  std::ofstream(agent_->policy_path(), std::ios::trunc) << "rules: []\n";
  agent_->signal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool ok = false;
  while (!(ok = renamed_over()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ok) << agent_->log();
  EXPECT_EQ(errno_of(truncate(mnt_.file("sized").c_str(), 0)), 0);
  EXPECT_EQ(agent_->stop(), 0) << agent_->log();
}

TEST_F(Immutable, TheNextAgentClearsWhatAKilledOneLeft) {
  ASSERT_NO_FATAL_FAILURE(start(rules(), state_.path()));
  ASSERT_FALSE(renamed_over());
  agent_->kill9();
  ASSERT_FALSE(renamed_over()) << "the attribute stays with the killed agent";
  ASSERT_NO_FATAL_FAILURE(start("rules: []\n", state_.path()));
  EXPECT_TRUE(renamed_over()) << agent_->log();
  EXPECT_EQ(errno_of(truncate(mnt_.file("sized").c_str(), 0)), 0);
  EXPECT_NE(agent_->log().find("cleared the immutable attribute"), std::string::npos)
      << agent_->log();
  EXPECT_EQ(agent_->stop(), 0) << agent_->log();
}

}  // namespace
}  // namespace ringside::e2e
