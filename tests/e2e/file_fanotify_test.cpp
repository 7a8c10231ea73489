// End to end: the real agent reports file changes from its fanotify notification group. Each
// test watches a tmpfs it mounts on a fresh directory (unmounted on every exit path), acts on
// it from this program and asserts the resolved paths and the acting process.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_mount.hpp"

namespace ringside::e2e {
namespace {

std::string self_exe() { return std::filesystem::canonical("/proc/self/exe").string(); }

void create_file(const std::string& path, mode_t mode = 0644) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path << ": " << errno_text(errno);
  close(fd);
}

class FileFanotify : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    umask(022);
    mnt_ = std::make_unique<ScratchMount>("256m");
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
  }
  void TearDown() override {
    if (agent_) agent_->kill9();
    agent_.reset();
    mnt_.reset();
  }

  void start_agent(const std::string& watch_path, const std::string& mark = "filesystem") {
    AgentProcess::Options o;
    o.policy_yaml = "settings:\n  file:\n    watch: [{path: " + watch_path + ", mark: " + mark +
                    "}]\n    opens: none\nrules: []\n";
    o.levels = "kernel";
    o.domains = "file";
    o.extra_args = {"--log-level", "info"};
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }

  std::optional<json> fan_event(const std::string& action, const std::string& path,
                                std::chrono::milliseconds timeout = 5s) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "fanotify" &&
                 str_field(ev, "event.action") == action && str_field(ev, "file.path") == path;
        },
        timeout);
  }
  size_t count(const std::string& action, const std::string& path) const {
    size_t n = 0;
    for (const auto& ev : agent_->events()) {
      n += str_field(ev, "ringside.sensor") == "fanotify" &&
           str_field(ev, "event.action") == action && str_field(ev, "file.path") == path;
    }
    return n;
  }
  void expect_actor(const json& ev) const {
    EXPECT_EQ(int_field(ev, "process.pid"), getpid());
    EXPECT_EQ(str_field(ev, "process.executable"), self_exe());
    EXPECT_EQ(str_field(ev, "ringside.level"), "kernel");
    EXPECT_EQ(str_field(ev, "event.category"), "file");
  }

  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(FileFanotify, CreateModifyChmodDeleteNameTheFileAndTheActor) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  const std::string f = mnt_->file("a.txt");
  const int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto created = fan_event("create", f);
  ASSERT_TRUE(created) << agent_->log();
  expect_actor(*created);
  EXPECT_EQ(str_field(*created, "file.mode"), "0644");
  for (int i = 0; i < 200; ++i) ASSERT_EQ(write(fd, "0123456789", 10), 10);
  close(fd);
  auto modified = fan_event("modify", f);
  ASSERT_TRUE(modified);
  expect_actor(*modified);
  ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  auto chmodded = fan_event("chmod", f);
  ASSERT_TRUE(chmodded);
  expect_actor(*chmodded);
  EXPECT_EQ(str_field(*chmodded, "file.mode"), "0600");
  ASSERT_EQ(unlink(f.c_str()), 0);
  auto deleted = fan_event("delete", f);
  ASSERT_TRUE(deleted);
  expect_actor(*deleted);
  // 200 writes in one open: one file.modify.
  EXPECT_EQ(count("modify", f), 1u);
}

TEST_F(FileFanotify, RenameCarriesBothNamesAndDirectoryRenamesAreFollowed) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  const std::string a = mnt_->file("a"), b = mnt_->file("b");
  const std::string sub = mnt_->file("sub"), sub2 = mnt_->file("sub2");
  create_file(a);
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  create_file(sub + "/inner");  // its directory is resolved and cached here
  ASSERT_TRUE(fan_event("create", sub + "/inner"));
  ASSERT_EQ(rename(a.c_str(), b.c_str()), 0);
  auto r = fan_event("rename", a);
  ASSERT_TRUE(r) << agent_->log();
  EXPECT_EQ(str_field(*r, "file.target_path"), b);
  expect_actor(*r);
  ASSERT_EQ(rename(b.c_str(), (sub + "/c").c_str()), 0);
  auto into = fan_event("rename", b);
  ASSERT_TRUE(into);
  EXPECT_EQ(str_field(*into, "file.target_path"), sub + "/c");
  ASSERT_EQ(rename(sub.c_str(), sub2.c_str()), 0);
  auto dir = fan_event("rename", sub);
  ASSERT_TRUE(dir);
  EXPECT_EQ(str_field(*dir, "file.target_path"), sub2);
  // The cached path of the renamed directory is not used any more.
  create_file(sub2 + "/after");
  EXPECT_TRUE(fan_event("create", sub2 + "/after"));
  EXPECT_EQ(count("create", sub + "/after"), 0u);
}

TEST_F(FileFanotify, DirectoriesAndLinksAreCreatesAndDeletes) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  const std::string d = mnt_->file("dir"), x = mnt_->file("x");
  ASSERT_EQ(mkdir(d.c_str(), 0750), 0);
  auto made = fan_event("create", d);
  ASSERT_TRUE(made);
  expect_actor(*made);
  EXPECT_EQ(str_field(*made, "file.mode"), "0750");
  create_file(x);
  ASSERT_EQ(link(x.c_str(), mnt_->file("hard").c_str()), 0);
  ASSERT_EQ(symlink("x", mnt_->file("soft").c_str()), 0);
  auto hard = fan_event("create", mnt_->file("hard"));
  ASSERT_TRUE(hard);
  expect_actor(*hard);
  auto soft = fan_event("create", mnt_->file("soft"));
  ASSERT_TRUE(soft);
  expect_actor(*soft);
  ASSERT_EQ(rmdir(d.c_str()), 0);
  auto removed = fan_event("delete", d);
  ASSERT_TRUE(removed);
  expect_actor(*removed);
}

TEST_F(FileFanotify, OddPathsComeOutAsValidJson) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  const std::string newline = mnt_->file("new\nline"), quotes = mnt_->file("q\"u'o\\te");
  const std::string invalid = mnt_->file("bad\xff\xfe-utf8");
  // Nested 250-byte directories up to a file path of about 4 KiB.
  std::string deep = mnt_->path();
  while (deep.size() < 3800) {
    deep += "/" + std::string(250, 'd');
    ASSERT_EQ(mkdir(deep.c_str(), 0755), 0) << deep.size();
  }
  const std::string long_path = deep + "/" + std::string(4090 - deep.size() - 1, 'f');
  ASSERT_EQ(long_path.size(), 4090u);
  for (const auto& p : {newline, quotes, invalid, long_path}) create_file(p);
  EXPECT_TRUE(fan_event("create", newline));
  EXPECT_TRUE(fan_event("create", quotes));
  EXPECT_TRUE(fan_event("create", long_path)) << agent_->log();
  // Invalid bytes are replaced (U+FFFD), the rest of the name is kept.
  auto bad = agent_->wait_for([&](const json& ev) {
    const std::string p = str_field(ev, "file.path");
    return str_field(ev, "ringside.sensor") == "fanotify" && p.starts_with(mnt_->file("bad")) &&
           p.ends_with("-utf8");
  });
  ASSERT_TRUE(bad);
  EXPECT_NE(str_field(*bad, "file.path").find("\xEF\xBF\xBD"), std::string::npos);
  size_t lines = 0;
  for (const auto& ev : agent_->events()) {
    EXPECT_FALSE(ev.is_discarded()) << "a line is not valid JSON";
    ++lines;
  }
  EXPECT_GT(lines, 4u);
}

TEST_F(FileFanotify, EachWriteSessionIsOneModify) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  const std::string f = mnt_->file("log");
  for (int session = 0; session < 2; ++session) {
    const int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(write(fd, "x", 1), 1);
    close(fd);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (count("modify", f) < static_cast<size_t>(session + 1) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count("modify", f), 2u);
}

// More creations than a bounded kernel queue holds (16384 events by default), made while the
// agent is stopped and reads none: the group's queue is unlimited, so every one is delivered
// once the agent resumes, and nothing is reported lost. (Losses of the agent's own buffer:
// overload_test, FanotifyWhileAgentStopped.)
TEST_F(FileFanotify, NothingIsLostBeyondTheKernelsDefaultQueue) {
  ASSERT_NO_FATAL_FAILURE(start_agent(mnt_->path()));
  constexpr int kCreates = 18000;
  ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
  for (int i = 0; i < kCreates; ++i) create_file(mnt_->file("f" + std::to_string(i)));
  agent_->signal(SIGCONT);
  const std::string last = mnt_->file("f" + std::to_string(kCreates - 1));
  ASSERT_TRUE(fan_event("create", last)) << agent_->log();
  std::this_thread::sleep_for(1200ms);  // the counters file is rewritten every second
  size_t delivered = 0;
  for (const auto& ev : agent_->events()) {
    EXPECT_FALSE(str_field(ev, "event.action") == "lost" &&
                 str_field(ev, "ringside.sensor") == "fanotify")
        << ev.dump();
    delivered += str_field(ev, "ringside.sensor") == "fanotify" &&
                 str_field(ev, "event.action") == "create" &&
                 str_field(ev, "file.path").rfind(mnt_->file("f"), 0) == 0;
  }
  EXPECT_EQ(delivered, static_cast<size_t>(kCreates));
  EXPECT_EQ(agent_->stats()["sensors"]["file_fanotify"]["dropped"].get<int>(), 0);
}

// The agent's own files lie in the watched scope: writing events must not produce events.
TEST_F(FileFanotify, TheAgentsOwnActivityIsNeverReported) {
  ASSERT_NO_FATAL_FAILURE(start_agent("/tmp", "filesystem"));
  const std::string agent_dir =
      std::filesystem::path(agent_->jsonl_path()).parent_path().string() + "/";
  const std::string marker = mnt_->path() + "-marker";
  create_file(marker);  // on /tmp's filesystem: reported
  ASSERT_TRUE(fan_event("create", marker)) << agent_->log();
  std::this_thread::sleep_for(2500ms);  // the agent rewrites its counters file every second
  unlink(marker.c_str());
  for (const auto& ev : agent_->events()) {
    if (str_field(ev, "ringside.sensor") != "fanotify") continue;
    EXPECT_NE(int_field(ev, "process.pid"), agent_->pid()) << ev.dump();
    EXPECT_FALSE(str_field(ev, "file.path").starts_with(agent_dir)) << ev.dump();
    EXPECT_FALSE(str_field(ev, "file.target_path").starts_with(agent_dir)) << ev.dump();
  }
}

}  // namespace
}  // namespace ringside::e2e
