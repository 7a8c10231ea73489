// Hostile values end to end: argv at ARG_MAX with thousands of arguments and invalid UTF-8
// (kernel and user level), a file path deeper than PATH_MAX allows in one piece with invalid
// UTF-8 in its name (kernel level; the user level has user_file.HostilePathsComeOutAsValidJson),
// and a pid reused by another executable. Every line the agent writes must parse as JSON
// (AgentProcess::events() parses each), truncation must say so, and events must name the
// executable of the process that really did it.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

namespace fs = std::filesystem;

bool has_truncated(const json& ev, const std::string& name) {
  const json* cut = field(ev, "ringside.truncated");
  return cut != nullptr && std::find(cut->begin(), cut->end(), name) != cut->end();
}

std::unique_ptr<AgentProcess> start_agent(const std::string& levels, const std::string& domains,
                                          std::vector<std::string> extra = {}) {
  AgentProcess::Options o;
  o.levels = levels;
  o.domains = domains;
  o.extra_args = std::move(extra);
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  if (!agent) ADD_FAILURE() << error;
  return agent;
}

// 10000 arguments filling ARG_MAX (less the environment and the pointers), the second one
// invalid UTF-8, exec'd through the interposer: both levels report the real count, cut the list
// with the marker and name the field in ringside.truncated, and replace the invalid bytes.
TEST(HostileValues, ArgvAtArgMaxWithThousandsOfArgumentsAtBothLevels) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchDir dir("hostile-argv");
  const std::string target = copy_program(programs() + "/hook_target", dir.file("argv_target"));
  const std::string db = dir.file("events.db");
  auto agent = start_agent("kernel,user", "process", {"--db", db});
  ASSERT_TRUE(agent);
  constexpr size_t kArgs = 10000;
  const long arg_max = sysconf(_SC_ARG_MAX);
  ASSERT_GT(arg_max, 0);
  size_t env_bytes = 0;
  std::vector<std::string> env = agent->hook_env();
  for (const auto& e : env) env_bytes += e.size() + 1 + sizeof(char*);
  for (char** e = environ; *e != nullptr; ++e) env_bytes += strlen(*e) + 1 + sizeof(char*);
  // hook_caller's own argv holds the same arguments plus three; leave room for those and
  // for the pointers.
  const size_t room = static_cast<size_t>(arg_max) - env_bytes - 16384 - kArgs * sizeof(char*);
  const size_t each = room / kArgs - 1;
  ASSERT_GT(each, 8u);
  std::vector<std::string> argv = {programs() + "/hook_caller", "execv", target, "argv0-hostile",
                                   std::string("bad\xff\xfe-arg")};
  for (size_t i = 1; i < kArgs; ++i)
    argv.push_back(std::string(each, static_cast<char>('a' + i % 26)));
  size_t total = 0;
  for (size_t i = 3; i < argv.size(); ++i) total += argv[i].size() + 1;
  RunResult r = run(argv, env);
  ASSERT_EQ(r.spawn_errno, 0);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::printf("argv: %zu arguments, %zu bytes of strings, ARG_MAX %ld\n", kArgs + 1, total,
              arg_max);
  const std::string exe = fs::canonical(target).string();
  for (const std::string level : {"kernel", "user"}) {
    auto ev = agent->wait_for([&](const json& e) {
      return str_field(e, "event.action") == "exec" && str_field(e, "ringside.level") == level &&
             str_field(e, "process.executable") == exe;
    });
    ASSERT_TRUE(ev) << level << "\n" << agent->log();
    EXPECT_EQ(int_field(*ev, "process.args_count"), static_cast<int64_t>(kArgs + 1)) << level;
    const json* args = field(*ev, "process.args");
    ASSERT_NE(args, nullptr) << level;
    ASSERT_GE(args->size(), 3u) << level;
    EXPECT_LT(args->size(), kArgs + 1) << level;
    EXPECT_EQ((*args)[0], "argv0-hostile") << level;
    EXPECT_EQ((*args)[1], "bad\uFFFD\uFFFD-arg") << level;
    EXPECT_EQ(args->back(), "[truncated]") << level;
    EXPECT_TRUE(has_truncated(*ev, "process.args")) << level << " " << ev->dump().substr(0, 300);
  }
  // The store keeps the same: the real count, the cut list with its marker, the marker field.
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  RunResult q = run({build_dir() + "/ringside", "query", "--db", db, "--json",
                     "SELECT ringside_level, process_args_count, process_args, ringside_truncated "
                     "FROM process WHERE event_action = 'exec' AND process_executable = '" +
                         exe + "' ORDER BY ringside_level"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const json rows = json::parse(q.out);
  ASSERT_EQ(rows.size(), 2u) << q.out.substr(0, 500);
  for (const json& row : rows) {
    EXPECT_EQ(row["process_args_count"], static_cast<int64_t>(kArgs + 1))
        << row.dump(0).substr(0, 200);
    const json args = json::parse(row["process_args"].get<std::string>());
    EXPECT_EQ(args[1], "bad\uFFFD\uFFFD-arg");
    EXPECT_EQ(args.back(), "[truncated]");
    EXPECT_NE(row["ringside_truncated"].get<std::string>().find("process.args"), std::string::npos);
  }
}

// A directory chain longer than PATH_MAX (4096) in a scratch directory, reached by relative
// steps, and a file with invalid UTF-8 in its name created at the bottom: the kernel sensors'
// event is valid JSON whose path is either whole or cut and marked in ringside.truncated.
TEST(HostileValues, PathsBeyondPathMaxWithInvalidUtf8) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchDir dir("hostile-path");
  const std::string root = fs::canonical(dir.path()).string();
  auto agent = start_agent("kernel", "file");
  ASSERT_TRUE(agent);
  const std::string component(200, 'p');
  std::string full = root;
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  while (full.size() < 4300) {
    ASSERT_EQ(mkdirat(fd, component.c_str(), 0755), 0) << full;
    const int next = openat(fd, component.c_str(), O_RDONLY | O_DIRECTORY);
    close(fd);
    ASSERT_GE(next, 0);
    fd = next;
    full += "/" + component;
  }
  const std::string name = std::string("bad\xff\xfe-name");
  const int f = openat(fd, name.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(f, 0);
  ASSERT_EQ(write(f, "x", 1), 1);
  close(f);
  close(fd);
  full += "/" + name;
  const std::string shown_tail = "bad\uFFFD\uFFFD-name";
  auto ev = agent->wait_for([&](const json& e) {
    const std::string p = str_field(e, "file.path");
    return str_field(e, "event.category") == "file" && p.size() >= shown_tail.size() &&
           p.compare(p.size() - shown_tail.size(), shown_tail.size(), shown_tail) == 0;
  });
  ASSERT_TRUE(ev) << agent->log();
  const std::string path = str_field(*ev, "file.path");
  std::printf("path of %zu bytes reported as %zu bytes by %s (%s)\n", full.size(), path.size(),
              str_field(*ev, "ringside.sensor").c_str(), str_field(*ev, "event.action").c_str());
  std::string expected = full;
  expected.replace(expected.size() - name.size(), name.size(), shown_tail);
  if (path != expected) {
    EXPECT_TRUE(has_truncated(*ev, "file.path")) << ev->dump().substr(0, 400);
    EXPECT_EQ(expected.compare(expected.size() - path.size(), path.size(), path), 0)
        << "a cut path keeps the deepest components";
  }
  // std::filesystem::remove_all would build paths beyond PATH_MAX; rm walks with openat.
  EXPECT_EQ(run({"rm", "-rf", "--", root + "/" + component}).exit_code, 0);
}

// pid P exec'd first as one program, then (after P exited) reused by a new process exec'ing
// another: each exec and exit event names the executable of its own incarnation. The reuse is
// arranged with /proc/sys/kernel/ns_last_pid (as CRIU restores pids), retried when another
// process on the host takes the pid first.
TEST(HostileValues, ReusedPidIsAttributedToTheRightExecutable) {
  RINGSIDE_REQUIRE_ROOT();
  if (access("/proc/sys/kernel/ns_last_pid", W_OK) != 0) {
    GTEST_SKIP() << "/proc/sys/kernel/ns_last_pid is not writable here";
  }
  ScratchDir dir("hostile-pid");
  const std::string first = copy_program("/bin/dash", dir.file("rs-first-image"));
  const std::string second = copy_program("/bin/dash", dir.file("rs-second-image"));
  auto agent = start_agent("kernel", "process");
  ASSERT_TRUE(agent);
  RunResult a = run({first, "-c", "exit 3"});
  ASSERT_EQ(a.exit_code, 3);
  const pid_t pid = a.pid;
  bool reused = false;
  for (int attempt = 0; attempt < 200 && !reused; ++attempt) {
    {
      std::ofstream last("/proc/sys/kernel/ns_last_pid");
      last << (pid - 1);
    }
    const pid_t child = fork();
    if (child == 0) {
      if (getpid() == pid) {
        execl(second.c_str(), second.c_str(), "-c", "exit 4", static_cast<char*>(nullptr));
      }
      _exit(0);
    }
    ASSERT_GT(child, 0);
    int status = 0;
    waitpid(child, &status, 0);
    if (child == pid) {
      reused = true;
      EXPECT_EQ(WEXITSTATUS(status), 4);
    }
  }
  ASSERT_TRUE(reused) << "pid " << pid << " was never handed out again";
  auto event_of = [&](const std::string& action, const std::string& exe) {
    return agent->wait_for([&](const json& e) {
      return str_field(e, "event.action") == action && int_field(e, "process.pid") == pid &&
             str_field(e, "ringside.sensor") == "ebpf" &&
             (action != "exit" || int_field(e, "process.exit_code") == (exe == first ? 3 : 4));
    });
  };
  auto exec1 = event_of("exec", first);
  auto exit1 = event_of("exit", first);
  auto exit2 = event_of("exit", second);
  auto exec2 = agent->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "exec" && int_field(e, "process.pid") == pid &&
           str_field(e, "process.executable") == second;
  });
  ASSERT_TRUE(exec1 && exit1 && exec2 && exit2) << agent->log();
  std::string exec1_exe;
  for (const json& e : agent->events()) {
    if (str_field(e, "event.action") == "exec" && int_field(e, "process.pid") == pid &&
        str_field(e, "process.start") == str_field(*exit1, "process.start")) {
      exec1_exe = str_field(e, "process.executable");
    }
  }
  EXPECT_EQ(exec1_exe, first);
  EXPECT_NE(str_field(*exit1, "process.start"), str_field(*exit2, "process.start"));
  EXPECT_EQ(str_field(*exit1, "process.executable"), first);
  EXPECT_EQ(str_field(*exit2, "process.executable"), second);
  EXPECT_EQ(str_field(*exec2, "process.start"), str_field(*exit2, "process.start"));
}

}  // namespace
}  // namespace ringside::e2e
