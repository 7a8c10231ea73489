// Kernel-level file events from eBPF syscall tracepoints (openat, openat2, unlinkat, renameat2,
// truncate, fchmodat, linkat, symlinkat, mkdirat) and io_uring submissions: the acting process, the
// path as the program named it and the resolved path, open flags.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class FileEbpfSensor final : public Sensor {
 public:
  // `ring_bytes`: the ring buffer's size, a power of two of at least 4096 (0: 16 MiB).
  explicit FileEbpfSensor(size_t ring_bytes = 0);
  ~FileEbpfSensor() override;

  std::string_view name() const override { return "file_ebpf"; }
  std::string_view mechanism() const override { return "ebpf"; }
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
