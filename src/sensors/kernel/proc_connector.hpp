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
};

// Splits one netlink datagram into messages (appended to `out`); returns how many netlink
// messages in it were malformed (truncated, wrong connector id, short payload).
size_t parse(const void* data, size_t size, std::vector<Message>& out);

}  // namespace proc_connector

class ProcConnectorSensor final : public Sensor {
 public:
  ProcConnectorSensor();
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
