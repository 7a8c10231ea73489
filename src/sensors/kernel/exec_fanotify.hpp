// Kernel-level exec blocking before the image runs: fanotify FAN_OPEN_EXEC_PERM on the files,
// directories or filesystems the process.exec deny rules name. Every permission event is
// answered within the policy's deadline; allowed file-only decisions are cached with ignore
// marks (dropped by the kernel when the file changes). No deny rule, no marks.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class ExecFanotifySensor final : public Sensor {
 public:
  ExecFanotifySensor();
  ~ExecFanotifySensor() override;

  std::string_view name() const override { return "exec_fanotify"; }
  std::string_view mechanism() const override { return "fanotify"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kProcess; }
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
