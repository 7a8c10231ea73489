// The interposer's hook-free logic: path resolution and PATH search as the kernel and libc
// would do them, the shared state file, and the connection's deadline handling.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/file_identity.hpp"
#include "sensors/user/hook_state_file.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {
namespace {

namespace fs = std::filesystem;

class ScratchTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ringside-hook-logic-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = fs::canonical(tmpl).string();
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }
  void file(const std::string& rel, int mode) const {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel)) << "#!/bin/sh\n";
    chmod(path(rel).c_str(), static_cast<mode_t>(mode));
  }
  std::string resolve(const char* base, const std::string& p, int expect = 0) const {
    char out[PATH_MAX];
    EXPECT_EQ(rs_resolve_path(base, p.c_str(), out, sizeof out), expect) << p;
    return out;
  }
  std::string root_;
};

// Suite names carry the file's name so that `ctest -R hook` selects them.
using hook_logic = ScratchTree;

TEST_F(hook_logic, ResolvesSymlinksDotsAndRelativePaths) {
  file("real/bin/tool", 0755);
  fs::create_directory_symlink("real", path("link"));                // relative target
  fs::create_directory_symlink(path("real/bin"), path("abs"));       // absolute target
  fs::create_symlink("../bin/tool", path("real/bin/../bin/alias"));  // relative, with ..
  fs::create_symlink("alias", path("real/bin/alias2"));              // chain
  const std::string tool = path("real/bin/tool");
  EXPECT_EQ(resolve(nullptr, tool), tool);
  EXPECT_EQ(resolve(nullptr, path("link/bin/tool")), tool);
  EXPECT_EQ(resolve(nullptr, path("abs/tool")), tool);
  EXPECT_EQ(resolve(nullptr, path("real/bin/alias2")), tool);
  EXPECT_EQ(resolve(nullptr, path("link/./bin//../bin/tool")), tool);
  EXPECT_EQ(resolve(root_.c_str(), "link/bin/tool"), tool);
  EXPECT_EQ(resolve(path("real").c_str(), "../abs/tool"), tool);
  EXPECT_EQ(resolve(nullptr, "/"), "/");
  EXPECT_EQ(resolve(nullptr, "/.."), "/");
  EXPECT_EQ(resolve(nullptr, "/bin/sh"), fs::canonical("/bin/sh").string());
}

TEST_F(hook_logic, MissingComponentsAreJoinedLexically) {
  fs::create_directory(path("d"));
  fs::create_directory_symlink("d", path("l"));
  EXPECT_EQ(resolve(nullptr, path("l/missing/../x"), 1), path("d/x"));
  fs::create_symlink("loop", path("loop"));
  EXPECT_EQ(resolve(nullptr, path("loop"), 1), path("loop"));
}

TEST_F(hook_logic, RejectsWhatCannotBeResolved) {
  char out[PATH_MAX];
  EXPECT_EQ(rs_resolve_path(nullptr, "relative", out, sizeof out), -1);  // no base
  EXPECT_EQ(rs_resolve_path("/", "", out, sizeof out), -1);
  EXPECT_EQ(rs_resolve_path("/", nullptr, out, sizeof out), -1);
  char tiny[4];
  EXPECT_EQ(rs_resolve_path(nullptr, "/usr/bin", tiny, sizeof tiny), -1);
  EXPECT_STREQ(tiny, "");
  const std::string too_long = "/" + std::string(PATH_MAX + 10, 'a');
  EXPECT_EQ(rs_resolve_path(nullptr, too_long.c_str(), out, sizeof out), -1);
}

// Runs the test body in `dir` and returns to where it was.
struct ScopedChdir {
  explicit ScopedChdir(const std::string& dir) : old(fs::current_path()) { fs::current_path(dir); }
  ~ScopedChdir() { fs::current_path(old); }
  fs::path old;
};

TEST_F(hook_logic, PathSearchFindsTheFirstExecutableRegularFileAsExecvpWouldRunIt) {
  file("d1/prog", 0644);                    // not executable: skipped
  fs::create_directories(path("d2/prog"));  // a directory: skipped
  file("d3/prog", 0755);
  file("d4/prog", 0755);
  file("cwd/prog", 0755);
  fs::create_directory_symlink("d4", path("d5"));
  const std::string list =
      path("nope") + ":" + path("d1") + ":" + path("d2") + ":" + path("d3") + ":" + path("d4");
  char out[PATH_MAX];
  ASSERT_EQ(rs_search_path("prog", list.c_str(), out, sizeof out), 0);
  EXPECT_EQ(std::string(out), path("d3/prog"));
  // The candidate is what execvp hands the kernel: not resolved (the agent resolves it).
  ASSERT_EQ(rs_search_path("prog", path("d5").c_str(), out, sizeof out), 0);
  EXPECT_EQ(std::string(out), path("d5/prog"));
  {
    // An empty element is the current directory; relative elements stay relative.
    const ScopedChdir in(path("cwd"));
    ASSERT_EQ(rs_search_path("prog", (path("d1") + "::" + path("d4")).c_str(), out, sizeof out), 0);
    EXPECT_EQ(std::string(out), "./prog");
    ASSERT_EQ(rs_search_path("prog", "../d4", out, sizeof out), 0);
    EXPECT_EQ(std::string(out), "../d4/prog");
  }
  EXPECT_EQ(rs_search_path("prog", path("d1").c_str(), out, sizeof out), -1);
  EXPECT_EQ(rs_search_path("a/prog", list.c_str(), out, sizeof out), -1);
  EXPECT_EQ(rs_search_path("", list.c_str(), out, sizeof out), -1);
  // No PATH at all: libc's default, /bin:/usr/bin.
  ASSERT_EQ(rs_search_path("sh", nullptr, out, sizeof out), 0);
  EXPECT_EQ(std::string(out), "/bin/sh");
  // A candidate before the answer that does not fit a short buffer: only a longer one can say.
  char tiny[16];
  EXPECT_EQ(rs_search_path("prog", list.c_str(), tiny, sizeof tiny), -2);
}

TEST_F(hook_logic, FindExecutableNamesWhatEachKindOfCallWillRun) {
  file("real/bin/tool", 0755);
  fs::create_directory_symlink("real", path("lnk"));
  const std::string tool = path("real/bin/tool");
  struct stat st {};
  ASSERT_EQ(stat(tool.c_str(), &st), 0);
  char buf[PATH_MAX];
  rs_file_id id{};
  rs_exe_spec spec{RS_EXE_PATH, "lnk/bin/../bin/tool", -1, 0, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, root_.c_str(), buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), tool);
  ASSERT_TRUE(id.valid);  // the file's identity, for the agent's hash cache
  EXPECT_EQ(id.dev, static_cast<uint64_t>(st.st_dev));
  EXPECT_EQ(id.ino, static_cast<uint64_t>(st.st_ino));
  EXPECT_EQ(id.mtime_ns, FileIdentity::of(st).mtime_ns);
  EXPECT_EQ(rs_find_executable(&spec, nullptr, buf, sizeof buf, &id), -1);  // relative to nothing
  const std::string dir_path = path("real/bin/..");
  spec = {RS_EXE_PATH, dir_path.c_str(), -1, 0, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_FALSE(id.valid);  // a directory: nothing to hash

  const std::string dirs = path("none") + ":" + path("lnk/bin");
  spec = {RS_EXE_SEARCH, "tool", -1, 0, dirs.c_str()};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), tool);
  char small[8];  // too short for a candidate: the caller retries with PATH_MAX
  EXPECT_EQ(rs_find_executable(&spec, "/", small, sizeof small, &id), RS_EXE_NEEDS_ROOM);
  char medium[24];  // candidates fit, the resolved answer does not
  spec = {RS_EXE_PATH, tool.c_str(), -1, 0, nullptr};
  EXPECT_EQ(rs_find_executable(&spec, "/", medium, sizeof medium, &id), RS_EXE_NEEDS_ROOM);
  spec = {RS_EXE_SEARCH, "missing", -1, 0, dirs.c_str()};
  EXPECT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), -1);

  const int fd = open(tool.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  spec = {RS_EXE_FD, nullptr, fd, 0, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), tool);
  spec = {RS_EXE_AT, "", fd, AT_EMPTY_PATH, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), tool);
  close(fd);
  const int dir = open(path("lnk").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  spec = {RS_EXE_AT, "bin/tool", dir, 0, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), tool);
  close(dir);

  // /proc/self names the caller: resolved here, it is this test's own binary.
  spec = {RS_EXE_PATH, "/proc/self/exe", -1, 0, nullptr};
  ASSERT_EQ(rs_find_executable(&spec, "/", buf, sizeof buf, &id), 0);
  EXPECT_EQ(std::string(buf), fs::canonical("/proc/self/exe").string());
}

TEST_F(hook_logic, DescriptorPathNamesTheOpenFile) {
  file("f", 0644);
  const int fd = open(path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char out[PATH_MAX];
  EXPECT_EQ(rs_fd_path(fd, out, sizeof out), 0);
  EXPECT_EQ(std::string(out), path("f"));
  close(fd);
  EXPECT_EQ(rs_fd_path(fd, out, sizeof out), -1);
  EXPECT_EQ(rs_fd_path(-1, out, sizeof out), -1);
}

TEST_F(hook_logic, StateFileIsUpdatedInPlaceAndSeenByEveryMapping) {
  const std::string p = path("hook.sock.state");
  EXPECT_EQ(rs_hook_state_map(p.c_str()), nullptr);  // absent
  auto writer = HookStateFile::open(p, 1234);
  ASSERT_TRUE(writer) << writer.error().message;
  struct stat st {};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  const rs_hook_state* reader = rs_hook_state_map(p.c_str());
  ASSERT_NE(reader, nullptr);
  rs_hook_state_view v{};
  rs_hook_state_read(reader, &v);
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.agent_pid, 1234);
  EXPECT_EQ(v.sync_ops, 0u);
  const uint32_t first = v.generation;

  (*writer)->publish(RS_HOOK_OP_EXEC, 150, true);
  rs_hook_state_read(reader, &v);
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.sync_ops, static_cast<uint32_t>(RS_HOOK_OP_EXEC));
  EXPECT_EQ(v.deadline_ms, 150u);
  EXPECT_EQ(v.fail_closed, 1u);
  EXPECT_EQ(v.generation, first + 2);

  // A second agent reuses the same file (same inode), so old mappings keep working.
  writer->reset();
  auto again = HookStateFile::open(p, 5678);
  ASSERT_TRUE(again) << again.error().message;
  struct stat st2 {};
  ASSERT_EQ(stat(p.c_str(), &st2), 0);
  EXPECT_EQ(st2.st_ino, st.st_ino);
  rs_hook_state_read(reader, &v);
  EXPECT_EQ(v.agent_pid, 5678);
  EXPECT_EQ(v.sync_ops, 0u);

  (*again)->publish(RS_HOOK_OP_EXEC, 100, false);
  (*again)->clear();
  rs_hook_state_read(reader, &v);
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.sync_ops, 0u);
  EXPECT_EQ(v.agent_pid, 0);
  rs_hook_state_unmap(reader);
}

TEST_F(hook_logic, StateFileReadWithoutAMapping) {
  const std::string p = path("hook.sock.state");
  rs_hook_state_view v{};
  v.valid = 1;
  rs_hook_state_read_file(p.c_str(), &v);  // absent
  EXPECT_FALSE(v.valid);
  auto writer = HookStateFile::open(p, 4321);
  ASSERT_TRUE(writer) << writer.error().message;
  (*writer)->publish(RS_HOOK_OP_EXEC, 120, true);
  rs_hook_state_read_file(p.c_str(), &v);
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.agent_pid, 4321);
  EXPECT_EQ(v.sync_ops, static_cast<uint32_t>(RS_HOOK_OP_EXEC));
  EXPECT_EQ(v.deadline_ms, 120u);
  EXPECT_EQ(v.fail_closed, 1u);

  // Unusable: too short, a directory, a torn update, a FIFO (which must not block).
  std::ofstream(path("short")) << "tiny";
  rs_hook_state_read_file(path("short").c_str(), &v);
  EXPECT_FALSE(v.valid);
  fs::create_directory(path("dir"));
  rs_hook_state_read_file(path("dir").c_str(), &v);
  EXPECT_FALSE(v.valid);
  rs_hook_state torn{};
  rs_hook_state_write(&torn, RS_HOOK_OP_EXEC, 1, 1, 1);
  torn.generation |= 1U;
  std::ofstream(path("torn"), std::ios::binary)
      .write(reinterpret_cast<const char*>(&torn), sizeof torn);
  rs_hook_state_read_file(path("torn").c_str(), &v);
  EXPECT_FALSE(v.valid);
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0600), 0);
  rs_hook_state_read_file(path("fifo").c_str(), &v);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(rs_hook_state_map(path("fifo").c_str()), nullptr);
  rs_hook_state_read_file(nullptr, &v);
  EXPECT_FALSE(v.valid);
}

TEST_F(hook_logic, UnusableStateFilesAreIgnored) {
  std::ofstream(path("short")) << "tiny";
  EXPECT_EQ(rs_hook_state_map(path("short").c_str()), nullptr);
  fs::create_directory(path("dir"));
  EXPECT_EQ(rs_hook_state_map(path("dir").c_str()), nullptr);

  rs_hook_state garbage{};
  garbage.magic = 0x12345678;
  std::ofstream(path("garbage"), std::ios::binary)
      .write(reinterpret_cast<const char*>(&garbage), sizeof garbage);
  const rs_hook_state* m = rs_hook_state_map(path("garbage").c_str());
  ASSERT_NE(m, nullptr);
  rs_hook_state_view v{};
  rs_hook_state_read(m, &v);
  EXPECT_FALSE(v.valid);
  rs_hook_state_unmap(m);

  rs_hook_state torn{};
  rs_hook_state_write(&torn, RS_HOOK_OP_EXEC, 1, 1, 1);
  torn.generation |= 1U;  // a writer that died half-way
  rs_hook_state_read(&torn, &v);
  EXPECT_FALSE(v.valid);
  rs_hook_state_read(nullptr, &v);
  EXPECT_FALSE(v.valid);

  if (geteuid() == 0) {  // a state file someone else owns is never trusted
    std::ofstream(path("foreign")) << std::string(64, '\0');
    ASSERT_EQ(chown(path("foreign").c_str(), 65534, 65534), 0);
    EXPECT_FALSE(HookStateFile::open(path("foreign"), 1));
  }
  fs::create_symlink(path("garbage"), path("symlink"));
  EXPECT_FALSE(HookStateFile::open(path("symlink"), 1));
}

class Exchange : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_), 0);
    const int flags = fcntl(fds_[0], F_GETFL);
    fcntl(fds_[0], F_SETFL, flags | O_NONBLOCK);
  }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  void reply(uint32_t seq, int verdict) const {
    uint8_t buf[64];
    const size_t n = rs_hook_encode_verdict(seq, verdict, "r", 1, buf, sizeof buf);
    ASSERT_EQ(send(fds_[1], buf, n, 0), static_cast<ssize_t>(n));
  }
  int fds_[2] = {-1, -1};
  const uint8_t msg_[4] = {1, 2, 3, 4};
};

using hook_exchange = Exchange;

TEST_F(hook_exchange, FireAndForgetDoesNotWait) {
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fds_[0], msg_, sizeof msg_, 0, 1, 1000, &verdict), RS_HOOK_SENT);
  uint8_t got[16];
  EXPECT_EQ(recv(fds_[1], got, sizeof got, 0), 4);
  EXPECT_EQ(verdict, -1);
}

TEST_F(hook_exchange, WaitsForTheAnswerToItsOwnQuestion) {
  std::thread agent([this] {
    uint8_t got[16];
    ASSERT_EQ(recv(fds_[1], got, sizeof got, 0), 4);
    reply(41, RS_HOOK_VERDICT_ALLOW);  // late answer to an earlier question: skipped
    const uint8_t junk[3] = {9, 9, 9};
    ASSERT_EQ(send(fds_[1], junk, sizeof junk, 0), 3);  // not a verdict: skipped
    reply(42, RS_HOOK_VERDICT_DENY);
  });
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fds_[0], msg_, sizeof msg_, 1, 42, 5000, &verdict), RS_HOOK_ANSWERED);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_DENY);
  agent.join();
}

TEST_F(hook_exchange, GivesUpAtTheDeadline) {
  int verdict = -1;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(rs_hook_exchange(fds_[0], msg_, sizeof msg_, 1, 1, 80, &verdict), RS_HOOK_TIMEOUT);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(75));
  EXPECT_LT(waited, std::chrono::milliseconds(2000));
}

TEST_F(hook_exchange, AgentGoneIsUnreachable) {
  close(fds_[1]);
  fds_[1] = -1;
  int verdict = -1;
  EXPECT_EQ(rs_hook_exchange(fds_[0], msg_, sizeof msg_, 0, 1, 100, &verdict), RS_HOOK_UNREACHABLE);
  EXPECT_EQ(rs_hook_connect("/nonexistent/ringside.sock"), -1);
  EXPECT_EQ(rs_hook_connect(std::string(200, 'x').c_str()), -1);
}

}  // namespace
}  // namespace ringside
