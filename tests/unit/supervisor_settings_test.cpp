// The supervisor's settings and timing rules (the process itself is tested end to end).

#include "agent/supervisor.hpp"

#include <gtest/gtest.h>

#include "policy/policy.hpp"

namespace ringside {
namespace {

std::shared_ptr<const policy::Policy> parse(const std::string& yaml, std::string* error) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "s.yaml", &errors);
  if (!p) {
    *error = errors.empty() ? p.error().message : errors.front().to_string();
    return nullptr;
  }
  return *p;
}

TEST(SupervisorSettings, Defaults) {
  std::string err;
  auto p = parse("rules: []\n", &err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(p->settings().supervisor.bound_ms, 5000);
  EXPECT_TRUE(p->settings().supervisor.restart);
}

TEST(SupervisorSettings, BoundAndRestart) {
  std::string err;
  auto p = parse("settings:\n  supervisor: {bound: 1500ms, restart: false}\nrules: []\n", &err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(p->settings().supervisor.bound_ms, 1500);
  EXPECT_FALSE(p->settings().supervisor.restart);
  p = parse("settings:\n  supervisor: {bound: 2m}\nrules: []\n", &err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(p->settings().supervisor.bound_ms, 120000);
}

TEST(SupervisorSettings, ErrorsNamePosition) {
  std::string err;
  EXPECT_EQ(parse("settings:\n  supervisor: {bound: 200ms}\nrules: []\n", &err), nullptr);
  EXPECT_NE(err.find("s.yaml:2:"), std::string::npos) << err;
  EXPECT_NE(err.find("bound must be a duration from 1s to 10m"), std::string::npos) << err;
  EXPECT_EQ(parse("settings:\n  supervisor: {bound: 5}\nrules: []\n", &err), nullptr);
  EXPECT_NE(err.find("bound must be"), std::string::npos) << err;
  EXPECT_EQ(parse("settings:\n  supervisor: {restart: maybe}\nrules: []\n", &err), nullptr);
  EXPECT_NE(err.find("restart must be true or false"), std::string::npos) << err;
  EXPECT_EQ(parse("settings:\n  supervisor: {bund: 5s}\nrules: []\n", &err), nullptr);
  EXPECT_NE(err.find("unknown supervisor setting 'bund'"), std::string::npos) << err;
  EXPECT_EQ(parse("settings:\n  supervisor: 5s\nrules: []\n", &err), nullptr);
  EXPECT_NE(err.find("must be a mapping"), std::string::npos) << err;
}

// The kill comes early enough that check interval and kill fit inside the bound.
TEST(Supervisor, KillsBeforeTheBound) {
  EXPECT_EQ(supervisor_kill_after_ms(5000), 4500);
  EXPECT_EQ(supervisor_kill_after_ms(1000), 750);
  EXPECT_EQ(supervisor_kill_after_ms(60000), 54000);
  for (int64_t b : {1000, 1500, 5000, 600000}) {
    EXPECT_LE(supervisor_kill_after_ms(b) + 250, b);
    // Two beats missed and one more look before the kill, and the look fits in the margin.
    EXPECT_GE(supervisor_kill_after_ms(b), 2 * supervisor_beat_ms(b) + supervisor_check_ms(b));
    EXPECT_LE(supervisor_kill_after_ms(b) + supervisor_check_ms(b), b);
  }
}

// An idle agent wakes rarely: a beat a second at most, ten for a bound of 1 s or less.
TEST(Supervisor, BeatFollowsTheBound) {
  EXPECT_EQ(supervisor_beat_ms(300), 100);
  EXPECT_EQ(supervisor_beat_ms(1000), 100);
  EXPECT_EQ(supervisor_beat_ms(5000), 500);
  EXPECT_EQ(supervisor_beat_ms(600000), 1000);
  EXPECT_EQ(supervisor_check_ms(5000), 250);
}

TEST(Supervisor, BackoffDoublesToTenSeconds) {
  EXPECT_EQ(supervisor_backoff_ms(0), 100);
  EXPECT_EQ(supervisor_backoff_ms(1), 200);
  EXPECT_EQ(supervisor_backoff_ms(3), 800);
  EXPECT_EQ(supervisor_backoff_ms(7), 10000);
  EXPECT_EQ(supervisor_backoff_ms(50), 10000);
}

// The link writes what the agent's policy says and beats while it lives.
TEST(Supervisor, LinkBeatsAndCarriesSettings) {
  SupervisorShared shared;
  {
    SupervisorLink link(&shared);
    link.set_settings(2000, false);
    EXPECT_EQ(shared.heartbeat_ns.load(), 0);
    link.start_heartbeat();
    const int64_t first = shared.heartbeat_ns.load();
    EXPECT_GT(first, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_GT(shared.heartbeat_ns.load(), first);
  }
  EXPECT_EQ(shared.bound_ms.load(), 2000);
  EXPECT_EQ(shared.restart.load(), 0);
}

}  // namespace
}  // namespace ringside
