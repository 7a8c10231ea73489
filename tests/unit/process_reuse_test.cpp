// A reused pid: enrichment by (pid, start time) never takes a stale entry of the pid's previous
// process, from the table or from /proc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/process_table.hpp"

namespace ringside {
namespace {

namespace fs = std::filesystem;

// A /proc with one process: stat (ppid, start ticks), exe link, status (uids).
class FakeProc {
 public:
  FakeProc()
      : root_(fs::temp_directory_path() / ("ringside-fakeproc-" + std::to_string(getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void process(int pid, int ppid, int64_t start, const std::string& exe) {
    const fs::path dir = root_ / std::to_string(pid);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (x) S " << ppid
                                << " 0 0 0 0 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start << " 0 0\n";
    std::ofstream(dir / "status") << "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n"
                                     "Gid:\t100\t100\t100\t100\n";
    fs::create_symlink(exe, dir / "exe");
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(ProcessReuse, StartTimeSelectsTheIncarnation) {
  FakeProc proc;
  ProcessTable t(proc.root());
  ProcessInfo old;
  old.pid = 4242;
  old.ppid = 1;
  old.start_ticks = 100;
  old.executable = "/usr/bin/old";
  t.on_exec(old);
  // The old process's exit was never reported (lost): the table still holds it as live.
  proc.process(4242, 7, 5000, "/usr/bin/new");
  // Without a start time the newest known entry answers (the stale one).
  EXPECT_EQ(t.brief_or_read(4242)->executable, "/usr/bin/old");
  // With the new process's start time, /proc is read and the new process named.
  auto b = t.brief_or_read(4242, 5000);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->executable, "/usr/bin/new");
  EXPECT_EQ(b->ppid, 7);
  EXPECT_EQ(b->uid, 1000u);
  // Within a tick counts as the same process (wall-clock conversion).
  EXPECT_EQ(t.brief_or_read(4242, 5001)->executable, "/usr/bin/new");
  // The old incarnation is still found by its own start time.
  EXPECT_EQ(t.brief_or_read(4242, 100)->executable, "/usr/bin/old");
  // A start time that is neither in the table nor the running process: nothing, not a guess.
  EXPECT_FALSE(t.brief_or_read(4242, 3000));
  EXPECT_FALSE(t.brief_or_read(4343, 100));  // no such pid at all
}

ProcessInfo incarnation(int32_t pid, int64_t start, const std::string& exe) {
  ProcessInfo p;
  p.pid = pid;
  p.ppid = 1;
  p.start_ticks = start;
  p.executable = exe;
  return p;
}

// Both incarnations of a reused pid stay findable by start time; the pid alone names the newest,
// whatever order they were reported in; they expire with the newest.
TEST(ProcessReuse, IncarnationsLiveAndExpireTogether) {
  FakeProc proc;
  ProcessTable t(proc.root());
  t.on_exec(incarnation(77, 500, "/usr/bin/second"));
  t.on_exec(incarnation(77, 100, "/usr/bin/first"));  // reported late
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find(77)->executable, "/usr/bin/second");
  EXPECT_EQ(t.find(77, 100)->executable, "/usr/bin/first");
  std::string seen;
  EXPECT_TRUE(t.visit(77, 101, [&](const ProcessInfo& p) { seen = p.executable; }));
  EXPECT_EQ(seen, "/usr/bin/first");  // within a tick
  EXPECT_FALSE(t.visit(77, 300, [&](const ProcessInfo&) { ADD_FAILURE(); }));

  t.on_exit(77, 100, 1000);
  EXPECT_TRUE(t.exited(77, 100));
  EXPECT_FALSE(t.exited(77, 500));
  EXPECT_TRUE(t.visit(77, std::nullopt, [&](const ProcessInfo& p) { seen = p.executable; }));
  EXPECT_EQ(seen, "/usr/bin/second");
  EXPECT_EQ(t.expire(1000 + 10, 5), 1u);  // the first, alone
  EXPECT_FALSE(t.find(77, 100));
  EXPECT_EQ(t.size(), 1u);

  // A third incarnation whose predecessor's exit was lost: both go when it expires.
  t.on_exec(incarnation(77, 900, "/usr/bin/third"));
  EXPECT_EQ(t.size(), 2u);
  t.on_exit(77, 900, 2000);
  // An exited newest is not what the pid alone names any more.
  EXPECT_FALSE(t.visit(77, std::nullopt, [&](const ProcessInfo&) { ADD_FAILURE(); }));
  EXPECT_EQ(t.expire(2000 + 10, 5), 2u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.find(77));
}

}  // namespace
}  // namespace ringside
