// What the NFQUEUE sensor does with one queued packet, apart from the queue itself: parse it,
// turn it into events (network.connect for a new outgoing connection, network.accept for a new
// incoming one, network.dns for a DNS query or answer), attribute it to the process that owns
// the local socket, and decide with the full policy. No system call of its own beyond the
// owner lookup, so it is unit-tested with a fake context and fake owners.
#pragma once

#include <vector>

#include "core/event.hpp"
#include "sensors/kernel/flow.hpp"
#include "sensors/kernel/nfqueue_rules.hpp"
#include "sensors/kernel/nfqueue_socket.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

struct PacketOutcome {
  bool allow = true;
  std::vector<Event> events;  // decided, to be emitted once the packet is answered
};

class NfqueueDecider {
 public:
  // `owners` (the eBPF flow map) is asked first, then `fallback` (/proc); either may be null.
  NfqueueDecider(SensorContext& ctx, const FlowOwners* owners, const FlowOwners* fallback,
                 SensorCounters& counters)
      : ctx_(ctx), owners_(owners), fallback_(fallback), counters_(counters) {}

  // Malformed packets and DNS messages are counted as errors and accepted: they are not a
  // decision this sensor was asked for.
  PacketOutcome decide(const QueuedPacket& packet, const QueuePlan& plan);

 private:
  std::optional<FlowOwner> lookup(const Flow& local_flow) const;
  Event base_event(EventType type, const Flow& local_flow, const QueuedPacket& packet) const;
  SensorContext& ctx_;
  const FlowOwners* owners_;
  const FlowOwners* fallback_;
  SensorCounters& counters_;
};

}  // namespace ringside
