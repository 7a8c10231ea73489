#include "core/lost_event.hpp"

#include "core/clock.hpp"
#include "core/log.hpp"

namespace ringside {

std::string_view to_string(LossAccuracy a) {
  return a == LossAccuracy::kExact ? "exact" : "lower_bound";
}

Event make_lost_event(Level level, std::string_view sensor, std::string_view channel,
                      uint64_t count, uint64_t total, LossAccuracy accuracy,
                      std::string_view what) {
  Event ev(EventType::kRingsideLost, clock::realtime_ns());
  ev.set_origin(level, sensor);
  ev.set(Field::kRingsideLostChannel, channel);
  ev.set(Field::kRingsideLostCount, static_cast<int64_t>(count));
  ev.set(Field::kRingsideLostTotal, static_cast<int64_t>(total));
  ev.set(Field::kRingsideLostAccuracy, to_string(accuracy));
  const std::string_view at_least = accuracy == LossAccuracy::kExact ? "" : "at least ";
  std::string msg = std::string(channel) + ": " + std::string(at_least) + std::to_string(count) +
                    " lost (" + std::string(what) + "; total " + std::to_string(total) + ")";
  log().warn("{}", msg);
  ev.set(Field::kRingsideMessage, msg);
  return ev;
}

std::optional<Event> LossChannel::report(uint64_t total, std::string_view what) {
  if (total <= reported_) return std::nullopt;
  const uint64_t count = total - reported_;
  reported_ = total;
  return make_lost_event(level_, sensor_, channel_, count, total, accuracy_, what);
}

}  // namespace ringside
