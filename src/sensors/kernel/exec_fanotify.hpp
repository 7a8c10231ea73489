// Kernel-level exec blocking before the image runs: fanotify FAN_OPEN_EXEC_PERM on the
// directories or filesystems the process.exec deny rules name (see exec_mark_plan.hpp). Every
// permission event is answered exactly once, within the policy's decision deadline (else with
// the fail-mode default, counted). An allowed file is cached with an ignore mark (dropped by the
// kernel when the file changes) when the decision depends on the file alone and no rename or
// link could carry it to a denied name. No deny rule, no marks.
#pragma once

#include <memory>
#include <string>

#include "sensors/kernel/exec_mark_plan.hpp"
#include "sensors/kernel/fanotify.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

class ExecFanotifySensor final : public Sensor {
 public:
  struct Options {
    std::shared_ptr<Fanotify> fanotify;  // the kernel's when null
    std::string mountinfo_path = "/proc/self/mountinfo";
    DirResolver resolve_dir;  // the real filesystem's when empty
    int workers = 2;          // decision threads
  };

  ExecFanotifySensor();
  explicit ExecFanotifySensor(Options options);
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
