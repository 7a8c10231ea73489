#include "core/tamper_event.hpp"

#include "core/clock.hpp"

namespace ringside {

Event tamper_event(std::string_view mechanism, std::string_view target, std::string_view change,
                   const std::string& path, const std::string& message) {
  Event ev(EventType::kRingsideTamper, clock::realtime_ns());
  ev.set_origin(Level::kKernel, mechanism);
  ev.set(Field::kRingsideTamperTarget, target);
  ev.set(Field::kRingsideTamperChange, change);
  if (!path.empty()) ev.set(Field::kFilePath, path);
  ev.set(Field::kRingsideMessage, message);
  return ev;
}

}  // namespace ringside
