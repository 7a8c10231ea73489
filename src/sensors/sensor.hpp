// The one interface every sensor implements, kernel or user level, live or replayed.
//
// Life cycle: the agent constructs sensors in its composition root (agent/agent.cpp), calls
// start() once with a SensorContext, apply_policy() on every policy (re)load, and stop() once
// at shutdown. start() returns only when the sensor is live (attached, marks placed, socket
// listening) or has failed. Each sensor runs its own thread(s); events go to
// SensorContext::emit, decisions come from SensorContext::decide.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/event_batch.hpp"
#include "core/file_identity.hpp"
#include "core/result.hpp"
#include "policy/policy.hpp"

namespace ringside {

enum class Domain : uint8_t { kProcess, kFile, kNetwork, kKeyboard };
std::string_view to_string(Domain d);

// Counters every sensor keeps; read at any time from any thread.
struct SensorCounters {
  std::atomic<uint64_t> seen{0};       // records received from the mechanism
  std::atomic<uint64_t> dropped{0};    // records lost (ring full, queue overflow, ...), counted
  std::atomic<uint64_t> errors{0};     // malformed records, failed reads, failed answers
  std::atomic<uint64_t> denied{0};     // operations this sensor blocked
  std::atomic<uint64_t> defaulted{0};  // decisions answered by the fail-mode default
};

struct SensorStats {
  uint64_t seen = 0, dropped = 0, errors = 0, denied = 0, defaulted = 0;
  static SensorStats from(const SensorCounters& c);
};

class ProcessTable;

// What the agent offers a sensor. Thread-safe.
class SensorContext {
 public:
  virtual ~SensorContext() = default;
  // Enriches `ev` (process table, hashes), evaluates the current policy for ev.level(), records
  // verdict and rule on the event and returns the decision.
  virtual policy::Decision decide(Event& ev) = 0;
  // Hands a finished event to the sinks. Never blocks; a full queue is counted as a drop.
  virtual void emit(Event&& ev) = 0;
  // The same for a batch (one hand-over instead of one per event); leaves `batch` empty, possibly
  // with stale events to build the next ones in (EventBatch::next).
  virtual void emit_all(EventBatch& batch) {
    for (Event& ev : batch) emit(std::move(ev));
    batch.clear();
  }
  virtual ProcessTable& processes() = 0;
  virtual std::shared_ptr<const policy::Policy> policy() const = 0;
  // Files of the agent itself (binary, policy, store) that must never wait on a decision.
  virtual bool is_agent_file(std::string_view path) const = 0;
  // The same files by absolute path, for sensors that exempt them up front (ignore marks).
  virtual std::vector<std::string> agent_files() const { return {}; }
  // SHA-256 of a file whose identity the sensor already has (a BPF record carries device,
  // inode and mtime): a cache hit costs no system call. Empty when it cannot be hashed.
  virtual std::optional<std::string> sha256_of(std::string_view /*path*/,
                                               const FileIdentity& /*id*/) {
    return std::nullopt;
  }
};

class Sensor {
 public:
  virtual ~Sensor() = default;
  // Unique instance name, e.g. "process_ebpf"; shown in the ready file and in stats.
  virtual std::string_view name() const = 0;
  // The ringside.sensor value of its events, e.g. "ebpf".
  virtual std::string_view mechanism() const = 0;
  virtual Level level() const = 0;
  virtual Domain domain() const = 0;

  virtual Result<void> start(SensorContext& ctx) = 0;
  // Reconfigures enforcement (marks, maps) for a new policy; the sensor keeps the old
  // configuration when this fails.
  virtual Result<void> apply_policy(const policy::Policy& /*policy*/) { return ok(); }
  // Idempotent; joins threads, detaches programs, removes marks.
  virtual void stop() = 0;
  virtual SensorStats stats() const = 0;
};

}  // namespace ringside
