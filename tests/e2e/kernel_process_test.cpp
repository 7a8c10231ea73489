// The eBPF process sensor against the real kernel: fork, exec and exit events with every field,
// kill-on-exec in the kernel, the agent's late kill, and BPF-LSM where the kernel allows it.
// Every program run or killed here is a scratch copy of /bin/dash in a scratch directory,
// matched by that path and a per-test argv marker.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/hash_cache.hpp"
#include "e2e_util.hpp"
#include "sensors/kernel/process_ebpf.hpp"

namespace ringside::e2e {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// "2026-11-23T19:57:44.940627164Z" -> ns since the epoch.
int64_t parse_rfc3339(const std::string& s) {
  tm t{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (rest == nullptr) return 0;
  int64_t ns = static_cast<int64_t>(timegm(&t)) * 1000000000;
  if (*rest == '.') {
    int64_t frac = 0;
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits) frac = frac * 10 + (*rest - '0');
    for (; digits < 9; ++digits) frac *= 10;
    ns += frac;
  }
  return ns;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Changes the working directory for the lifetime of the object.
class Cwd {
 public:
  explicit Cwd(const std::string& dir) : old_(std::filesystem::current_path()) {
    if (chdir(dir.c_str()) != 0) ADD_FAILURE() << "chdir " << dir;
  }
  ~Cwd() {
    if (chdir(old_.c_str()) != 0) ADD_FAILURE() << "chdir back";
  }

 private:
  std::string old_;
};

std::string marker(const std::string& what) {
  static int n = 0;
  return "rs-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

struct KernelProcess : ::testing::Test {
  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.levels = "kernel";
    o.policy_yaml = policy;
    std::string error;
    agent = AgentProcess::start(o, &error);
    ASSERT_NE(agent, nullptr) << error;
    bool live = false;
    for (const auto& s : agent->ready()["sensors"]) {
      live = live || (s["name"] == "process_ebpf" && s["state"] == "live");
    }
    ASSERT_TRUE(live) << agent->ready().dump(2);
  }
  std::optional<json> wait_event(const std::string& action, pid_t pid) {
    return agent->wait_for([&](const json& e) {
      return str_field(e, "event.action") == action && int_field(e, "process.pid") == pid &&
             str_field(e, "ringside.sensor") == "ebpf";
    });
  }

  ScratchDir dir{"kproc"};
  std::string victim = copy_program("/bin/dash", dir.file("rs-victim"));
  std::unique_ptr<AgentProcess> agent;
};

TEST_F(KernelProcess, ForkExecExitCarryEveryField) {
  RINGSIDE_REQUIRE_ROOT();
  start_agent("rules: []\n");
  const std::string work = dir.file("work dir");
  ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
  const std::string tag = marker("fields");
  RunResult r;
  {
    Cwd cwd(work);
    r = run({victim, "-c", "exit 7", tag});
  }
  ASSERT_EQ(r.spawn_errno, 0);
  ASSERT_EQ(r.exit_code, 7);

  auto exec = wait_event("exec", r.pid);
  ASSERT_TRUE(exec) << agent->log();
  const json& e = *exec;
  EXPECT_EQ(str_field(e, "process.executable"), real(victim));
  EXPECT_EQ(str_field(e, "process.name"), "rs-victim");
  EXPECT_EQ(*field(e, "process.args"), json::array({victim, "-c", "exit 7", tag}));
  EXPECT_EQ(int_field(e, "process.args_count"), 4);
  EXPECT_EQ(str_field(e, "process.working_directory"), real(work));
  EXPECT_EQ(int_field(e, "process.parent.pid"), getpid());
  EXPECT_EQ(int_field(e, "user.id"), 0);
  EXPECT_EQ(int_field(e, "user.effective.id"), 0);
  EXPECT_EQ(int_field(e, "group.id"), 0);
  EXPECT_EQ(str_field(e, "process.hash.sha256"), sha256_hex(read_file(victim)));
  EXPECT_EQ(str_field(e, "ringside.file.requested_path"), victim);
  EXPECT_EQ(str_field(e, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(e, "ringside.sensor"), "ebpf");
  EXPECT_EQ(str_field(e, "ringside.verdict"), "allow");
  EXPECT_EQ(str_field(e, "event.outcome"), "success");
  EXPECT_EQ(field(e, "ringside.truncated"), nullptr);
  const int64_t ts = parse_rfc3339(str_field(e, "@timestamp"));
  EXPECT_LT(std::llabs(ts - now_ns()), 5LL * 1000000000) << str_field(e, "@timestamp");
  const int64_t start = parse_rfc3339(str_field(e, "process.start"));
  EXPECT_LE(start, ts);
  EXPECT_LT(ts - start, 2LL * 1000000000);

  auto fork = wait_event("fork", r.pid);
  ASSERT_TRUE(fork);
  EXPECT_EQ(int_field(*fork, "process.parent.pid"), getpid());
  EXPECT_EQ(str_field(*fork, "process.start"), str_field(e, "process.start"));
  EXPECT_EQ(int_field(*fork, "user.id"), 0);

  auto exit = wait_event("exit", r.pid);
  ASSERT_TRUE(exit);
  EXPECT_EQ(int_field(*exit, "process.exit_code"), 7);
  EXPECT_EQ(int_field(*exit, "process.parent.pid"), getpid());
  EXPECT_EQ(str_field(*exit, "process.executable"), real(victim));
  EXPECT_EQ(str_field(*exit, "process.start"), str_field(e, "process.start"));
}

TEST_F(KernelProcess, KilledBySignalExitsWithNegativeSignalAndOtherUsersAreSeen) {
  RINGSIDE_REQUIRE_ROOT();
  start_agent("rules: []\n");
  const RunResult term = run({victim, "-c", "kill -TERM $$", marker("term")});
  ASSERT_EQ(term.term_signal, SIGTERM);
  auto exit = wait_event("exit", term.pid);
  ASSERT_TRUE(exit) << agent->log();
  EXPECT_EQ(int_field(*exit, "process.exit_code"), -SIGTERM);

  // setpriv execs the program in place: the exec is the same pid, run as nobody.
  const RunResult nobody = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                victim, "-c", "exit 0", marker("uid")});
  ASSERT_EQ(nobody.exit_code, 0) << nobody.err;
  auto exec = agent->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "exec" && int_field(e, "process.pid") == nobody.pid &&
           str_field(e, "process.executable") == real(victim);
  });
  ASSERT_TRUE(exec);
  EXPECT_EQ(int_field(*exec, "user.id"), 65534);
  EXPECT_EQ(int_field(*exec, "user.effective.id"), 65534);
  EXPECT_EQ(int_field(*exec, "group.id"), 65534);
  EXPECT_EQ(int_field(*exec, "process.parent.pid"), getpid());
}

TEST_F(KernelProcess, DenyOnArgvMarkerKillsBeforeTheFirstInstruction) {
  RINGSIDE_REQUIRE_ROOT();
  const std::string tag = marker("kill");
  start_agent(
      "rules:\n  - name: kill-marked\n    on: process.exec\n    match:\n"
      "      process.executable: {prefix: \"" +
      dir.path() +
      "/\"}\n"
      "      process.args: \"" +
      tag + "\"\n    action: deny\n");
  const std::string created = dir.file("created");
  const std::string script = "echo ran > '" + created + "'; exit 0";
  const RunResult killed = run({victim, "-c", script, tag});
  EXPECT_EQ(killed.term_signal, SIGKILL);
  EXPECT_FALSE(exists(created)) << "the denied program ran";

  auto exec = wait_event("exec", killed.pid);
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(str_field(*exec, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*exec, "ringside.rule"), "kill-marked");
  EXPECT_EQ(str_field(*exec, "ringside.enforcement"), "killed");
  EXPECT_EQ(str_field(*exec, "event.outcome"), "failure");
  auto exit = wait_event("exit", killed.pid);
  ASSERT_TRUE(exit);
  EXPECT_EQ(int_field(*exit, "process.exit_code"), -SIGKILL);

  const RunResult allowed = run({victim, "-c", script, marker("other")});
  EXPECT_EQ(allowed.exit_code, 0);
  EXPECT_TRUE(exists(created));
  auto ok = wait_event("exec", allowed.pid);
  ASSERT_TRUE(ok);
  EXPECT_EQ(str_field(*ok, "ringside.verdict"), "allow");
  EXPECT_EQ(field(*ok, "ringside.enforcement"), nullptr);
}

TEST_F(KernelProcess, DenyTheKernelCannotExpressIsKilledLate) {
  RINGSIDE_REQUIRE_ROOT();
  const std::string suffix = std::to_string(getpid()) + "-late";
  const std::string tag = "rs-late-x-" + suffix;
  start_agent(
      "rules:\n  - name: late-glob\n    on: process.exec\n    match:\n"
      "      process.executable: {prefix: \"" +
      dir.path() +
      "/\"}\n"
      "      process.args: {glob: \"rs-late-*-" +
      suffix +
      "\"}\n"
      "    action: deny\n");
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run({victim, "-c", "while :; do :; done", tag}, {}, 8s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_LT(took, 4s) << "not killed by the agent (the run timed out)";
  auto exec = wait_event("exec", r.pid);
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(str_field(*exec, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*exec, "ringside.rule"), "late-glob");
  EXPECT_EQ(str_field(*exec, "ringside.enforcement"), "late_kill");
}

TEST_F(KernelProcess, LongArgvAndDeepCwdAreCutAndSaySo) {
  RINGSIDE_REQUIRE_ROOT();
  start_agent("rules: []\n");
  std::string deep = dir.path();
  for (int i = 0; i < 70; ++i) {
    deep += "/d";
    ASSERT_EQ(mkdir(deep.c_str(), 0755), 0) << deep;
  }
  std::vector<std::string> argv = {victim, "-c", "exit 0"};
  for (int i = 0; i < 300; ++i) argv.push_back(std::string(40, 'a' + i % 26));
  RunResult r;
  {
    Cwd cwd(deep);
    r = run(argv);
  }
  ASSERT_EQ(r.exit_code, 0);
  auto exec = wait_event("exec", r.pid);
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(int_field(*exec, "process.args_count"), 303);
  const json* args = field(*exec, "process.args");
  ASSERT_NE(args, nullptr);
  EXPECT_LT(args->size(), 303u);
  EXPECT_EQ(args->back(), "[truncated]");
  EXPECT_EQ((*args)[0], victim);
  const json* cut = field(*exec, "ringside.truncated");
  ASSERT_NE(cut, nullptr);
  EXPECT_NE(std::find(cut->begin(), cut->end(), "process.args"), cut->end()) << cut->dump();
  EXPECT_NE(std::find(cut->begin(), cut->end(), "process.working_directory"), cut->end());
  // The deepest components are kept.
  const std::string wd = str_field(*exec, "process.working_directory");
  EXPECT_NE(wd, real(deep));
  EXPECT_EQ(wd.substr(wd.size() - 6), "/d/d/d");
  EXPECT_EQ(str_field(*exec, "process.executable"), real(victim));
}

TEST_F(KernelProcess, PolicyReloadSwapsTheKillTable) {
  RINGSIDE_REQUIRE_ROOT();
  const std::string tag = marker("reload");
  start_agent(
      "rules:\n  - name: before-reload\n    on: process.exec\n    match:\n"
      "      process.executable: {prefix: \"" +
      dir.path() +
      "/\"}\n"
      "      process.args: \"" +
      tag + "\"\n    action: deny\n");
  const RunResult killed = run({victim, "-c", "exit 0", tag});
  EXPECT_EQ(killed.term_signal, SIGKILL);

  std::ofstream(agent->policy_path(), std::ios::trunc) << "rules: []\n";
  agent->signal(SIGHUP);
  auto reloaded = [&] { return agent->log().find("policy reloaded") != std::string::npos; };
  for (int i = 0; i < 200 && !reloaded(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(reloaded()) << agent->log();
  const RunResult allowed = run({victim, "-c", "exit 0", tag});
  EXPECT_EQ(allowed.exit_code, 0);
  auto exec = wait_event("exec", killed.pid);
  ASSERT_TRUE(exec);
  EXPECT_EQ(str_field(*exec, "ringside.rule"), "before-reload");
  auto after = wait_event("exec", allowed.pid);
  ASSERT_TRUE(after);
  EXPECT_EQ(str_field(*after, "ringside.verdict"), "allow");
}

TEST_F(KernelProcess, BpfLsmRefusesExecWithEperm) {
  RINGSIDE_REQUIRE_ROOT();
  if (auto probe = ProcessEbpfSensor::probe_lsm(); !probe) {
    GTEST_SKIP() << "BPF-LSM refused by this kernel: " << probe.error().message;
  }
  // cwd is known to the LSM but not to fanotify, so only the LSM can refuse this exec.
  start_agent(
      "rules:\n  - name: lsm-deny\n    on: process.exec\n    match:\n"
      "      process.executable: \"" +
      real(victim) +
      "\"\n"
      "      process.working_directory: \"" +
      real(dir.path()) +
      "\"\n"
      "    action: deny\n");
  RunResult r;
  {
    Cwd cwd(dir.path());
    r = run({victim, "-c", "exit 0", marker("lsm")});
  }
  EXPECT_EQ(r.spawn_errno, EPERM);
  auto exec = agent->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "exec" &&
           str_field(e, "ringside.enforcement") == "blocked" &&
           str_field(e, "process.executable") == real(victim);
  });
  ASSERT_TRUE(exec) << agent->log();
  EXPECT_EQ(str_field(*exec, "ringside.rule"), "lsm-deny");
  EXPECT_EQ(str_field(*exec, "event.outcome"), "failure");
}

}  // namespace
}  // namespace ringside::e2e
