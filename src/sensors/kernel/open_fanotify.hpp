// Kernel-level blocking of file opens: fanotify FAN_OPEN_PERM (and FAN_ACCESS_PERM where a rule
// needs it) on the paths the file.open deny rules name, answered within the policy deadline, with a
// decision cache of ignore marks.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class OpenFanotifySensor final : public Sensor {
 public:
  OpenFanotifySensor();
  ~OpenFanotifySensor() override;

  std::string_view name() const override { return "open_fanotify"; }
  std::string_view mechanism() const override { return "fanotify"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kFile; }
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
