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

}  // namespace
}  // namespace ringside
