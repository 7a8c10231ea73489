// The fallback owner lookup when the eBPF network sensor is not running: the local socket of
// a flow is found in /proc/net/{tcp,udp}{,6} by its local address and port (its inode and
// uid), then the process holding that inode among /proc/<pid>/fd. This costs a scan of every
// process's descriptors, so it is only the fallback; answers are exact while the socket exists.
#pragma once

#include <string>

#include "sensors/kernel/flow.hpp"

namespace ringside {

class ProcFlowOwners final : public FlowOwners {
 public:
  // `proc_root` is "/proc" except in tests.
  explicit ProcFlowOwners(std::string proc_root = "/proc") : root_(std::move(proc_root)) {}
  // `flow.saddr`/`sport` must be the local end.
  std::optional<FlowOwner> owner(const Flow& flow) const override;

  struct SocketEntry {
    uint64_t inode = 0;
    uint32_t uid = 0;
  };
  // The socket table entry whose local end is the flow's source (exposed for tests).
  std::optional<SocketEntry> find_socket(const Flow& flow) const;

 private:
  std::string root_;
};

}  // namespace ringside
