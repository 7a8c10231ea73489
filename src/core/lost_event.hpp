// ringside.lost events: one per report of records a channel lost.
//
// Every channel that can lose records (a BPF ring buffer, a fanotify queue, NFQUEUE, the hook
// socket, the agent's event queue, a sink) keeps a running total and reports what was lost
// since its previous report as one event naming the channel. `LossChannel` holds the reported
// total so a sensor only passes its current total.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.hpp"

namespace ringside {

enum class LossAccuracy : uint8_t {
  kExact,       // every lost record was counted
  kLowerBound,  // the mechanism only says "at least this many" (queue overflow, overrun)
};
std::string_view to_string(LossAccuracy a);

// A ringside.lost event: `count` lost since the previous report, `total` since start.
Event make_lost_event(Level level, std::string_view sensor, std::string_view channel,
                      uint64_t count, uint64_t total, LossAccuracy accuracy, std::string_view what);

class LossChannel {
 public:
  LossChannel(Level level, std::string sensor, std::string channel, LossAccuracy accuracy)
      : level_(level),
        sensor_(std::move(sensor)),
        channel_(std::move(channel)),
        accuracy_(accuracy) {}

  // An event for what `total` adds to the last reported total; nothing when it adds nothing.
  // `what` describes the unit lost, e.g. "records" or "ring buffer full".
  std::optional<Event> report(uint64_t total, std::string_view what);
  uint64_t reported() const { return reported_; }
  const std::string& channel() const { return channel_; }

 private:
  Level level_;
  std::string sensor_, channel_;
  LossAccuracy accuracy_;
  uint64_t reported_ = 0;
};

}  // namespace ringside
