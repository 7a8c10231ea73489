#include "sensors/sensor.hpp"

namespace ringside {

std::string_view to_string(Domain d) {
  switch (d) {
    case Domain::kProcess:
      return "process";
    case Domain::kFile:
      return "file";
    case Domain::kNetwork:
      return "network";
    case Domain::kKeyboard:
      return "keyboard";
  }
  return "?";
}

SensorStats SensorStats::from(const SensorCounters& c) {
  return {c.seen.load(std::memory_order_relaxed), c.dropped.load(std::memory_order_relaxed),
          c.errors.load(std::memory_order_relaxed), c.denied.load(std::memory_order_relaxed),
          c.defaulted.load(std::memory_order_relaxed)};
}

}  // namespace ringside
