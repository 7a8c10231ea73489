// `ringside hook install/uninstall` on scratch paths, and the system-wide injection itself:
// in a private mount namespace whose /etc/ld.so.preload is a scratch file, a program started
// without LD_PRELOAD is reported. The real /etc/ld.so.preload is never touched.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

namespace fs = std::filesystem;

const char* const kSystemPreload = "/etc/ld.so.preload";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the real preload file looks like now ("<absent>" when there is none).
std::string system_preload_snapshot() {
  return fs::exists(kSystemPreload) ? read_all(kSystemPreload) : "<absent>";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class HookInstall : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    dir_ = std::make_unique<ScratchDir>("hook-install");
    preload_ = dir_->file("ld.so.preload");
    lib_dir_ = dir_->file("lib/ringside");
    lib_ = lib_dir_ + "/libringside-preload.so";
    before_ = system_preload_snapshot();
  }
  void TearDown() override {
    if (dir_) {
      EXPECT_EQ(system_preload_snapshot(), before_) << "the real preload file changed";
    }
  }
  RunResult hook(const std::string& action, std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {build_dir() + "/ringside",
                                     "hook",
                                     action,
                                     "--preload-file",
                                     preload_,
                                     "--lib-dir",
                                     lib_dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }

  std::unique_ptr<ScratchDir> dir_;
  std::string preload_, lib_dir_, lib_, before_;
};

// The suite name carries the file's name so that `ctest -R hook` selects it.
using hook_install = HookInstall;

TEST_F(hook_install, InstallIsIdempotentAndUninstallRestoresTheFile) {
  const std::string original = "# keep this comment\n/opt/other/libother.so\n";
  dir_->write("ld.so.preload", original);

  RunResult r = hook("install");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_all(preload_), original + lib_ + "\n");
  EXPECT_EQ(read_all(lib_), read_all(build_dir() + "/libringside-preload.so"));
  struct stat st {};
  ASSERT_EQ(stat(lib_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  r = hook("install");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_of(read_all(preload_), lib_), 1u);
  EXPECT_EQ(hook("status").exit_code, 0);
  // No temporary files are left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_->path())) ++entries;
  EXPECT_EQ(entries, 2u);  // ld.so.preload and lib/

  r = hook("uninstall");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_all(preload_), original);
  EXPECT_FALSE(fs::exists(lib_));
  EXPECT_EQ(hook("status").exit_code, 1);
}

TEST_F(hook_install, UninstallRemovesAPreloadFileThatListedOnlyUs) {
  ASSERT_EQ(hook("install").exit_code, 0);
  EXPECT_EQ(read_all(preload_), lib_ + "\n");
  ASSERT_EQ(hook("uninstall").exit_code, 0);
  EXPECT_FALSE(fs::exists(preload_));
  EXPECT_FALSE(fs::exists(lib_dir_));
  EXPECT_EQ(hook("uninstall").exit_code, 0);  // nothing left to do is not an error
}

TEST_F(hook_install, ALibraryThatDoesNotLoadIsNeverListed) {
  const std::string junk = dir_->write("junk.so", "this is not an ELF file");
  const RunResult r = hook("install", {"--library", junk});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not load"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(preload_));
  EXPECT_FALSE(fs::exists(lib_dir_));
}

TEST_F(hook_install, StatusSaysWhenThePreloadFileNamesAMissingLibrary) {
  dir_->write("ld.so.preload", lib_ + "\n");
  const RunResult r = hook("status");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("BROKEN"), std::string::npos) << r.out;
}

TEST_F(hook_install, PlainProgramIsReportedThroughThePreloadFile) {
  AgentProcess::Options o;
  o.levels = "user";
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  ASSERT_NE(agent, nullptr) << error;

  // The scratch preload file lives in an overlay upper directory for /etc (or is bind-mounted
  // over /etc/ld.so.preload when that exists), visible only inside the child's namespace.
  const std::string upper = dir_->file("upper"), work = dir_->file("work");
  fs::create_directories(upper);
  fs::create_directories(work);
  preload_ = upper + "/ld.so.preload";
  RunResult r = hook("install");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  const std::string target =
      copy_program(build_dir() + "/tests/programs/hook_target", dir_->file("plain_target"));
  const std::string caller = build_dir() + "/tests/programs/hook_caller";
  const std::string out_file = dir_->file("child.out");
  const bool bind = fs::exists(kSystemPreload);
  const std::string overlay_opts = "lowerdir=/etc,upperdir=" + upper + ",workdir=" + work;
  const std::string env_socket = "RINGSIDE_SOCKET=" + agent->socket_path();
  std::string a0 = caller, a1 = "execv", a2 = target, a3 = "plain";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
  std::string e0 = env_socket, e1 = "PATH=/usr/bin:/bin";
  char* envp[] = {e0.data(), e1.data(), nullptr};  // no LD_PRELOAD

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || dup2(out, STDOUT_FILENO) < 0) _exit(90);
    if (unshare(CLONE_NEWNS) != 0) _exit(91);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(92);
    if (bind) {
      if (mount(preload_.c_str(), kSystemPreload, nullptr, MS_BIND, nullptr) != 0) _exit(93);
    } else if (mount("overlay", "/etc", "overlay", 0, overlay_opts.c_str()) != 0) {
      _exit(94);
    }
    execve(argv[0], argv, envp);
    _exit(95);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status) << "\n"
                                    << read_all(out_file);
  EXPECT_NE(read_all(out_file).find("target ran"), std::string::npos) << read_all(out_file);

  auto ev = agent->wait_for([&](const json& e) {
    return str_field(e, "ringside.hook") == "execv" && str_field(e, "process.executable") == target;
  });
  ASSERT_TRUE(ev) << agent->log();
  EXPECT_EQ(int_field(*ev, "process.pid"), pid);
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "preload");
  // Outside the namespace nothing changed (TearDown checks the real file too).
  EXPECT_EQ(hook("uninstall").exit_code, 0);
}

}  // namespace
}  // namespace ringside::e2e
