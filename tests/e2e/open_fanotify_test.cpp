// End to end: the real agent blocks opens with fanotify FAN_OPEN_PERM (and FAN_ACCESS_PERM for
// content rules). Every rule names a path on a tmpfs the test mounts on a fresh directory, so
// only that tmpfs is marked; the agent is killed before the unmount on every exit path.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/hash_cache.hpp"
#include "e2e_util.hpp"
#include "scratch_mount.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string self_exe() { return std::filesystem::canonical("/proc/self/exe").string(); }

void put(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// open(2) + read of one byte; 0 when both worked, else the errno of the first that failed.
int try_read(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char c;
  const int rc = read(fd, &c, 1) < 0 ? errno : 0;
  close(fd);
  return rc;
}

class OpenFanotify : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    mnt_ = std::make_unique<ScratchMount>();
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
    secret_ = mnt_->file("secret");
    other_ = mnt_->file("other");
    put(secret_, "the secret");
    put(other_, "not secret");
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
    o.domains = "file";
    o.extra_args = {"--log-level", "info"};
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }
  // Watches only the scratch mount and reports no opens: what a test sees comes from the
  // permission sensor.
  std::string policy(const std::string& rules, const std::string& settings = "") const {
    return "settings:\n" + settings + "  file:\n    watch: [{path: " + mnt_->path() +
           "}]\n    opens: none\nrules:\n" + rules;
  }
  std::string path_rule(const std::string& name, const std::string& path) const {
    return "  - {name: " + name + ", on: file.open, match: {file.path: " + path +
           "}, action: deny}\n";
  }
  std::string content_rule(const std::string& name, const std::string& hash) const {
    return "  - name: " + name +
           "\n    on: file.open\n    match:\n      file.path: {prefix: " + mnt_->path() +
           "/, sha256: " + hash + "}\n    action: deny\n";
  }

  std::optional<json> open_event(const std::string& path,
                                 std::chrono::milliseconds timeout = 5s) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "fanotify" &&
                 str_field(ev, "event.action") == "open" && str_field(ev, "file.path") == path;
        },
        timeout);
  }
  int64_t counter(const std::string& name) const {
    std::this_thread::sleep_for(1200ms);  // the counters file is rewritten every second
    const json s = agent_->stats();
    const json* v = field(s, "sensors");
    if (v == nullptr || !v->contains("open_fanotify")) return -1;
    return (*v)["open_fanotify"].value(name, int64_t{-1});
  }

  void reload(const std::string& policy_yaml) {
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
    std::ofstream(agent_->policy_path(), std::ios::trunc) << policy_yaml;
    agent_->signal(SIGHUP);
    const auto deadline = Clock::now() + 10s;
    while (count() == before && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_GT(count(), before) << agent_->log();
  }

  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
  std::string secret_, other_;
};

TEST_F(OpenFanotify, DeniedOpenFailsWithEpermAndIsReported) {
  ASSERT_NO_FATAL_FAILURE(start_agent(policy(path_rule("no-secret", secret_))));
  const int fd = open(secret_.c_str(), O_RDONLY | O_CLOEXEC);
  const int err = errno;
  if (fd >= 0) close(fd);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(err, EPERM);
  EXPECT_EQ(try_read(other_), 0);
  auto ev = open_event(secret_);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "no-secret");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*ev, "event.outcome"), "failure");
  EXPECT_EQ(str_field(*ev, "ringside.level"), "kernel");
  EXPECT_EQ(int_field(*ev, "process.pid"), getpid());
  EXPECT_EQ(str_field(*ev, "process.executable"), self_exe());
  EXPECT_EQ(str_field(*ev, "ringside.file.requested_path"), secret_);
  const json* flags = field(*ev, "ringside.file.flags");
  ASSERT_NE(flags, nullptr) << ev->dump();
  EXPECT_EQ(*flags, json::array({"O_RDONLY", "O_CLOEXEC"}));
  // Allowed opens are the eBPF sensor's to report.
  EXPECT_FALSE(open_event(other_, 200ms));
}

TEST_F(OpenFanotify, ReloadWithoutTheRuleMakesTheFileReadableAgain) {
  ASSERT_NO_FATAL_FAILURE(start_agent(policy(path_rule("no-secret", secret_))));
  EXPECT_EQ(try_read(secret_), EPERM);
  ASSERT_NO_FATAL_FAILURE(reload(policy("  []\n")));
  EXPECT_EQ(try_read(secret_), 0);
  ASSERT_NO_FATAL_FAILURE(reload(policy(path_rule("no-secret-again", secret_))));
  EXPECT_EQ(try_read(secret_), EPERM);
  auto ev = agent_->wait_for(
      [](const json& e) { return str_field(e, "ringside.rule") == "no-secret-again"; });
  EXPECT_TRUE(ev);
}

TEST_F(OpenFanotify, RuleByActingProcessRefusesOnlyThatProgram) {
  ScratchDir bin("open-bin");  // outside the marked mount
  const std::string cat = copy_program("/bin/cat", bin.file("mycat"));
  ASSERT_NO_FATAL_FAILURE(start_agent(
      policy("  - name: not-mycat\n    on: file.open\n    match:\n      file.path: {prefix: " +
             mnt_->path() + "/}\n      process.executable: " + cat + "\n    action: deny\n")));
  const RunResult refused = run({cat, secret_});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("Operation not permitted"), std::string::npos) << refused.err;
  const RunResult allowed = run({"/bin/cat", secret_});
  EXPECT_EQ(allowed.exit_code, 0);
  EXPECT_EQ(allowed.out, "the secret");
  auto ev = open_event(secret_);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "not-mycat");
  EXPECT_EQ(str_field(*ev, "process.executable"), cat);
  EXPECT_EQ(int_field(*ev, "process.pid"), refused.pid);
}

TEST_F(OpenFanotify, AllowedOpensAreDecidedOnceThenCached) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent(policy(content_rule("no-secret-content", sha256_hex("the secret")))));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(try_read(other_), 0) << i;
  EXPECT_EQ(try_read(secret_), EPERM);  // the cache did not swallow the deny
  const int64_t seen = counter("seen");
  ASSERT_GE(seen, 0) << agent_->log();
  // The first open and read of `other` (one ignore mark covers both), the denied open, and
  // the agent's own opens (answered at once) when it hashes the denied file for other sensors.
  EXPECT_LE(seen, 10) << "1000 cached opens cost " << seen << " permission events";
}

TEST_F(OpenFanotify, ModifiedFileIsDecidedAgain) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent(policy(content_rule("no-secret-content", sha256_hex("the secret")))));
  EXPECT_EQ(try_read(other_), 0);
  EXPECT_EQ(try_read(other_), 0);  // cached now
  {
    // Same inode, the denied content: the kernel drops the ignore mark on modification.
    std::ofstream out(other_, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
    out << "the secret";
  }
  EXPECT_EQ(try_read(other_), EPERM);
  EXPECT_TRUE(open_event(other_));
}

// What was allowed at open can turn into denied content before it is read: each read of a
// content-ruled file is checked too (FAN_ACCESS_PERM), until its allow is cached again.
TEST_F(OpenFanotify, ReadThroughAnOpenDescriptorOfNowDeniedContentFails) {
  ASSERT_NO_FATAL_FAILURE(
      start_agent(policy(content_rule("no-secret-content", sha256_hex("the secret")))));
  const int reader = open(other_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  {
    std::ofstream out(other_, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
    out << "the secret";
  }
  char buf[16];
  EXPECT_EQ(pread(reader, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EPERM);
  close(reader);
  auto ev = open_event(other_);
  ASSERT_TRUE(ev);
  EXPECT_TRUE(field(*ev, "ringside.message") != nullptr);
}

// The kernel allows what a dead agent left pending: a stopped agent holds opens on its marks,
// and killing it releases them.
TEST_F(OpenFanotify, KilledAgentReleasesABlockedOpen) {
  ASSERT_NO_FATAL_FAILURE(start_agent(policy(path_rule("no-secret", secret_))));
  ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
  const pid_t child = fork();
  if (child == 0) {
    const int fd = open(other_.c_str(), O_RDONLY);
    _exit(fd >= 0 ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  std::this_thread::sleep_for(300ms);
  int status = 0;
  const bool finished_early = waitpid(child, &status, WNOHANG) == child;
  agent_->kill9();
  const auto t0 = Clock::now();
  bool finished = finished_early;
  while (!finished && Clock::now() - t0 < 10s) {
    finished = waitpid(child, &status, WNOHANG) == child;
    if (!finished) std::this_thread::sleep_for(5ms);
  }
  if (!finished) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  EXPECT_FALSE(finished_early) << "the open did not wait for the stopped agent";
  ASSERT_TRUE(finished) << "open still blocked 10 s after the agent died";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// A decision not made in time (hashing 96 MiB against a 2 ms deadline) gets the fail-mode
// default, reported and counted.
class OpenFanotifyDeadline : public OpenFanotify {
 protected:
  std::string big_file() {
    const std::string p = mnt_->file("big");
    std::ofstream out(p, std::ios::binary);
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 96; ++i) out << chunk;
    return p;
  }
  std::string deadline_policy(const std::string& mode, const std::string& hash) const {
    return policy(content_rule("no-big", hash),
                  "  fail_mode: " + mode + "\n  decision_deadline_ms: 2\n");
  }
};

TEST_F(OpenFanotifyDeadline, FailClosedDeniesWhatItCouldNotDecide) {
  const std::string big = big_file();
  // The rule names other content: given time, the decision would be allow.
  ASSERT_NO_FATAL_FAILURE(start_agent(deadline_policy("closed", std::string(64, '0'))));
  const int fd = open(big.c_str(), O_RDONLY | O_CLOEXEC);
  const int err = errno;
  if (fd >= 0) close(fd);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(err, EPERM);
  auto ev = open_event(big);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "default");
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_GE(counter("defaulted"), 1);
}

TEST_F(OpenFanotifyDeadline, FailOpenAllowsWhatItCouldNotDecide) {
  const std::string big = big_file();
  // The rule names this very content: given time, the decision would be deny.
  std::ifstream in(big, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NO_FATAL_FAILURE(start_agent(deadline_policy("open", sha256_hex(data))));
  const int fd = open(big.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << errno_text(errno);
  if (fd >= 0) close(fd);
  auto ev = open_event(big);
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "default");
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "allow");
  EXPECT_GE(counter("defaulted"), 1);
}

}  // namespace
}  // namespace ringside::e2e
