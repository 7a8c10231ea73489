// Kernel-level process sensor, fallback feed: the netlink proc connector (PROC_EVENT_FORK,
// EXEC, EXIT). It carries only ids, so the rest is read from /proc when the event arrives —
// racy for processes that exit at once, which is why eBPF is preferred when it loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sensors/sensor.hpp"

namespace ringside {

namespace proc_connector {

// One proc connector event, as the kernel sent it.
struct Message {
  enum class Kind : uint8_t { kFork, kExec, kExit, kOther };
  Kind kind = Kind::kOther;
  int32_t pid = 0, tgid = 0;                // the process (fork: the child)
  int32_t parent_pid = 0, parent_tgid = 0;  // fork only
  uint32_t exit_status = 0;                 // exit only: the wait(2) status word
  uint64_t timestamp_ns = 0;                // CLOCK_MONOTONIC
  int32_t cpu = -1;                         // the CPU the kernel numbered the message on
  uint32_t seq = 0;                         // its number there (cn_msg.seq)
};

// The kernel numbers the proc connector messages it sends on each CPU (one counter per CPU,
// every event type, every listener: we subscribe without a filter), so a jump in one CPU's
// numbers is the count of messages this socket lost there. Exact up to the last message
// received from each CPU.
class SeqTracker {
 public:
  // Messages missed on `cpu` before this one (0 for the first message seen from a CPU).
  uint64_t missed(int32_t cpu, uint32_t seq);

 private:
  static constexpr int32_t kMaxCpus = 1 << 16;
  std::vector<uint32_t> next_;
  std::vector<bool> known_;
};

// Splits one netlink datagram into messages (appended to `out`); returns how many netlink
// messages in it were malformed (truncated, wrong connector id, short payload).
size_t parse(const void* data, size_t size, std::vector<Message>& out);

}  // namespace proc_connector

class ProcConnectorSensor final : public Sensor {
 public:
  // receive_bytes: the netlink socket's receive buffer (0: 4 MiB).
  explicit ProcConnectorSensor(size_t receive_bytes = 0);
  ~ProcConnectorSensor() override;

  std::string_view name() const override { return "process_proc_connector"; }
  std::string_view mechanism() const override { return "proc_connector"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kProcess; }
  Result<void> start(SensorContext& ctx) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
