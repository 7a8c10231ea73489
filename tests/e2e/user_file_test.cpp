// The interposer's file hooks end to end: the real agent (`ringside run --levels user
// --domains file`), the real libringside-preload.so, and tests/e2e/programs/file_caller calling
// each hooked function in a scratch directory the test creates. Each test asserts the event's
// fields (path as typed, resolved path, rename/link target, process) or what the call did.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int64_t number_after(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + "=(-?[0-9]+)"))) return -1;
  return std::stoll(m[1].str());
}

std::vector<std::string> list_of(const json& ev, std::string_view name) {
  const json* a = field(ev, name);
  return a != nullptr && a->is_array() ? a->get<std::vector<std::string>>()
                                       : std::vector<std::string>{};
}

class UserFile : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    dir_ = std::make_unique<ScratchDir>("user-file");
    // The scratch directory under a symbolic link, so that resolution has work to do.
    root_ = fs::canonical(dir_->path()).string();
    fs::create_directory(root_ + "/real");
    fs::create_directory_symlink(root_ + "/real", root_ + "/via");
  }

  void start_agent(const std::string& policy = "settings: {file: {opens: all}}\nrules: []\n") {
    AgentProcess::Options o;
    o.levels = "user";
    o.domains = "file";
    o.policy_yaml = policy;
    std::string error;
    agent_ = AgentProcess::start(o, &error);
    ASSERT_NE(agent_, nullptr) << error;
  }

  RunResult call(std::vector<std::string> args, const std::string& cwd = "") const {
    args.insert(args.begin(), programs() + "/file_caller");
    std::vector<std::string> env = agent_->hook_env();
    if (!cwd.empty()) env.push_back("FILE_CALLER_CHDIR=" + cwd);
    return run(args, env);
  }

  std::optional<json> hook_event(const std::string& hook, const std::string& requested,
                                 std::chrono::milliseconds timeout = 10s) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "preload" &&
                 str_field(ev, "ringside.hook") == hook &&
                 str_field(ev, "ringside.file.requested_path") == requested;
        },
        timeout);
  }

  // The checks every file event from the interposer passes.
  void expect_common(const json& ev, const std::string& action, const RunResult& r) const {
    EXPECT_EQ(str_field(ev, "event.category"), "file");
    EXPECT_EQ(str_field(ev, "event.action"), action);
    EXPECT_EQ(str_field(ev, "ringside.level"), "user");
    EXPECT_EQ(str_field(ev, "ringside.sensor"), "preload");
    EXPECT_EQ(int_field(ev, "process.pid"), number_after(r.out, "caller pid"));
    EXPECT_EQ(int_field(ev, "user.id"), 0);
    EXPECT_EQ(str_field(ev, "process.executable"), programs() + "/file_caller");
  }

  void reload(const std::string& policy) {
    const auto count = [&] {
      const std::string log = agent_->log();
      size_t n = 0;
      for (size_t p = log.find("policy reloaded"); p != std::string::npos;
           p = log.find("policy reloaded", p + 1)) {
        ++n;
      }
      return n;
    };
    const size_t before = count();
    std::ofstream(agent_->policy_path(), std::ios::trunc) << policy;
    agent_->signal(SIGHUP);
    const auto deadline = Clock::now() + 10s;
    while (count() == before && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_GT(count(), before) << agent_->log();
  }

  std::unique_ptr<ScratchDir> dir_;
  std::string root_;
  std::unique_ptr<AgentProcess> agent_;
};

using user_file = UserFile;

TEST_F(user_file, OpenReportsRequestedAndResolvedPathFlagsAndMode) {
  start_agent();
  std::ofstream(root_ + "/real/data") << "hello";
  // Relative, through the symbolic link and a "..": the resolved path names the real file.
  const std::string requested = "via/../via/data";
  const RunResult r = call({"open", requested, "r"}, root_);
  ASSERT_GE(number_after(r.out, "result"), 0) << r.out << r.err;
  auto ev = hook_event("open", requested);
  ASSERT_TRUE(ev) << agent_->log();
  expect_common(*ev, "open", r);
  EXPECT_EQ(str_field(*ev, "file.path"), root_ + "/real/data");
  EXPECT_EQ(list_of(*ev, "ringside.file.flags"), std::vector<std::string>{"O_RDONLY"});
  EXPECT_EQ(field(*ev, "file.mode"), nullptr);

  // A creating open passes its mode through (the variadic argument) and reports it.
  const std::string created = root_ + "/via/new";
  const RunResult c = call({"open", created, "c"});
  ASSERT_GE(number_after(c.out, "result"), 0) << c.out << c.err;
  struct stat st {};
  ASSERT_EQ(stat((root_ + "/real/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640 & ~0022 & 0777);
  auto cev = hook_event("open", created);
  ASSERT_TRUE(cev) << agent_->log();
  expect_common(*cev, "open", c);
  EXPECT_EQ(str_field(*cev, "file.path"), root_ + "/real/new");
  EXPECT_EQ(str_field(*cev, "file.mode"), "0640");
  EXPECT_EQ(list_of(*cev, "ringside.file.flags"),
            (std::vector<std::string>{"O_WRONLY", "O_CREAT"}));
}

TEST_F(user_file, EveryOpenFormIsReported) {
  start_agent();
  const std::string data = root_ + "/real/data";
  std::ofstream(data) << "x";
  for (const char* fn : {"open64", "open_2", "fopen", "freopen"}) {
    const RunResult r = call({fn, data});
    EXPECT_GE(number_after(r.out, "result"), 0) << fn << r.out << r.err;
    // open_2 is the fortify form of open: reported under the name the program meant.
    const std::string hook = std::string(fn) == "open_2" ? "open" : fn;
    auto ev = hook_event(hook, data);
    ASSERT_TRUE(ev) << fn << agent_->log();
    expect_common(*ev, "open", r);
    EXPECT_EQ(str_field(*ev, "file.path"), data);
  }
  const RunResult at = call({"openat", root_ + "/via", "data"});
  auto aev = hook_event("openat", "data");
  ASSERT_TRUE(aev) << agent_->log();
  expect_common(*aev, "open", at);
  EXPECT_EQ(str_field(*aev, "file.path"), data);  // relative to the directory descriptor

  const RunResult cr = call({"creat", root_ + "/real/made"});
  auto cev = hook_event("creat", root_ + "/real/made");
  ASSERT_TRUE(cev) << agent_->log();
  expect_common(*cev, "open", cr);
  EXPECT_EQ(str_field(*cev, "file.mode"), "0600");
}

TEST_F(user_file, PathOperationsReportTheirActionAndBothNames) {
  start_agent();
  const std::string real = root_ + "/real";
  std::ofstream(real + "/a") << "a";
  struct Case {
    std::vector<std::string> args;
    const char* hook;
    const char* action;
    std::string path, target, mode;
  };
  const std::vector<Case> cases = {
      {{"chmod", real + "/a"}, "chmod", "chmod", real + "/a", "", "0600"},
      {{"fchmodat", real, "a"}, "fchmodat", "chmod", real + "/a", "", "0604"},
      {{"truncate", root_ + "/via/a"}, "truncate", "modify", real + "/a", "", ""},
      {{"rename", root_ + "/via/a", root_ + "/via/b"},
       "rename",
       "rename",
       real + "/a",
       real + "/b",
       ""},
      {{"renameat", real, "b", "c"}, "renameat", "rename", real + "/b", real + "/c", ""},
      {{"renameat2", real, "c", "d"}, "renameat2", "rename", real + "/c", real + "/d", ""},
      {{"link", real + "/d", real + "/hard"}, "link", "link", real + "/d", real + "/hard", ""},
      {{"symlink", "d", real + "/soft"}, "symlink", "link", real + "/d", real + "/soft", ""},
      {{"mkdir", root_ + "/via/sub"}, "mkdir", "create", real + "/sub", "", "0750"},
      {{"rmdir", real + "/sub"}, "rmdir", "delete", real + "/sub", "", ""},
      {{"unlink", root_ + "/via/soft"}, "unlink", "delete", real + "/soft", "", ""},
      {{"unlinkat", real, "hard"}, "unlinkat", "delete", real + "/hard", "", ""},
  };
  for (const Case& c : cases) {
    const RunResult r = call(c.args);
    EXPECT_EQ(number_after(r.out, "result"), 0) << c.hook << r.out << r.err;
    // The first path argument as typed (fchmodat, renameat, unlinkat: the name after DIR).
    const std::string requested =
        c.args.size() > 2 &&
                (std::string(c.hook) == "fchmodat" || std::string(c.hook) == "renameat" ||
                 std::string(c.hook) == "renameat2" || std::string(c.hook) == "unlinkat")
            ? c.args[2]
            : c.args[1];
    auto ev = hook_event(c.hook, requested);
    ASSERT_TRUE(ev) << c.hook << agent_->log();
    expect_common(*ev, c.action, r);
    EXPECT_EQ(str_field(*ev, "file.path"), c.path) << c.hook;
    EXPECT_EQ(str_field(*ev, "file.target_path"), c.target) << c.hook;
    EXPECT_EQ(str_field(*ev, "file.mode"), c.mode) << c.hook;
  }
  // unlink does not follow the link: the link went, the file it named stayed.
  EXPECT_TRUE(fs::exists(real + "/d"));
}

TEST_F(user_file, ReadOpensFollowTheOpensSetting) {
  start_agent("settings: {file: {opens: writes}}\nrules: []\n");
  const std::string data = root_ + "/real/data";
  std::ofstream(data) << "x";
  const RunResult w = call({"open", data, "w"});
  ASSERT_TRUE(hook_event("open", data)) << agent_->log();
  const RunResult r = call({"fopen", data, "r"});
  ASSERT_EQ(number_after(r.out, "result"), 0) << r.out;
  // Written after the read: once the marker is there, the read would have been too.
  call({"mkdir", root_ + "/real/marker"});
  ASSERT_TRUE(hook_event("mkdir", root_ + "/real/marker")) << agent_->log();
  EXPECT_FALSE(hook_event("fopen", data, 200ms)) << "a read was reported under opens: writes";
  (void)w;
}

TEST_F(user_file, DenyRuleRefusesTheProtectedFileUntilReloaded) {
  const std::string policy =
      "rules:\n  - name: protect-secret\n    on: file.open\n"
      "    levels: [user]\n    match:\n      file.path: {prefix: \"" +
      root_ + "/real/secret\"}\n    action: deny\n";
  start_agent(policy);
  std::ofstream(root_ + "/real/secret") << "top";
  std::ofstream(root_ + "/real/public") << "open";
  // Through the symbolic link: the rule is on the resolved path.
  const RunResult r = call({"read", root_ + "/via/secret"});
  EXPECT_EQ(number_after(r.out, "result"), -1) << r.out << r.err;
  EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
  auto ev = hook_event("open", root_ + "/via/secret");
  ASSERT_TRUE(ev) << agent_->log();
  expect_common(*ev, "open", r);
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "protect-secret");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*ev, "file.path"), root_ + "/real/secret");

  const RunResult f = call({"fopen", root_ + "/real/secret", "r"});
  EXPECT_EQ(number_after(f.out, "errno"), EACCES) << f.out;  // fopen: NULL + EACCES

  const RunResult other = call({"read", root_ + "/real/public"});
  EXPECT_EQ(number_after(other.out, "result"), 4) << other.out << other.err;

  reload("rules: []\n");
  const RunResult again = call({"read", root_ + "/via/secret"});
  EXPECT_EQ(number_after(again.out, "result"), 3) << again.out << again.err;  // "top"
}

TEST_F(user_file, HostilePathsComeOutAsValidJson) {
  start_agent();
  const std::vector<std::string> names = {"new\nline", "quote\"and\\backslash",
                                          std::string("bad\xff\xfe utf8"),
                                          std::string(200, 'x') + "/" + std::string(200, 'y')};
  fs::create_directories(root_ + "/real/" + std::string(200, 'x'));
  for (const std::string& name : names) {
    const std::string path = root_ + "/real/" + name;
    call({"open", path, "c"});
    // Invalid UTF-8 comes out as U+FFFD: compare what precedes it.
    const std::string marker = name.substr(0, 3);
    auto ev = agent_->wait_for([&](const json& e) {
      return str_field(e, "ringside.hook") == "open" &&
             str_field(e, "ringside.file.requested_path").find("/real/" + marker) !=
                 std::string::npos;
    });
    ASSERT_TRUE(ev) << name << agent_->log();
    if (name.find('\xff') == std::string::npos) {
      EXPECT_EQ(str_field(*ev, "file.path"), path);
      EXPECT_EQ(str_field(*ev, "ringside.file.requested_path"), path);
    } else {
      EXPECT_EQ(str_field(*ev, "file.path"), root_ + "/real/bad\uFFFD\uFFFD utf8");
    }
  }
  // A 4 KiB path (longer than the kernel takes: the call fails, the report still arrives).
  std::string longest = root_ + "/real/";
  while (longest.size() < 4095) longest += "z/";
  longest.resize(4095);
  call({"open", longest, "r"});
  EXPECT_TRUE(hook_event("open", longest)) << agent_->log();
  // Every line the agent wrote parsed (events() parses each one).
  EXPECT_FALSE(agent_->events().empty());
  const json stats = agent_->stats();
  EXPECT_EQ(stats.dump().find("\"errors\":1"), std::string::npos) << stats.dump();
}

}  // namespace
}  // namespace ringside::e2e
