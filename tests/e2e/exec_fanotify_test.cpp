// End to end: the real agent blocks execs before the image runs with fanotify
// FAN_OPEN_EXEC_PERM. Every test marks only a tmpfs it mounts on a fresh directory and
// unmounts afterwards (the agent is stopped first), so no exec outside it ever waits.

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "agent/hash_cache.hpp"
#include "core/result.hpp"
#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// A tmpfs on a new directory under /tmp; unmounted (lazily if still busy) and removed.
class ScratchMount {
 public:
  ScratchMount() {
    char tmpl[] = "/tmp/ringside-fan-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    path_ = tmpl;
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=512m,mode=0755") != 0) {
      error_ = "mount tmpfs: " + errno_text(errno);
      rmdir(path_.c_str());
      path_.clear();
    }
  }
  ~ScratchMount() {
    if (path_.empty()) return;
    if (umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
    rmdir(path_.c_str());
  }
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& error() const { return error_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string error_ = "mkdtemp failed";
};

struct ExecResult {
  int exec_errno = 0;  // why execve failed; 0 when the image ran
  int exit_code = -1;
  int term_signal = 0;
  bool timed_out = false;
  pid_t pid = 0;
};

// fork + execve + wait, telling an exec that failed (and its errno) from a program that ran.
ExecResult exec_child(const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  ExecResult r;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return r;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char* envp[] = {nullptr};
  r.pid = fork();
  if (r.pid == 0) {
    close(pipefd[0]);
    const int devnull = open("/dev/null", O_WRONLY);  // a shell's complaint is not test output
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    execve(args[0], args.data(), envp);
    const int e = errno;
    (void)!write(pipefd[1], &e, sizeof e);
    _exit(127);
  }
  close(pipefd[1]);
  int status = 0;
  const auto deadline = Clock::now() + timeout;
  while (waitpid(r.pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      r.timed_out = true;
      kill(r.pid, SIGKILL);
      waitpid(r.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  int e = 0;
  if (read(pipefd[0], &e, sizeof e) == static_cast<ssize_t>(sizeof e)) r.exec_errno = e;
  close(pipefd[0]);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  return r;
}

bool blocked(const ExecResult& r) { return r.exec_errno == EPERM || r.exec_errno == EACCES; }

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return sha256_hex(data);
}

// The exec_fanotify counters the agent logs when it stops.
struct FanStats {
  long seen = -1, denied = -1, defaulted = -1;
};
FanStats fan_stats(const std::string& log) {
  static const std::regex re(
      R"(sensor exec_fanotify: seen (\d+) dropped \d+ errors \d+ denied (\d+) defaulted (\d+))");
  std::smatch m;
  FanStats s;
  if (std::regex_search(log, m, re)) {
    s.seen = std::stol(m[1]);
    s.denied = std::stol(m[2]);
    s.defaulted = std::stol(m[3]);
  }
  return s;
}

class ExecFanotify : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    mnt_ = std::make_unique<ScratchMount>();
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
  }
  void TearDown() override {
    if (agent_) agent_->kill9();  // before the unmount, in every outcome
    agent_.reset();
    mnt_.reset();
  }

  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.policy_yaml = policy;
    o.levels = "kernel";
    o.extra_args = {"--log-level", "info"};
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }

  std::optional<json> fan_event(const std::string& exe, std::chrono::milliseconds timeout = 5s) {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "fanotify" &&
                 str_field(ev, "process.executable") == exe;
        },
        timeout);
  }

  // Rewrites the policy file and waits until the agent says it reloaded it.
  void reload(const std::string& policy) {
    const size_t before = count_reloads();
    std::ofstream(agent_->policy_path(), std::ios::trunc) << policy;
    agent_->signal(SIGHUP);
    const auto deadline = Clock::now() + 10s;
    while (count_reloads() == before && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_GT(count_reloads(), before) << agent_->log();
  }
  size_t count_reloads() const {
    const std::string log = agent_->log();
    size_t n = 0;
    for (size_t p = log.find("policy reloaded"); p != std::string::npos;
         p = log.find("policy reloaded", p + 1)) {
      ++n;
    }
    return n;
  }

  FanStats stop_and_stats() {
    agent_->stop();
    return fan_stats(agent_->log());
  }

  std::string path_rule(const std::string& name, const std::string& exe) const {
    return "  - {name: " + name + ", on: process.exec, match: {process.executable: " + exe +
           "}, action: deny}\n";
  }
  std::string content_rule(const std::string& name, const std::string& hash) const {
    return "  - name: " + name + "\n    on: process.exec\n    match:\n" +
           "      process.executable: {prefix: " + mnt_->path() + "/, sha256: " + hash +
           "}\n    action: deny\n";
  }

  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ExecFanotify, DeniedBinaryFailsBeforeItRunsAndIsReported) {
  const std::string denied = copy_program("/bin/true", mnt_->file("denied"));
  const std::string allowed = copy_program("/bin/true", mnt_->file("allowed"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + path_rule("no-denied", denied)));

  const ExecResult d = exec_child({denied});
  EXPECT_TRUE(blocked(d)) << "errno " << d.exec_errno << " exit " << d.exit_code;
  const ExecResult a = exec_child({allowed});
  EXPECT_EQ(a.exec_errno, 0);
  EXPECT_EQ(a.exit_code, 0);

  auto ev = fan_event(denied);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "no-denied");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*ev, "event.outcome"), "failure");
  EXPECT_EQ(str_field(*ev, "event.action"), "exec");
  EXPECT_EQ(int_field(*ev, "process.pid"), d.pid);
  EXPECT_EQ(int_field(*ev, "process.parent.pid"), getpid());
  EXPECT_EQ(str_field(*ev, "process.hash.sha256"), file_sha256(denied));
  // Allowed execs are the process sensor's to report.
  EXPECT_FALSE(fan_event(allowed, 200ms));
  const FanStats s = stop_and_stats();
  EXPECT_EQ(s.denied, 1);
  EXPECT_EQ(s.defaulted, 0);
}

TEST_F(ExecFanotify, Sha256RuleDeniesTheSameContentUnderAnyName) {
  const std::string denied = copy_program("/bin/false", mnt_->file("denied"));
  const std::string renamed = copy_program("/bin/false", mnt_->file("harmless-name"));
  const std::string allowed = copy_program("/bin/true", mnt_->file("allowed"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + content_rule("no-false", file_sha256(denied))));

  EXPECT_TRUE(blocked(exec_child({denied})));
  const ExecResult r = exec_child({renamed});
  EXPECT_TRUE(blocked(r)) << "errno " << r.exec_errno << " exit " << r.exit_code;
  EXPECT_EQ(exec_child({allowed}).exit_code, 0);
  auto ev = fan_event(renamed);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "no-false");
  EXPECT_EQ(int_field(*ev, "process.pid"), r.pid);
}

TEST_F(ExecFanotify, ParentExecutableRuleDeniesOnlyUnderThatParent) {
  const std::string victim = copy_program("/bin/true", mnt_->file("victim"));
  const std::string parent = copy_program("/usr/bin/dash", mnt_->file("parent-sh"));
  ASSERT_NO_FATAL_FAILURE(
      start_agent("rules:\n  - name: not-from-parent-sh\n    on: process.exec\n    match: "
                  "{process.executable: " +
                  victim + ", process.parent.executable: " + parent + "}\n    action: deny\n"));

  // Started by this test: runs.
  EXPECT_EQ(exec_child({victim}).exit_code, 0);
  // Started by the parent copy (the ';' makes dash fork before exec): dash reports 126.
  const ExecResult r = exec_child({parent, "-c", victim + "; exit $?"});
  EXPECT_EQ(r.exec_errno, 0);
  EXPECT_EQ(r.exit_code, 126);
  auto ev = fan_event(victim);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "not-from-parent-sh");
  EXPECT_EQ(str_field(*ev, "process.parent.executable"), parent);
  EXPECT_EQ(int_field(*ev, "process.parent.pid"), r.pid);
}

TEST_F(ExecFanotify, AllowedBinaryIsDecidedOnceThenCached) {
  const std::string denied = copy_program("/bin/false", mnt_->file("denied"));
  const std::string app = copy_program("/bin/true", mnt_->file("app"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + content_rule("no-false", file_sha256(denied))));
  for (int i = 0; i < 200; ++i) {
    const ExecResult r = exec_child({app});
    ASSERT_EQ(r.exit_code, 0) << "run " << i;
  }
  EXPECT_TRUE(blocked(exec_child({denied})));  // the cache did not swallow the deny
  const FanStats s = stop_and_stats();
  ASSERT_GE(s.seen, 0) << agent_->log();
  // One permission event for the first run of app, one for the denied binary.
  EXPECT_LE(s.seen, 5) << "200 runs of a cached binary cost " << s.seen << " events";
  EXPECT_EQ(s.denied, 1);
}

TEST_F(ExecFanotify, ModifiedBinaryIsDecidedAgain) {
  const std::string denied = copy_program("/bin/false", mnt_->file("denied"));
  const std::string app = copy_program("/bin/true", mnt_->file("app"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + content_rule("no-false", file_sha256(denied))));
  EXPECT_EQ(exec_child({app}).exit_code, 0);
  EXPECT_EQ(exec_child({app}).exit_code, 0);  // cached now
  // Same inode, new content (the denied one): the kernel drops the ignore mark on modify.
  {
    std::ifstream in(denied, std::ios::binary);
    std::ofstream out(app, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
    out << in.rdbuf();
  }
  const ExecResult r = exec_child({app});
  EXPECT_TRUE(blocked(r)) << "errno " << r.exec_errno << " exit " << r.exit_code;
  EXPECT_TRUE(fan_event(app));
}

TEST_F(ExecFanotify, RenamingOrLinkingAnAllowedFileOntoADeniedNameIsStillDenied) {
  const std::string denied = mnt_->file("evil");
  const std::string good = copy_program("/bin/true", mnt_->file("good"));
  const std::string other = copy_program("/bin/true", mnt_->file("other"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + path_rule("no-evil", denied)));
  EXPECT_EQ(exec_child({good}).exit_code, 0);
  EXPECT_EQ(exec_child({good}).exit_code, 0);
  ASSERT_EQ(rename(good.c_str(), denied.c_str()), 0);
  EXPECT_TRUE(blocked(exec_child({denied})));
  ASSERT_EQ(unlink(denied.c_str()), 0);
  EXPECT_EQ(exec_child({other}).exit_code, 0);
  ASSERT_EQ(link(other.c_str(), denied.c_str()), 0);
  EXPECT_TRUE(blocked(exec_child({denied})));
}

TEST_F(ExecFanotify, ReloadWithoutTheDenyRuleLetsTheBinaryRun) {
  const std::string denied = copy_program("/bin/true", mnt_->file("denied"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + path_rule("no-denied", denied)));
  EXPECT_TRUE(blocked(exec_child({denied})));
  ASSERT_NO_FATAL_FAILURE(reload("rules: []\n"));
  const ExecResult r = exec_child({denied});
  EXPECT_EQ(r.exec_errno, 0);
  EXPECT_EQ(r.exit_code, 0);
  // And back: the new group is in place before the agent uses the new policy.
  ASSERT_NO_FATAL_FAILURE(reload("rules:\n" + path_rule("no-denied-again", denied)));
  EXPECT_TRUE(blocked(exec_child({denied})));
  auto ev = agent_->wait_for(
      [&](const json& e) { return str_field(e, "ringside.rule") == "no-denied-again"; });
  EXPECT_TRUE(ev);
}

// A decision that cannot be made in time (hashing a large file against a 2 ms deadline) gets
// the fail-mode default, counted.
class ExecFanotifyDeadline : public ExecFanotify {
 protected:
  std::string big_binary() {
    const std::string p = copy_program("/bin/true", mnt_->file("big"));
    std::ofstream out(p, std::ios::binary | std::ios::app);  // ELF ignores trailing bytes
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 96; ++i) out << chunk;
    return p;
  }
  std::string policy(const std::string& mode, const std::string& hash) const {
    return "settings: {fail_mode: " + mode + ", decision_deadline_ms: 2}\nrules:\n" +
           content_rule("no-big", hash);
  }
};

TEST_F(ExecFanotifyDeadline, FailClosedDeniesWhatItCouldNotDecide) {
  const std::string big = big_binary();
  // The rule names other content: given time, the decision would be allow.
  ASSERT_NO_FATAL_FAILURE(start_agent(policy("closed", std::string(64, '0'))));
  const ExecResult r = exec_child({big});
  EXPECT_TRUE(blocked(r)) << "errno " << r.exec_errno << " exit " << r.exit_code;
  auto ev = fan_event(big);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "default");
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  const FanStats s = stop_and_stats();
  EXPECT_GE(s.defaulted, 1);
}

TEST_F(ExecFanotifyDeadline, FailOpenRunsWhatItCouldNotDecide) {
  const std::string big = big_binary();
  // The rule names this very content: given time, the decision would be deny.
  ASSERT_NO_FATAL_FAILURE(start_agent(policy("open", file_sha256(big))));
  const ExecResult r = exec_child({big});
  EXPECT_EQ(r.exec_errno, 0);
  auto ev = fan_event(big);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "default");
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "allow");
  const FanStats s = stop_and_stats();
  EXPECT_GE(s.defaulted, 1);
  EXPECT_EQ(s.denied, 0);
}

// The kernel allows what a dead agent left pending: a stopped agent blocks execs on its marks,
// and killing it releases them.
TEST_F(ExecFanotify, KilledAgentReleasesBlockedExecs) {
  const std::string denied = copy_program("/bin/true", mnt_->file("denied"));
  const std::string waiting = copy_program("/bin/true", mnt_->file("waiting"));
  ASSERT_NO_FATAL_FAILURE(start_agent("rules:\n" + path_rule("no-denied", denied)));
  ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
  const pid_t child = fork();
  if (child == 0) {
    char* argv[] = {const_cast<char*>(waiting.c_str()), nullptr};
    char* envp[] = {nullptr};
    execve(argv[0], argv, envp);
    _exit(127);
  }
  ASSERT_GT(child, 0);
  std::this_thread::sleep_for(300ms);
  int status = 0;
  const bool finished_early = waitpid(child, &status, WNOHANG) == child;
  agent_->kill9();
  const auto t0 = Clock::now();
  bool finished = finished_early;
  while (!finished && Clock::now() - t0 < 5s) {
    finished = waitpid(child, &status, WNOHANG) == child;
    if (!finished) std::this_thread::sleep_for(5ms);
  }
  if (!finished) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  EXPECT_FALSE(finished_early) << "the exec did not wait for the stopped agent";
  ASSERT_TRUE(finished) << "exec still blocked 5 s after the agent died";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// Per-exec cost on a marked filesystem; opt-in (RINGSIDE_MEASURE=1), prints the numbers.
// Configurations take turns in rounds so that background load spreads over all of them.
TEST_F(ExecFanotify, MeasureExecCost) {
  if (std::getenv("RINGSIDE_MEASURE") == nullptr) GTEST_SKIP() << "set RINGSIDE_MEASURE=1";
  const std::string app = copy_program("/bin/true", mnt_->file("app"));
  const std::string denied = copy_program("/bin/false", mnt_->file("denied"));
  constexpr int kRounds = 5, kRunsPerRound = 200;
  struct Config {
    const char* label;
    std::optional<std::string> policy;  // no agent when empty
    std::vector<double> us;
    double agent_cpu_ms = 0;
    long seen = 0;
  };
  std::vector<Config> configs;
  configs.push_back({"no agent", std::nullopt, {}, 0, 0});
  configs.push_back({"agent, no deny rule (no marks)", "rules: []\n", {}, 0, 0});
  // A deny rule that also reads the parent: nothing can be cached, every exec is decided.
  configs.push_back({"agent, deny rule, every exec decided",
                     "rules:\n  - {name: d, on: process.exec, match: {process.executable: " +
                         denied + ", process.parent.name: nobody}, action: deny}\n",
                     {},
                     0,
                     0});
  configs.push_back({"agent, deny rule, cached (ignore mark)",
                     "rules:\n" + content_rule("no-false", file_sha256(denied)),
                     {},
                     0,
                     0});
  auto agent_cpu_ms = [&]() -> double {
    std::ifstream in("/proc/" + std::to_string(agent_->pid()) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14 || i == 15) ticks += std::stod(f);
    }
    return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  };
  for (int round = 0; round < kRounds; ++round) {
    for (Config& c : configs) {
      if (c.policy) {
        ASSERT_NO_FATAL_FAILURE(start_agent(*c.policy));
      }
      const double cpu0 = c.policy ? agent_cpu_ms() : 0;
      for (int i = 0; i < kRunsPerRound; ++i) {
        const auto t0 = Clock::now();
        const ExecResult r = exec_child({app});
        c.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        ASSERT_EQ(r.exit_code, 0);
      }
      if (c.policy) {
        c.agent_cpu_ms += agent_cpu_ms() - cpu0;
        c.seen += stop_and_stats().seen;
        agent_.reset();
      }
    }
  }
  for (Config& c : configs) {
    std::sort(c.us.begin(), c.us.end());
    const size_t n = c.us.size();
    std::printf(
        "%-40s median %7.1f us  p90 %7.1f us  p99 %7.1f us  agent cpu %5.1f us/exec  "
        "permission events %ld\n",
        c.label, c.us[n / 2], c.us[n * 90 / 100], c.us[n * 99 / 100],
        c.agent_cpu_ms * 1000.0 / static_cast<double>(n), c.seen);
  }
  EXPECT_GE(configs[2].seen, kRounds * kRunsPerRound);
  EXPECT_LE(configs[3].seen, 2 * kRounds);
  EXPECT_EQ(configs[1].seen, 0);
}

}  // namespace
}  // namespace ringside::e2e
