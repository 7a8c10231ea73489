// User-level sensor: the agent's end of the interposer (libringside-preload.so). Listens on a
// SOCK_SEQPACKET UNIX socket (RINGSIDE_SOCKET, default /run/ringside/hook.sock), identifies
// each peer by SO_PEERCRED — never by what a message claims — decodes hook messages into
// events, and answers verdict requests. Publishes, in a small shared state file next to the
// socket, which operations need a synchronous verdict under the current policy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sensors/sensor.hpp"

namespace ringside {

class HookServerSensor final : public Sensor {
 public:
  // report_ops: RS_HOOK_OP_FILE / RS_HOOK_OP_NETWORK for the domains the agent watches (exec
  // is always reported).
  explicit HookServerSensor(std::string socket_path, uint32_t report_ops = 0);
  ~HookServerSensor() override;

  // While nobody waits for a verdict, new connections gather in the listen backlog this long
  // and are accepted with one wake-up (reports then reach the pipeline up to this much later).
  // Each wake-up costs tens of microseconds of CPU on a virtual machine: 20 ms windows took the
  // agent's CPU per exec report from 9.0 to 7.8 us against 5 ms ones, at the same wall time
  // (bench/exec_storm).
  static constexpr int64_t kGatherMs = 20;

  std::string_view name() const override { return "hook_server"; }
  std::string_view mechanism() const override { return "preload"; }
  Level level() const override { return Level::kUser; }
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
