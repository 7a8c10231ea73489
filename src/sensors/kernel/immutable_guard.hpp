// Kernel-level enforcement of deny rules on file changes by the immutable attribute
// (FS_IMMUTABLE_FL; policy/immutable_rules.hpp says which rules and why). Not a sensor of
// events: it keeps the files the policy names immutable while the rule is loaded, and clears
// the attribute again on reload and at stop. The files it made immutable are listed in a state
// file on persistent storage (the attribute outlives a reboot), so an agent that was killed is
// cleaned up after by the next one. A file that was immutable already is left as it is, and
// never cleared. Attempts are reported by the file sensors (the eBPF one sees them fail with
// EPERM: ringside.enforcement "blocked").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "sensors/sensor.hpp"

namespace ringside {

// The immutable attribute of a regular file, behind a facade for the unit tests.
class FileAttributes {
 public:
  virtual ~FileAttributes() = default;
  // Whether the file (a symbolic link is not followed) is immutable.
  virtual Result<bool> immutable(const std::string& path) = 0;
  virtual Result<void> set_immutable(const std::string& path, bool on) = 0;
};
std::shared_ptr<FileAttributes> system_file_attributes();

// The agent that wrote a state file: its pid and start time (/proc/PID/stat field 22).
struct StateOwner {
  int32_t pid = 0;
  int64_t start_ticks = 0;
  bool operator==(const StateOwner&) const = default;
};
// This process, and whether the process a state file names still runs.
StateOwner this_agent();
bool owner_running(const StateOwner& owner);

// Each agent lists the files it made immutable in a state file of its own in the state
// directory, immutable.<pid>.list (immutable.list: the single file of earlier versions).
std::string state_file(const std::string& state_dir, int32_t pid);

// For every state file in `state_dir` whose agent no longer runs: clears the attribute on the
// files it lists, and removes it once every one was cleared (one that could not be stays
// listed, for the next agent to try again). The files of an agent that still runs (another
// agent sharing the state directory) are left alone. Every agent does this at start, whatever
// its domains and levels, so files a killed agent left immutable are released by the next
// agent started, not only by one that guards files again. Returns how many files it cleared.
size_t release_leftovers(const std::string& state_dir, FileAttributes& attrs,
                         const std::function<bool(const StateOwner&)>& running = owner_running);

class ImmutableGuard final : public Sensor {
 public:
  struct Options {
    std::string state_dir;                  // where this agent lists the files it made immutable
    std::shared_ptr<FileAttributes> attrs;  // the kernel's when null
    StateOwner owner = this_agent();        // written into the state file
    std::function<bool(const StateOwner&)> owner_running = ringside::owner_running;
  };
  explicit ImmutableGuard(Options options);
  ~ImmutableGuard() override;

  std::string_view name() const override { return "file_immutable"; }
  std::string_view mechanism() const override { return "immutable"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kFile; }
  // Clears what agents that are gone left immutable (their state files).
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override { return SensorStats::from(counters_); }

  const std::set<std::string>& guarded() const { return guarded_; }

 private:
  void release(const std::string& path);
  bool save(const std::set<std::string>& paths);

  Options opts_;
  std::string state_path_;  // this agent's state file
  SensorContext* ctx_ = nullptr;
  std::set<std::string> guarded_;  // made immutable by this agent
  SensorCounters counters_;
};

}  // namespace ringside
