// Tamper watch: the files an attacker changes to blind or subvert the agent — the preload
// configuration (/etc/ld.so.preload), the agent's binary and interposer library, its policy and
// its store — watched by a fanotify notification group with FAN_REPORT_DFID_NAME on their
// directories, so that a replacement by rename and a creation are seen as well as a write, and
// the kernel names the acting process. The agent's own writes (its store) are not reported.
//
//   TamperMatcher   which (directory handle, name) is a watched file; pure, unit-tested
//   TamperWatch     the group, its marks and its reader thread; hands each change to `report`
//
// Detached BPF programs are the other half of tamper watch; the sensor that owns a program
// checks it (network_ebpf: its cgroup links) and reports through tamper_event()
// (core/tamper_event.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"
#include "sensors/kernel/fanotify_fid.hpp"

namespace ringside {

struct TamperTarget {
  std::string path;    // absolute
  std::string target;  // ringside.tamper.target: preload_config | agent_binary | policy | store
};

// The watched files of an agent: /etc/ld.so.preload, the binary and the interposer library
// next to it, the policy file and the store (empty paths are left out).
std::vector<TamperTarget> tamper_targets(const std::string& agent_binary,
                                         const std::string& policy_path,
                                         const std::string& db_path);

class TamperMatcher {
 public:
  struct Hit {
    std::string path, target, change;
  };
  // `dir` is the handle of the directory holding `t.path`.
  void add(const FileHandleKey& dir, const TamperTarget& t);
  // The watched file an event is about, with the change it made; nothing for other files.
  std::optional<Hit> match(const FidEvent& ev) const;
  // Change names for a fanotify mask (the first that applies).
  static std::string_view change_of(uint64_t mask);

 private:
  struct Entry {
    FileHandleKey dir;
    std::string name;
    TamperTarget target;
  };
  std::vector<Entry> entries_;
};

class TamperWatch {
 public:
  using Report = std::function<void(Event&&)>;
  // Places directory marks for `targets` and starts the reader. Events of `own_pid` (the
  // agent) are not reported; repeated writes by one process to one file are reported once a
  // second.
  static Result<std::unique_ptr<TamperWatch>> start(const std::vector<TamperTarget>& targets,
                                                    int32_t own_pid, Report report);
  ~TamperWatch();
  TamperWatch(const TamperWatch&) = delete;
  TamperWatch& operator=(const TamperWatch&) = delete;

  uint64_t reported() const { return reported_.load(); }
  uint64_t overflows() const { return overflows_.load(); }

 private:
  TamperWatch() = default;
  void loop();
  void handle(const char* buf, size_t len);

  int group_ = -1;
  int wake_ = -1;  // eventfd: stop
  int32_t own_pid_ = 0;
  TamperMatcher matcher_;
  Report report_;
  std::map<std::pair<std::string, int32_t>, int64_t> last_modify_ns_;
  std::atomic<uint64_t> reported_{0}, overflows_{0};
  std::thread thread_;
};

}  // namespace ringside
