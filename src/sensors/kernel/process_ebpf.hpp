// Kernel-level process sensor: eBPF on tp_btf/sched_process_{fork,exec,exit}, records through
// a ring buffer, plus kill-on-exec (bpf_send_signal) for the rules compiled by
// policy/kernel_exec_rules.hpp, and BPF-LSM bprm_check_security where the kernel allows it.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class ProcessEbpfSensor final : public Sensor {
 public:
  struct Options {
    size_t ring_bytes = 8u << 20;
    bool enforce = true;  // load the kill-on-exec tables from the policy
  };
  explicit ProcessEbpfSensor(Options options);
  ~ProcessEbpfSensor() override;

  std::string_view name() const override { return "process_ebpf"; }
  std::string_view mechanism() const override { return "ebpf"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kProcess; }
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override;

  // Loads and attaches the BPF-LSM program on its own (own maps) and detaches it again: ok
  // when this kernel allows lsm/bprm_check_security, else the kernel's reason.
  static Result<void> probe_lsm();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
