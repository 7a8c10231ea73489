// Kernel-level file change notifications: a fanotify FAN_CLASS_NOTIF group with
// FAN_REPORT_DFID_NAME (and FAN_REPORT_TARGET_FID) on the scopes the policy watches; create,
// delete, rename (both names), modify / close-write and attribute changes, with resolved paths.
#pragma once

#include <memory>

#include "sensors/kernel/fanotify.hpp"
#include "sensors/kernel/fanotify_fid.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

class FileFanotifySensor final : public Sensor {
 public:
  struct Options {
    std::shared_ptr<Fanotify> fanotify;        // the kernel's when null
    std::shared_ptr<HandleResolver> resolver;  // the kernel's when null
    // A writer that keeps a file open is reported again at most this often (file.modify).
    int modify_interval_ms = 1000;
    // Where the kernel has FAN_RENAME it is used; false forces MOVED_FROM/MOVED_TO pairing.
    bool use_fan_rename = true;
    // How long a MOVED_FROM waits for its MOVED_TO before it counts as moved out of sight.
    int rename_pair_ms = 100;
    // Records read from the kernel and waiting to be handled (0: 16 MiB; at least 64 KiB);
    // records that find it full are dropped and counted (file_fanotify.buffer).
    size_t buffer_bytes = 0;
  };

  FileFanotifySensor();
  explicit FileFanotifySensor(Options options);
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
