// Which deny rules the immutable attribute can enforce, and the guard that keeps their files
// immutable: set on load, cleared on reload and stop, never clearing what it did not set, and
// cleaning up after an agent that died (its state file). A fake attribute store; no privileges.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "fake_context.hpp"
#include "policy/enforcement.hpp"
#include "policy/immutable_rules.hpp"
#include "sensors/kernel/immutable_guard.hpp"

namespace ringside {
namespace {

using testing_fanotify::FakeContext;

std::shared_ptr<const policy::Policy> parse(const std::string& rules) {
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::parse("rules:\n" + rules, "t.yaml", &errors);
  EXPECT_TRUE(pol) << (errors.empty() ? pol.error().message : errors[0].to_string());
  return pol ? *pol : nullptr;
}

TEST(ImmutableRules, OnlyPathOnlyDenyRulesOnChangesTheAttributeRefuses) {
  auto pol = parse(
      "  - {name: a, on: file.rename, match: {file.target_path: /etc/a}, action: deny}\n"
      "  - {name: b, on: [file.modify, file.delete], match: {file.path: {in: [/etc/b, /etc/c]}},"
      " action: deny}\n"
      "  - {name: by-process, on: file.delete, match: {file.path: /etc/d, process.executable: "
      "/bin/rm}, action: deny}\n"
      "  - {name: prefix, on: file.delete, match: {file.path: {prefix: /etc/e/}}, action: deny}\n"
      "  - {name: open-too, on: [file.open, file.modify], match: {file.path: /etc/f}, action: "
      "deny}\n"
      "  - {name: user-only, on: file.delete, match: {file.path: /etc/g}, action: deny, "
      "levels: [user]}\n"
      "  - {name: alert, on: file.delete, match: {file.path: /etc/h}, action: alert}\n"
      "  - {name: target-of-link, on: file.link, match: {file.target_path: /etc/i}, action: "
      "deny}\n");
  ASSERT_TRUE(pol);
  std::vector<std::string> enforceable;
  for (const auto& r : pol->rules()) {
    if (policy::immutable_enforceable(r)) enforceable.push_back(r.name);
  }
  EXPECT_EQ(enforceable, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(policy::immutable_paths(*pol),
            (std::vector<std::string>{"/etc/a", "/etc/b", "/etc/c"}));
  bool guaranteed = false;
  for (const auto& p : policy::enforcement_points(pol->rules()[0])) {
    guaranteed = guaranteed || (p.mechanism == "immutable attribute" && p.guaranteed);
  }
  EXPECT_TRUE(guaranteed);
}

TEST(ImmutableRules, AnEarlierAllowRuleKeepsTheAttributeOff) {
  auto pol = parse(
      "  - {name: backups-may, on: file.rename, match: {process.executable: /usr/bin/backup}, "
      "action: allow}\n"
      "  - {name: a, on: file.rename, match: {file.target_path: /etc/a}, action: deny}\n"
      "  - {name: b, on: file.delete, match: {file.path: /etc/b}, action: deny}\n");
  ASSERT_TRUE(pol);
  EXPECT_EQ(policy::immutable_paths(*pol), (std::vector<std::string>{"/etc/b"}));
}

class FakeAttributes final : public FileAttributes {
 public:
  Result<bool> immutable(const std::string& path) override {
    if (!std::filesystem::exists(path)) return Error{path + ": No such file or directory", ENOENT};
    return flags[path];
  }
  Result<void> set_immutable(const std::string& path, bool on) override {
    if (!std::filesystem::exists(path)) return Error{path + ": No such file or directory", ENOENT};
    if (path == refuse) return Error{path + ": Operation not permitted", EPERM};
    flags[path] = on;
    ++changes;
    return ok();
  }
  std::map<std::string, bool> flags;
  int changes = 0;
  std::string refuse;  // set_immutable fails on this path
};

class ImmutableGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ringside-immutable-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    dir_ = std::filesystem::canonical(dir_);
    for (const char* f : {"a", "b", "admin"}) std::ofstream(path(f)) << f;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string state_dir() const { return path("state"); }
  // The state file of the agent with that pid (the first guard is pid 100).
  std::string state(int32_t pid = 100) const { return state_file(state_dir(), pid); }
  // Each guard stands for an agent of its own (a pid of its own); `running_` says which run.
  std::unique_ptr<ImmutableGuard> guard() {
    ImmutableGuard::Options o{state_dir(), attrs_};
    o.owner = StateOwner{next_pid_++, 1000};
    o.owner_running = [this](const StateOwner& w) { return running_.count(w.pid) != 0; };
    auto g = std::make_unique<ImmutableGuard>(std::move(o));
    EXPECT_TRUE(g->start(ctx_));
    return g;
  }
  std::shared_ptr<const policy::Policy> deny(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + path(n);
    return parse(
        "  - {name: keep, on: [file.rename, file.modify, file.delete], match: "
        "{file.path: {in: [" +
        list + "]}}, action: deny}\n");
  }
  std::string listed(int32_t pid = 100) const {
    std::ifstream in(state(pid), std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : s) c = c == '\0' ? '|' : c;
    return s;
  }

  // The guard dies without stopping: what it leaves is its state file and the attribute.
  void kill(std::unique_ptr<ImmutableGuard>& g, int32_t pid) {
    const std::string left = listed(pid);
    const std::set<std::string> kept = g->guarded();
    g.reset();  // (its stop() ran: put back what a killed agent leaves)
    std::ofstream out(state(pid), std::ios::binary);
    for (char c : left) out << (c == '|' ? '\0' : c);
    for (const auto& p : kept) attrs_->flags[p] = true;
  }
  bool running(const StateOwner& w) const { return running_.count(w.pid) != 0; }

  std::filesystem::path dir_;
  int32_t next_pid_ = 100;
  std::set<int32_t> running_;
  std::shared_ptr<FakeAttributes> attrs_ = std::make_shared<FakeAttributes>();
  FakeContext ctx_;
};

TEST_F(ImmutableGuardTest, SetsOnLoadClearsOnReloadAndStop) {
  auto g = guard();
  ASSERT_TRUE(g->apply_policy(*deny({"a", "b", "missing"})));
  EXPECT_TRUE(attrs_->flags[path("a")]);
  EXPECT_TRUE(attrs_->flags[path("b")]);
  EXPECT_EQ(listed(), "owner 100 1000|" + path("a") + "|" + path("b") + "|");
  ASSERT_TRUE(g->apply_policy(*deny({"b"})));
  EXPECT_FALSE(attrs_->flags[path("a")]) << "no rule names it any more";
  EXPECT_TRUE(attrs_->flags[path("b")]);
  EXPECT_EQ(listed(), "owner 100 1000|" + path("b") + "|");
  g->stop();
  EXPECT_FALSE(attrs_->flags[path("b")]);
  EXPECT_FALSE(std::filesystem::exists(state()));
}

TEST_F(ImmutableGuardTest, NeverClearsWhatItDidNotSetNorGuardsTheAgentsFiles) {
  attrs_->flags[path("admin")] = true;  // made immutable by an administrator
  ctx_.own_files = {path("b")};
  auto g = guard();
  ASSERT_TRUE(g->apply_policy(*deny({"admin", "a", "b"})));
  EXPECT_FALSE(attrs_->flags[path("b")]) << "the agent's own file";
  EXPECT_EQ(g->guarded(), (std::set<std::string>{path("a")}));
  g->stop();
  EXPECT_TRUE(attrs_->flags[path("admin")]);
  EXPECT_FALSE(attrs_->flags[path("a")]);
}

TEST_F(ImmutableGuardTest, TheNextAgentClearsWhatAKilledOneLeft) {
  auto g = guard();
  ASSERT_TRUE(g->apply_policy(*deny({"a"})));
  kill(g, 100);
  ASSERT_TRUE(attrs_->flags[path("a")]);
  auto next = guard();  // start() reads the state files of agents that are gone
  EXPECT_FALSE(attrs_->flags[path("a")]);
  EXPECT_FALSE(std::filesystem::exists(state(100)));
  EXPECT_TRUE(next->guarded().empty());
}

TEST_F(ImmutableGuardTest, AgentsSharingTheStateDirectoryKeepEachOthersFilesGuarded) {
  auto first = guard();  // pid 100, runs on
  running_.insert(100);
  ASSERT_TRUE(first->apply_policy(*deny({"a"})));
  EXPECT_EQ(listed(100), "owner 100 1000|" + path("a") + "|");
  auto second = guard();  // pid 101, same state directory
  running_.insert(101);
  EXPECT_TRUE(attrs_->flags[path("a")]) << "the first agent runs";
  ASSERT_TRUE(second->apply_policy(*deny({"b"})));
  EXPECT_EQ(listed(100), "owner 100 1000|" + path("a") + "|") << "each agent its own list";
  EXPECT_EQ(listed(101), "owner 101 1000|" + path("b") + "|");
  // The second is killed, the first stops as it should: the first's stop leaves the second's
  // list alone, and the next agent releases what the second left.
  kill(second, 101);
  running_.erase(101);
  first->stop();
  EXPECT_FALSE(attrs_->flags[path("a")]);
  EXPECT_TRUE(attrs_->flags[path("b")]);
  EXPECT_TRUE(std::filesystem::exists(state(101)));
  EXPECT_EQ(
      release_leftovers(state_dir(), *attrs_, [this](const StateOwner& w) { return running(w); }),
      1U);
  EXPECT_FALSE(attrs_->flags[path("b")]);
}

TEST_F(ImmutableGuardTest, AnAgentWithoutTheGuardReleasesWhatADeadOneLeft) {
  auto g = guard();
  ASSERT_TRUE(g->apply_policy(*deny({"a", "b"})));
  kill(g, 100);
  // What an agent that watches no files does at start.
  const size_t cleared =
      release_leftovers(state_dir(), *attrs_, [](const StateOwner&) { return false; });
  EXPECT_EQ(cleared, 2U);
  EXPECT_FALSE(attrs_->flags[path("a")]);
  EXPECT_FALSE(attrs_->flags[path("b")]);
  EXPECT_FALSE(std::filesystem::exists(state(100)));
}

TEST_F(ImmutableGuardTest, AFileThatCouldNotBeClearedStaysListed) {
  auto g = guard();
  ASSERT_TRUE(g->apply_policy(*deny({"a", "b"})));
  kill(g, 100);
  attrs_->refuse = path("b");  // e.g. an agent without the capability
  EXPECT_EQ(release_leftovers(state_dir(), *attrs_, [](const StateOwner&) { return false; }), 1U);
  EXPECT_TRUE(std::filesystem::exists(state(100))) << "the next agent tries again";
  attrs_->refuse.clear();
  EXPECT_EQ(release_leftovers(state_dir(), *attrs_, [](const StateOwner&) { return false; }), 1U);
  EXPECT_FALSE(attrs_->flags[path("b")]);
  EXPECT_FALSE(std::filesystem::exists(state(100)));
}

TEST_F(ImmutableGuardTest, AStateFileWithoutItsOwnerIsAKilledAgents) {
  attrs_->flags[path("a")] = true;
  std::filesystem::create_directories(state_dir());
  std::ofstream(state_dir() + "/immutable.list", std::ios::binary) << path("a") << '\0';
  EXPECT_EQ(release_leftovers(state_dir(), *attrs_, [](const StateOwner&) { return true; }), 1U);
  EXPECT_FALSE(attrs_->flags[path("a")]);
  EXPECT_FALSE(std::filesystem::exists(state_dir() + "/immutable.list"));
}

}  // namespace
}  // namespace ringside
