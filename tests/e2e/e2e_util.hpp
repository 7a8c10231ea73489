// Shared helpers for end-to-end tests: they run the real `ringside` binary as root against the
// real kernel, trigger operations, and read the JSON lines it writes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ringside::e2e {

using nlohmann::json;
using namespace std::chrono_literals;

std::string build_dir();
// The small C programs the end-to-end tests run (tests/e2e/programs).
std::string programs();
std::string source_dir();
bool is_root();

// Skips the current test (with the reason printed) unless running as root.
#define RINGSIDE_REQUIRE_ROOT()                                                  \
  do {                                                                           \
    if (!::ringside::e2e::is_root()) GTEST_SKIP() << "needs root (real kernel)"; \
  } while (0)

// A directory under /tmp removed (recursively) when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "e2e");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` (mode `mode`) and returns the full path.
  std::string write(const std::string& name, const std::string& content, int mode = 0644) const;

 private:
  std::string path_;
};

// Dotted access into an event: field(ev, "process.parent.pid"); nullptr when absent.
const json* field(const json& ev, std::string_view dotted);
std::string str_field(const json& ev, std::string_view dotted);  // "" when absent
int64_t int_field(const json& ev, std::string_view dotted, int64_t missing = -1);

// The whole file ("" when it cannot be read).
std::string slurp(const std::string& path);

struct RunResult {
  int exit_code = -1;   // exit status, or -1 when killed
  int term_signal = 0;  // signal that killed it, 0 when it exited
  int spawn_errno = 0;  // set when the program could not be started at all
  pid_t pid = 0;
  std::string out, err;
};

// Runs argv[0] (PATH is searched) with extra environment entries ("K=V"), waits up to
// `timeout`, then SIGKILLs it.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
              std::chrono::milliseconds timeout = 20s);

// SIGSTOP, then waits (up to 5 s) until every thread of `pid` is stopped: the signal is
// delivered asynchronously, and a thread busy on another CPU may still answer a request for a
// moment. False when they did not all stop.
bool stop_all_threads(pid_t pid);

// A TCP socket listening on 127.0.0.1:`port` (SO_REUSEADDR), or -1.
int listen_tcp(uint16_t port, int backlog);

// Copies /bin/true (or another program) to a new path; returns it.
std::string copy_program(const std::string& from, const std::string& to);

class AgentProcess {
 public:
  struct Options {
    std::string policy_yaml = "rules: []\n";
    std::string levels = "kernel,user";
    std::string domains = "process";
    bool force_fallback = false;
    // false: --no-supervisor, so that signals to pid() reach the agent itself.
    bool supervisor = false;
    std::vector<std::string> extra_args;
    std::chrono::milliseconds ready_timeout = 30s;
  };
  // Starts `build/ringside run` with a scratch policy, JSONL file, ready file and hook socket;
  // returns once the ready file exists (or nullptr with `error` set).
  static std::unique_ptr<AgentProcess> start(const Options& options, std::string* error);
  ~AgentProcess();

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& jsonl_path() const { return jsonl_; }
  const std::string& policy_path() const { return policy_; }
  const std::string& stats_path() const { return stats_file_; }
  const json& ready() const { return ready_; }
  // The ready file as it is now (a restarted agent rewrites it with its own pid).
  json ready_now() const;
  std::string log() const;  // the agent's stderr so far

  // The agent's counters (per sensor: seen, dropped, errors, denied, defaulted; queue; sinks),
  // as it last wrote them (every second and at exit).
  json stats() const;

  // Every event written so far.
  std::vector<json> events() const;
  // Waits until an event satisfies `pred`; returns it, or nothing after `timeout`.
  std::optional<json> wait_for(const std::function<bool(const json&)>& pred,
                               std::chrono::milliseconds timeout = 10s) const;
  // Environment entries that make a child report to this agent through the interposer.
  std::vector<std::string> hook_env() const;

  // SIGTERM, then waits; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds timeout = 20s);
  void kill9();
  void signal(int sig) const;

 private:
  AgentProcess() = default;
  std::unique_ptr<ScratchDir> dir_;
  pid_t pid_ = 0;
  std::string socket_, jsonl_, policy_, ready_file_, log_, stats_file_;
  json ready_;
};

}  // namespace ringside::e2e
