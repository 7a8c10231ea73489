// Kernel-level process sensor, fallback feed: the netlink proc connector (PROC_EVENT_FORK,
// EXEC, EXIT). It carries only ids, so the rest is read from /proc when the event arrives —
// racy for processes that exit at once, which is why eBPF is preferred when it loads.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

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
