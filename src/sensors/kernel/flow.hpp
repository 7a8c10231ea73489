// A transport flow as both ends of the kernel level see it, and who owns it. The eBPF network
// sensor learns the owner of every socket as it is created or connected; NFQUEUE, which sees
// only packets, asks it instead of scanning /proc after the fact.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace ringside {

struct Flow {
  uint8_t protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP
  bool v6 = false;       // IPv4 addresses use the first 4 bytes (mapped addresses normalised)
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  uint16_t sport = 0;  // host byte order
  uint16_t dport = 0;

  bool operator==(const Flow& o) const = default;
};

struct FlowOwner {
  int32_t pid = 0;
  int32_t tid = 0;
  uint32_t uid = 0;
};

// Implemented by the eBPF network sensor; thread-safe.
class FlowOwners {
 public:
  virtual ~FlowOwners() = default;
  virtual std::optional<FlowOwner> owner(const Flow& flow) const = 0;
};

}  // namespace ringside
