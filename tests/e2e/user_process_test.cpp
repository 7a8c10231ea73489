// The user-level process sensor end to end: the real agent (`ringside run --levels user`), the
// real interposer, and for every hooked function a small program that calls it
// (tests/e2e/programs). Each test asserts the event's fields, what the call did, or both.
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"
#include "overload_util.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside::e2e {
namespace {

namespace fs = std::filesystem;

const char* const kDenyRule = "no-forbidden-target";
const char* const kDenyCommandRule = "no-forbidden-command";
const char* const kDenyPolicy = R"(
rules:
  - name: no-forbidden-target
    on: process.exec
    levels: [user]
    match:
      process.executable: {suffix: "/forbidden_target"}
    action: deny
  - name: no-forbidden-command
    on: process.exec
    levels: [user]
    match:
      process.command_line: {glob: "**forbidden_target**"}
    action: deny
)";

std::string sha256_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// The number after "key=" in a program's output, or -1.
int64_t number_after(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + "=(-?[0-9]+)"))) return -1;
  return std::stoll(m[1].str());
}

std::vector<std::string> args_of(const json& ev) {
  const json* a = field(ev, "process.args");
  return a != nullptr && a->is_array() ? a->get<std::vector<std::string>>()
                                       : std::vector<std::string>{};
}

enum class Kind { kExec, kSpawn, kShell };
struct HookCase {
  const char* function;
  Kind kind;
  bool searches_path;
};
std::ostream& operator<<(std::ostream& os, const HookCase& c) { return os << c.function; }

const HookCase kHookCases[] = {
    {"execve", Kind::kExec, false},       {"execv", Kind::kExec, false},
    {"execvp", Kind::kExec, true},        {"execvpe", Kind::kExec, true},
    {"execl", Kind::kExec, false},        {"execlp", Kind::kExec, true},
    {"execle", Kind::kExec, false},       {"fexecve", Kind::kExec, false},
    {"execveat", Kind::kExec, false},     {"execveat_empty", Kind::kExec, false},
    {"posix_spawn", Kind::kSpawn, false}, {"posix_spawnp", Kind::kSpawn, true},
    {"system", Kind::kShell, false},      {"popen", Kind::kShell, false},
};

// The name the interposer reports: execveat_empty is execveat with AT_EMPTY_PATH.
std::string hook_name(const HookCase& c) {
  return std::string(c.function) == "execveat_empty" ? "execveat" : c.function;
}

class UserProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    dir_ = std::make_unique<ScratchDir>("user-process");
    target_ = copy_program(programs() + "/hook_target", dir_->file("hook_target"));
    forbidden_ = copy_program(programs() + "/hook_target", dir_->file("forbidden_target"));
    cwd_ = fs::canonical(fs::current_path()).string();
  }

  void start_agent(const std::string& policy = "rules: []\n") {
    AgentProcess::Options o;
    o.levels = "user";
    o.policy_yaml = policy;
    std::string error;
    agent_ = AgentProcess::start(o, &error);
    ASSERT_NE(agent_, nullptr) << error;
  }

  std::vector<std::string> env(std::vector<std::string> extra = {}) const {
    std::vector<std::string> e = agent_ ? agent_->hook_env() : std::vector<std::string>{};
    e.push_back("PATH=" + dir_->path() + ":/usr/bin:/bin");
    e.insert(e.end(), extra.begin(), extra.end());
    return e;
  }

  // hook_caller FUNCTION TARGET argv0 one "two words" (a shell command for system/popen).
  RunResult call(const HookCase& c, const std::string& exe, std::vector<std::string> extra = {}) {
    const std::string name = fs::path(exe).filename().string();
    if (c.kind == Kind::kShell) {
      return run({programs() + "/hook_caller", c.function, exe + " one 'two words'"},
                 env(std::move(extra)));
    }
    return run({programs() + "/hook_caller", c.function, c.searches_path ? name : exe,
                "argv0-" + std::string(c.function), "one", "two words"},
               env(std::move(extra)));
  }

  std::optional<json> hook_event(const std::string& hook, const std::string& exe) const {
    return agent_->wait_for([&](const json& ev) {
      return str_field(ev, "ringside.hook") == hook && str_field(ev, "process.executable") == exe;
    });
  }

  // The report of a `hook` call whose program got one argument, `arg` (the fork programs'
  // "first", "child", "second").
  std::optional<json> report_with_arg(const std::string& hook, const std::string& arg) const {
    return agent_->wait_for([&](const json& ev) {
      return str_field(ev, "ringside.hook") == hook && args_of(ev).size() == 2 &&
             args_of(ev)[1] == arg;
    });
  }

  void expect_common(const json& ev) const {
    EXPECT_EQ(str_field(ev, "event.category"), "process");
    EXPECT_EQ(str_field(ev, "event.action"), "exec");
    EXPECT_EQ(str_field(ev, "event.outcome"), "unknown");
    EXPECT_EQ(str_field(ev, "ringside.level"), "user");
    EXPECT_EQ(str_field(ev, "ringside.sensor"), "preload");
    EXPECT_EQ(str_field(ev, "process.working_directory"), cwd_);
    EXPECT_EQ(int_field(ev, "user.id"), 0);
  }

  std::unique_ptr<ScratchDir> dir_;
  std::string target_, forbidden_, cwd_;
  std::unique_ptr<AgentProcess> agent_;
};

// Suite names carry the file's name so that `ctest -R user_process` selects them.
using user_process = UserProcess;

class EveryHook : public UserProcess, public ::testing::WithParamInterface<HookCase> {};

TEST_P(EveryHook, ReportsTheCallWithItsFields) {
  const HookCase& c = GetParam();
  start_agent();
  const RunResult r = call(c, target_);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const int64_t caller = number_after(r.out, "caller pid");
  ASSERT_GT(caller, 0) << r.out;
  ASSERT_NE(r.out.find("target ran"), std::string::npos) << r.out << r.err;

  if (c.kind == Kind::kShell) {
    const std::string sh = fs::canonical("/bin/sh").string();
    auto ev = hook_event(c.function, sh);
    ASSERT_TRUE(ev) << agent_->log();
    expect_common(*ev);
    const std::string command = target_ + " one 'two words'";
    EXPECT_EQ(args_of(*ev), (std::vector<std::string>{"sh", "-c", command}));
    EXPECT_EQ(str_field(*ev, "process.command_line"), command);
    EXPECT_EQ(int_field(*ev, "process.parent.pid"), caller);
    EXPECT_EQ(field(*ev, "process.pid"), nullptr);
    EXPECT_EQ(str_field(*ev, "process.hash.sha256"), sha256_of(sh));
    // The shell is hooked too: its own exec of the target is the shell's event.
    auto inner = hook_event("execve", target_);
    ASSERT_TRUE(inner);
    EXPECT_EQ(args_of(*inner), (std::vector<std::string>{target_, "one", "two words"}));
    EXPECT_NE(int_field(*inner, "process.pid"), caller);
    return;
  }

  auto ev = hook_event(hook_name(c), target_);
  ASSERT_TRUE(ev) << agent_->log();
  expect_common(*ev);
  EXPECT_EQ(args_of(*ev),
            (std::vector<std::string>{"argv0-" + std::string(c.function), "one", "two words"}));
  EXPECT_EQ(int_field(*ev, "process.args_count"), 3);
  EXPECT_EQ(str_field(*ev, "process.hash.sha256"), sha256_of(target_));
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "allow");
  EXPECT_GT(int_field(*ev, "process.thread.id"), 0);
  if (c.kind == Kind::kExec) {
    // The caller itself becomes the new image: same pid before and after.
    EXPECT_EQ(int_field(*ev, "process.pid"), caller);
    EXPECT_EQ(number_after(r.out, "target ran pid"), caller);
    if (field(*ev, "process.parent.pid") != nullptr) {  // when /proc still had the caller
      EXPECT_EQ(int_field(*ev, "process.parent.pid"), getpid());
    }
  } else {
    // The new process does not exist yet when the decision is made.
    EXPECT_EQ(int_field(*ev, "process.parent.pid"), caller);
    EXPECT_EQ(field(*ev, "process.pid"), nullptr);
    EXPECT_EQ(number_after(r.out, "target ran pid"), number_after(r.out, "child"));
  }
}

TEST_P(EveryHook, DenyRuleMakesTheCallFailWithEacces) {
  const HookCase& c = GetParam();
  start_agent(kDenyPolicy);
  const RunResult r = call(c, forbidden_);
  EXPECT_EQ(r.out.find("target ran"), std::string::npos) << r.out;
  const bool spawn = c.kind == Kind::kSpawn;
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(number_after(r.out, spawn ? "rc" : "errno"), EACCES) << r.out;

  const std::string exe = c.kind == Kind::kShell ? fs::canonical("/bin/sh").string() : forbidden_;
  auto ev = hook_event(hook_name(c), exe);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), c.kind == Kind::kShell ? kDenyCommandRule : kDenyRule);
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");
}

INSTANTIATE_TEST_SUITE_P(user_process, EveryHook, ::testing::ValuesIn(kHookCases),
                         [](const auto& test) { return std::string(test.param.function); });

TEST_F(user_process, AllowedBinaryStillRunsUnderADenyPolicy) {
  start_agent(kDenyPolicy);
  const RunResult r = call({"execv", Kind::kExec, false}, target_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("target ran"), std::string::npos);
  auto ev = hook_event("execv", target_);
  ASSERT_TRUE(ev);
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "allow");
  EXPECT_EQ(field(*ev, "ringside.enforcement"), nullptr);
}

// The interposer resolves the executable before the call, as the kernel will: a relative
// path through a directory link, and a link to the forbidden program found through PATH, both
// when the caller waits for a verdict (deny policy) and when it does not (observe only).
TEST_F(user_process, RelativeAndSymlinkedExecutablesAreResolved) {
  const std::string dir = fs::canonical(dir_->path()).string();
  fs::create_directory_symlink(dir, dir_->file("here"));
  fs::create_symlink(forbidden_, dir_->file("innocent"));
  const auto in_dir = [&](const std::string& target, const std::string& hook) {
    return run({programs() + "/hook_caller", hook, target, "argv0"},
               env({"HOOK_CALLER_CHDIR=" + dir}));
  };
  for (const char* policy : {kDenyPolicy, "rules: []\n"}) {
    SCOPED_TRACE(policy);
    start_agent(policy);
    const bool deny = policy == kDenyPolicy;
    RunResult r = in_dir("here/./hook_target", "execv");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("target ran"), std::string::npos) << r.out;
    auto ev = hook_event("execv", target_);
    ASSERT_TRUE(ev) << agent_->log();
    EXPECT_EQ(str_field(*ev, "process.working_directory"), dir);
    EXPECT_EQ(str_field(*ev, "process.hash.sha256"), sha256_of(target_));

    r = in_dir("innocent", "execvp");  // found in PATH's first directory, the scratch one
    ev = hook_event("execvp", forbidden_);
    ASSERT_TRUE(ev) << agent_->log();
    EXPECT_EQ(str_field(*ev, "ringside.verdict"), deny ? "deny" : "allow");
    if (deny) {
      EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
    } else {
      EXPECT_NE(r.out.find("target ran"), std::string::npos) << r.out;
    }
    EXPECT_EQ(agent_->stop(), 0);
    agent_.reset();
  }
}

// Reports larger than the interposer's stack scratch: a long argument (the message) and a
// deep working directory with a long executable path (the paths).
TEST_F(user_process, LongArgumentsAndDeepDirectoriesAreReportedWhole) {
  start_agent();
  const std::string arg(5000, 'x');
  RunResult r = run({programs() + "/hook_caller", "execv", target_, "argv0", arg}, env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto ev = hook_event("execv", target_);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(args_of(*ev), (std::vector<std::string>{"argv0", arg}));

  std::string deep = fs::canonical(dir_->path()).string();
  for (int i = 0; i < 12; ++i) deep += "/" + std::string(60, static_cast<char>('a' + i));
  fs::create_directories(deep);
  const std::string far = copy_program(target_, deep + "/far_target");
  r = run({programs() + "/hook_caller", "execv", "./far_target", "argv0"},
          env({"HOOK_CALLER_CHDIR=" + deep}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ev = hook_event("execv", far);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "process.working_directory"), deep);
}

TEST_F(user_process, GarbageOnTheSocketIsCountedAndDropped) {
  start_agent();
  std::vector<std::vector<uint8_t>> garbage = {
      {0x13, 0x37, 0xca, 0xfe, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80,
       0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07},
      {0x52, 0x53, 0x48, 0x4b, 0x01, 0x00, 0x01},  // truncated header
  };
  std::vector<uint8_t> huge(RS_HOOK_HEADER_SIZE + 8, 0);
  rs_put_u32(huge.data(), RS_HOOK_MAGIC);
  rs_put_u16(huge.data() + 4, RS_HOOK_VERSION);
  rs_put_u16(huge.data() + 6, RS_HOOK_MSG_EVENT);
  rs_put_u16(huge.data() + 12, RS_EVENT_PROCESS_EXEC);
  rs_put_u32(huge.data() + 16, 0xFFFFFFF0u);  // claims 4 GiB
  garbage.push_back(huge);
  rs_put_u32(huge.data() + 16, 8);
  rs_put_u16(huge.data() + RS_HOOK_HEADER_SIZE, RS_FIELD_PROCESS_EXECUTABLE);
  rs_put_u16(huge.data() + RS_HOOK_HEADER_SIZE + 2, 5000);  // value past the end
  garbage.push_back(huge);
  garbage.emplace_back(RS_HOOK_MAX_MESSAGE * 2, 0x5a);  // oversize
  for (const auto& g : garbage) {
    const int fd = rs_hook_connect(agent_->socket_path().c_str());
    ASSERT_GE(fd, 0);
    EXPECT_EQ(send(fd, g.data(), g.size(), 0), static_cast<ssize_t>(g.size()));
    close(fd);
  }
  // Still alive and still reporting.
  const RunResult r = call({"execv", Kind::kExec, false}, target_);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_TRUE(hook_event("execv", target_)) << agent_->log();
  EXPECT_EQ(::kill(agent_->pid(), 0), 0);
  EXPECT_EQ(agent_->stop(), 0);
  std::smatch m;
  const std::string log = agent_->log();
  ASSERT_TRUE(std::regex_search(log, m,
                                std::regex("sensor hook_server: seen ([0-9]+) dropped "
                                           "[0-9]+ errors ([0-9]+)")))
      << log;
  EXPECT_EQ(std::stoul(m[2].str()), garbage.size()) << log;
  EXPECT_EQ(std::stoul(m[1].str()), garbage.size() + 1) << log;
}

TEST_F(user_process, WithoutAnAgentProgramsRunUnlessFailClosed) {
  const std::vector<std::string> no_agent = {
      "LD_PRELOAD=" + build_dir() + "/libringside-preload.so",
      "RINGSIDE_SOCKET=" + dir_->file("nobody-listens.sock")};
  const HookCase execv{"execv", Kind::kExec, false};
  RunResult r = call(execv, target_, no_agent);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("target ran"), std::string::npos);

  auto closed = no_agent;
  closed.push_back("RINGSIDE_HOOK_FAIL=closed");
  r = call(execv, target_, closed);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
  r = call({"posix_spawn", Kind::kSpawn, false}, target_, closed);
  EXPECT_EQ(number_after(r.out, "rc"), EACCES) << r.out;
}

TEST_F(user_process, PolicyFailClosedRefusesWhenTheAgentDiedButNotAfterACleanStop) {
  const std::string policy = std::string("settings:\n  fail_mode: closed\n") + kDenyPolicy;
  const HookCase execv{"execv", Kind::kExec, false};
  start_agent(policy);
  const auto hook = agent_->hook_env();
  agent_->kill9();  // the state file still asks for verdicts, nobody answers
  RunResult r = call(execv, target_, hook);
  EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
  r = call(execv, target_, {hook[0], hook[1], "RINGSIDE_HOOK_FAIL=open"});
  EXPECT_NE(r.out.find("target ran"), std::string::npos) << r.out;

  start_agent(policy);
  const auto hook2 = agent_->hook_env();
  EXPECT_EQ(agent_->stop(), 0);  // clears the state file: nothing waits any more
  r = call(execv, target_, hook2);
  EXPECT_NE(r.out.find("target ran"), std::string::npos) << r.out;
}

TEST_F(user_process, MissedDeadlineFallsBackToTheFailMode) {
  start_agent(std::string("settings:\n  fail_mode: closed\n  decision_deadline_ms: 150\n") +
              kDenyPolicy);
  struct Resume {  // the agent is resumed whatever happens below
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{agent_->pid()};
  ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = call({"execv", Kind::kExec, false}, target_);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
}

class ForkSafety : public UserProcess, public ::testing::WithParamInterface<const char*> {};

TEST_P(ForkSafety, TheChildReportsAsItself) {
  start_agent();
  const RunResult r = run({programs() + "/fork_exec", GetParam(), target_}, env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const int64_t parent = number_after(r.out, "parent");
  const int64_t child = number_after(r.out, "child");
  ASSERT_GT(child, 0) << r.out;
  auto first = report_with_arg("posix_spawn", "first");
  ASSERT_TRUE(first);
  EXPECT_EQ(int_field(*first, "process.parent.pid"), parent);
  auto ev = report_with_arg("execv", "child");
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(int_field(*ev, "process.pid"), child);
  // Named by the child itself: it may be gone, and reaped, before the agent reads the report.
  EXPECT_EQ(int_field(*ev, "process.parent.pid"), parent);
  EXPECT_EQ(str_field(*ev, "process.executable"), target_);
}

INSTANTIATE_TEST_SUITE_P(user_process, ForkSafety, ::testing::Values("fork", "vfork"),
                         [](const auto& test) { return std::string(test.param); });

// A process that forks maps the state file first, and its children read that mapping rather
// than the file. The agent writes the file in place, so a child still sees the agent's current
// state: here a deny rule that came after the mapping, with the file's name gone meanwhile
// (a child reading by name would find no agent and run the program).
TEST_F(user_process, AForkedChildReadsTheStateItsParentMapped) {
  start_agent();
  const std::string go = dir_->file("go");
  RunResult r;
  std::thread parent([&] {
    r = run({programs() + "/fork_later", target_, forbidden_, go}, env());
  });
  const auto first = report_with_arg("execv", "first");
  EXPECT_TRUE(first) << agent_->log();

  const std::string state = agent_->socket_path() + RS_HOOK_STATE_SUFFIX;
  const std::string hidden = state + ".hidden";
  {
    const std::string tmp = agent_->policy_path() + ".new";
    std::ofstream(tmp) << kDenyPolicy;
    fs::rename(tmp, agent_->policy_path());
  }
  rs_hook_state_view view{};
  for (int i = 0; i < 500; ++i) {
    rs_hook_state_read_file(state.c_str(), &view);
    if (view.valid && (view.sync_ops & RS_HOOK_OP_EXEC) != 0) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(view.sync_ops & RS_HOOK_OP_EXEC, 0U) << agent_->log();
  fs::rename(state, hidden);
  std::ofstream(go) << "go\n";
  parent.join();
  fs::rename(hidden, state);

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(number_after(r.out, "first"), 0) << r.out;
  EXPECT_EQ(number_after(r.out, "errno"), EACCES) << r.out;
  auto denied = report_with_arg("execv", "second");
  ASSERT_TRUE(denied) << agent_->log();
  EXPECT_EQ(str_field(*denied, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*denied, "ringside.rule"), kDenyRule);
}

// A mapping that says no agent runs is checked against the file by name: the state file can be
// removed and made anew under a mapping (its directory deleted between two agents), and the
// agent that runs then writes the new one. Here the mapped file says "stopped" while a file
// of another inode at the state path says the agent runs: the second exec must be reported,
// by a forked child (the mapping it inherited) and by the process itself (posix_spawn: its
// own mapping).
class StaleMapping : public UserProcess, public ::testing::WithParamInterface<const char*> {};

TEST_P(StaleMapping, ReadsTheFileWhenTheMappingSaysNoAgent) {
  const bool spawn = std::string(GetParam()) == "spawn";
  const std::string hook = spawn ? "posix_spawn" : "execv";
  start_agent();
  const std::string go = dir_->file("go");
  RunResult r;
  std::thread parent([&] {
    std::vector<std::string> argv = {programs() + "/fork_later", target_, target_, go};
    if (spawn) argv.emplace_back("spawn");
    r = run(argv, env());
  });
  const auto first = report_with_arg(hook, "first");
  EXPECT_TRUE(first) << agent_->log();

  const std::string state = agent_->socket_path() + RS_HOOK_STATE_SUFFIX;
  const std::string mapped = state + ".mapped";
  fs::rename(state, mapped);
  fs::copy_file(mapped, state);  // another inode, saying the agent runs
  {
    const int fd = ::open(mapped.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    void* m = mmap(nullptr, sizeof(rs_hook_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ASSERT_NE(m, MAP_FAILED);
    rs_hook_state_write(static_cast<rs_hook_state*>(m), 0, 200, 0, 0);  // "no agent"
    munmap(m, sizeof(rs_hook_state));
  }
  rs_hook_state_view view{};
  rs_hook_state_read_file(state.c_str(), &view);
  EXPECT_TRUE(view.valid && view.agent_pid == agent_->ready()["pid"].get<int>());
  std::ofstream(go) << "go\n";
  parent.join();

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(number_after(r.out, "errno"), 0) << r.out;
  const auto second = report_with_arg(hook, "second");
  EXPECT_TRUE(second) << agent_->log();
}

INSTANTIATE_TEST_SUITE_P(user_process, StaleMapping, ::testing::Values("fork", "spawn"),
                         [](const auto& test) { return std::string(test.param); });

// Eight threads report at once over the one connection: every report arrives whole and as its
// process's, or (a burst can fill the socket while the agent is busy) is counted as lost by the
// process and reported as such; nothing in between.
TEST_F(user_process, ThreadsReportingAtOnceShareTheConnectionSafely) {
  start_agent();
  constexpr int kThreads = 8, kEach = 25;
  const RunResult r =
      run({programs() + "/thread_spawn", std::to_string(kThreads), std::to_string(kEach), target_},
          env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("spawned=200 failed=0"), std::string::npos) << r.out;
  std::map<std::string, int> seen;           // tag -> reports of it
  std::map<int, std::set<int64_t>> threads;  // thread t -> the thread ids its reports name
  int64_t lost = 0, malformed = 0;
  const auto tally = [&] {
    seen.clear();
    threads.clear();
    lost = malformed = 0;
    const std::vector<json> events = agent_->events();
    const std::regex tag_form("t([0-7])-([0-9]|1[0-9]|2[0-4])");
    for (const json& e : events) {
      // The spawned program's event: its parent is thread_spawn, the thread that spawned it
      // is process.thread.id.
      if (str_field(e, "ringside.hook") != "posix_spawn" ||
          int_field(e, "process.parent.pid") != r.pid) {
        continue;
      }
      std::smatch m;
      const auto args = args_of(e);
      if (args.size() != 2 || !std::regex_match(args[1], m, tag_form)) {
        ++malformed;  // a report cut, merged or garbled on the shared connection
        continue;
      }
      ++seen[args[1]];
      threads[std::stoi(m[1].str())].insert(int_field(e, "process.thread.id"));
    }
    lost = losses_by_channel(events)["hook_socket"].count;
    return static_cast<int64_t>(seen.size()) + lost >= kThreads * kEach;
  };
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!tally() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  std::printf("threads: %zu of %d reports arrived, %lld counted lost\n", seen.size(),
              kThreads * kEach, static_cast<long long>(lost));
  EXPECT_EQ(static_cast<int64_t>(seen.size()) + lost, kThreads * kEach)
      << seen.size() << " reported, " << lost << " counted lost\n"
      << agent_->log();
  EXPECT_EQ(malformed, 0);
  for (const auto& [tag, n] : seen) EXPECT_EQ(n, 1) << tag << " reported " << n << " times";
  // Each report names the thread that made it: one thread id per t, eight different ones.
  std::set<int64_t> all;
  for (const auto& [t, ids] : threads) {
    EXPECT_EQ(ids.size(), 1U) << "t" << t;
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), threads.size());
}

TEST_F(user_process, HookCalledFromAnotherLibrarysConstructor) {
  start_agent();
  const std::string command = target_ + " from-constructor";
  const RunResult r = run({programs() + "/ctor_main"}, env({"CTOR_COMMAND=" + command}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("target ran"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("main ran"), std::string::npos) << r.out;
  auto ev = agent_->wait_for(
      [&](const json& e) { return str_field(e, "process.command_line") == command; });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.hook"), "system");
  EXPECT_EQ(int_field(*ev, "process.parent.pid"), r.pid);
}

TEST_F(user_process, RingsideExecInjectsTheInterposer) {
  start_agent(kDenyPolicy);
  const std::string ringside = build_dir() + "/ringside";
  RunResult r = run(
      {ringside, "exec", "--socket", agent_->socket_path(), "--", "hook_target", "--socket", "x"},
      {"PATH=" + dir_->path() + ":/usr/bin:/bin"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("target ran pid=" + std::to_string(r.pid)), std::string::npos) << r.out;
  auto ev = hook_event("execvp", target_);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(args_of(*ev), (std::vector<std::string>{"hook_target", "--socket", "x"}));
  EXPECT_EQ(int_field(*ev, "process.pid"), r.pid);

  r = run({ringside, "exec", "--socket", agent_->socket_path(), forbidden_});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("target ran"), std::string::npos);
}

}  // namespace
}  // namespace ringside::e2e
