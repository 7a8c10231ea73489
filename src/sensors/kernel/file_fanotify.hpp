// Kernel-level file change notifications: a fanotify FAN_CLASS_NOTIF group with
// FAN_REPORT_DFID_NAME (and FAN_REPORT_TARGET_FID) on the scopes the policy watches; create,
// delete, rename (both names), modify / close-write and attribute changes, with resolved paths.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class FileFanotifySensor final : public Sensor {
 public:
  FileFanotifySensor();
  ~FileFanotifySensor() override;

  std::string_view name() const override { return "file_fanotify"; }
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
