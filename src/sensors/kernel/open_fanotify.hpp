// Kernel-level blocking of file opens: fanotify FAN_OPEN_PERM (and FAN_ACCESS_PERM where a rule
// needs it) on the paths the file.open deny rules name (see open_mark_plan.hpp), answered within
// the policy deadline, with a decision cache of ignore marks. No deny rule, no group.
#pragma once

#include <memory>
#include <string>

#include "sensors/kernel/fanotify.hpp"
#include "sensors/kernel/fanotify_marks.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

class OpenFanotifySensor final : public Sensor {
 public:
  struct Options {
    std::shared_ptr<Fanotify> fanotify;  // the kernel's when null
    std::string mountinfo_path = "/proc/self/mountinfo";
    DirResolver resolve_dir;  // the real filesystem's when empty
    int workers = 2;          // threads that hash
    // After a permission event the reader keeps reading this long before it sleeps again, so
    // that the next open of a burst is answered without waiting for a wake-up.
    int spin_us = 100;
  };

  OpenFanotifySensor();
  explicit OpenFanotifySensor(Options options);
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
