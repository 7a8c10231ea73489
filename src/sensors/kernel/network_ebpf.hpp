// Kernel-level network sensor and in-kernel enforcement on eBPF: sock:inet_sock_set_state and
// the connect/accept/bind/sendto/sendmsg syscall tracepoints (and io_uring submissions) for
// network.connect / accept / bind / send events with the owning process; cgroup/connect4/6,
// sendmsg4/6 and bind4/6 programs that deny or redirect from policy maps without a round
// trip; the flow -> process map NFQUEUE uses for attribution; and the ORIGDST query socket
// (origdst_server.hpp, docs/redirect.md).
#pragma once

#include <memory>
#include <string>

#include "sensors/kernel/flow.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

class NetworkEbpfSensor final : public Sensor, public FlowOwners {
 public:
  // `query_socket`: where redirect inspectors ask for original destinations (ORIGDST);
  // `ring_bytes`: the ring buffer's size, a power of two of at least 4096 (0: 8 MiB).
  explicit NetworkEbpfSensor(std::string query_socket, size_t ring_bytes = 0);
  ~NetworkEbpfSensor() override;

  std::string_view name() const override { return "network_ebpf"; }
  std::string_view mechanism() const override { return "ebpf"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kNetwork; }
  Result<void> start(SensorContext& ctx) override;
  Result<void> apply_policy(const policy::Policy& policy) override;
  void stop() override;
  SensorStats stats() const override;

  std::optional<FlowOwner> owner(const Flow& flow) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The mount point of the cgroup2 file system (the socket programs' default cgroup); empty when
// none is mounted.
std::string cgroup2_root();

}  // namespace ringside
