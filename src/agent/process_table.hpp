// The agent's view of every process: who it is, what it runs, who started it.
//
// Keyed by (pid, start time in clock ticks) so that a reused pid can never be confused with
// the process that had it before; `find(pid)` returns the newest incarnation. Fed by the
// process sensors (fork/exec/exit), seeded from /proc at start, and filled on demand from /proc
// for a pid no sensor has reported yet. Exited processes stay for a grace period so that late
// events (a hook message that arrives after the exit) still resolve.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ringside {

struct ProcessInfo {
  int32_t pid = 0;
  int32_t ppid = 0;
  int64_t start_ticks = 0;  // /proc/PID/stat field 22; same unit from BPF (see core/clock.hpp)
  std::string executable;
  // Filled by read_proc_process; the table itself does not keep arguments (events carry them,
  // and copying them on every fork would cost more than they are worth here).
  std::vector<std::string> args;
  std::string cwd;
  uint32_t uid = 0, euid = 0, gid = 0;
  int64_t exit_ns = 0;  // realtime of exit; 0 while alive
};

// What enrichment needs of a process, without copying its arguments.
struct ProcessBrief {
  int32_t ppid = 0;
  uint32_t uid = 0;
  int64_t exit_ns = 0;
  std::string executable;
};

// Reads /proc/PID for a live process; empty when it is gone or unreadable.
// Arguments (cmdline) are read only when asked for.
std::optional<ProcessInfo> read_proc_process(int32_t pid, const std::string& proc_root = "/proc",
                                             bool with_args = true);
// The real uid of a live process, from /proc/PID/status; empty when it is gone or unreadable.
std::optional<uint32_t> read_proc_real_uid(int32_t pid, const std::string& proc_root = "/proc");

class ProcessTable {
 public:
  explicit ProcessTable(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {
    procs_.reserve(4096);  // a busy host's processes without a rehash on the way
  }

  // Seeds the table with every process in /proc; returns how many were read.
  size_t load_from_proc();

  // A new process: it inherits its parent's image, arguments, directory and credentials.
  void on_fork(int32_t pid, int32_t ppid, int64_t start_ticks, int64_t parent_start_ticks) {
    on_fork(pid, ppid, start_ticks, parent_start_ticks, [](const ProcessInfo&) {});
  }
  // The same, calling `made(const ProcessInfo& child)` under the same lock (a sensor fills its
  // fork event from it without a lookup of its own).
  template <class Made>
  void on_fork(int32_t pid, int32_t ppid, int64_t start_ticks, int64_t parent_start_ticks,
               Made&& made) {
    std::unique_lock lock(mu_);
    made(fork_locked(pid, ppid, start_ticks, parent_start_ticks));
  }
  void on_exec(ProcessInfo info);
  // False when (pid, start) is known and its exit was already reported (two threads of a group
  // ending at once may both report the group's end).
  bool on_exit(int32_t pid, int64_t start_ticks, int64_t when_ns);

  std::optional<ProcessInfo> find(int32_t pid) const;
  std::optional<ProcessInfo> find(int32_t pid, int64_t start_ticks) const;
  // Like find(pid), but reads /proc (and remembers the result) when the pid is unknown.
  std::optional<ProcessInfo> find_or_read(int32_t pid);
  // The cheap forms enrichment uses on every event.
  std::optional<ProcessBrief> brief(int32_t pid) const;
  std::optional<ProcessBrief> brief_or_read(int32_t pid);
  // The incarnation of `pid` that started at `start_ticks` (within one tick: an event's start
  // time went through the wall clock), from the table or from /proc; never a process that had
  // the pid before or after it. Empty when that process is neither known nor still running.
  std::optional<ProcessBrief> brief_or_read(int32_t pid, int64_t start_ticks);
  // Calls `visit(const ProcessInfo&)` under the table's lock, without a copy, for the
  // incarnation of `pid` that started within one tick of `start_ticks` (when given) or for its
  // newest one while it is alive. False when there is no such entry (nothing was called).
  template <class Visit>
  bool visit(int32_t pid, std::optional<int64_t> start_ticks, Visit&& visit) const {
    std::shared_lock lock(mu_);
    const ProcessInfo* p = start_ticks ? find_locked(pid, *start_ticks, 1) : find_locked(pid);
    if (p == nullptr || (!start_ticks && p->exit_ns != 0)) return false;
    visit(*p);
    return true;
  }
  // True when (pid, start) is known and has already exited.
  bool exited(int32_t pid, int64_t start_ticks) const;

  // Executables of the parent chain of `pid`, nearest first, at most `max`.
  std::vector<std::string> ancestry(int32_t pid, size_t max) const;
  // The same without copies: calls `visit(std::string_view executable)` for each ancestor.
  // False when the table does not know `pid`.
  template <class Visit>
  bool for_each_ancestor(int32_t pid, size_t max, Visit&& visit) const {
    std::shared_lock lock(mu_);
    const ProcessInfo* p = find_locked(pid);
    if (p == nullptr) return false;
    for (size_t n = 0; n < max && p->ppid > 0 && p->ppid != p->pid; ++n) {
      p = find_locked(p->ppid);
      if (p == nullptr || p->executable.empty()) break;
      visit(std::string_view(p->executable));
    }
    return true;
  }

  // Drops exited processes older than `grace_ns` before `now_ns`; returns how many.
  size_t expire(int64_t now_ns, int64_t grace_ns);
  size_t size() const;

 private:
  struct Key {
    int32_t pid;
    int64_t start;
  };
  // Every incarnation of one pid the table holds: the newest (what find(pid) returns) and,
  // rarely, earlier ones that exited within the grace period. One hash lookup finds them all.
  struct Slot {
    ProcessInfo newest;
    std::vector<ProcessInfo> older;
  };
  const ProcessInfo* find_locked(int32_t pid) const;
  // The incarnation that started at `start`, or within `slack` ticks of it (exact first).
  const ProcessInfo* find_locked(int32_t pid, int64_t start, int64_t slack = 0) const;
  ProcessInfo* find_locked(int32_t pid, int64_t start) {
    return const_cast<ProcessInfo*>(std::as_const(*this).find_locked(pid, start, 0));
  }
  // Returns the inserted entry (valid while mu_ is held).
  const ProcessInfo& insert_locked(ProcessInfo info);
  const ProcessInfo& fork_locked(int32_t pid, int32_t ppid, int64_t start_ticks,
                                 int64_t parent_start_ticks);

  std::string proc_root_;
  mutable std::shared_mutex mu_;
  std::unordered_map<int32_t, Slot> procs_;
  size_t count_ = 0;                            // incarnations held, newest and older
  std::deque<std::pair<int64_t, Key>> exited_;  // (exit time, process) in report order
};

}  // namespace ringside
