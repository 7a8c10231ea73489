// Kernel-level per-connection verdicts through netfilter NFQUEUE: iptables rules in ringside's
// own chain queue the first packet of new connections (and DNS traffic on port 53); the agent
// decides with the full policy, attributes the packet to its process through the eBPF flow map,
// and answers every queued packet exactly once within the deadline. Stale chains from a
// previous run are removed at start, and the chain is removed at stop.
#pragma once

#include <functional>
#include <memory>

#include "sensors/kernel/flow.hpp"
#include "sensors/kernel/nfqueue_rules.hpp"
#include "sensors/kernel/nfqueue_socket.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

class NfqueueSensor final : public Sensor {
 public:
  // `owners` may be null (no eBPF network sensor): packets are then attributed from /proc.
  explicit NfqueueSensor(const FlowOwners* owners);
  // For tests: the queue socket and the program runner (iptables) come from the caller.
  using QueueOpener =
      std::function<Result<std::unique_ptr<NfqueueIo>>(uint16_t queue, bool fail_open)>;
  NfqueueSensor(const FlowOwners* owners, QueueOpener open_queue,
                std::unique_ptr<CommandRunner> runner);
  ~NfqueueSensor() override;

  std::string_view name() const override { return "nfqueue"; }
  std::string_view mechanism() const override { return "nfqueue"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kNetwork; }
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
