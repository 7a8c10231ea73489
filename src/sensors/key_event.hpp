// Turns a translated key press or release into a keyboard.key_down / key_up event, the same way
// for every keyboard sensor: text or metadata only (settings.keyboard.record), the counters and
// timing of metadata mode, a deny for a blocked combination, then decide and emit.
#pragma once

#include <cstdint>
#include <string>

#include "sensors/key_translator.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

struct KeyReport {
  bool down = false;
  uint16_t code = 0;  // Linux input key code (KEY_*)
  KeyTranslation translation;
  int64_t time_ns = 0;
  std::string device;
  std::string window_title;  // x11: the focused window
  int32_t pid = 0;           // x11: the focused window's _NET_WM_PID; 0 when unknown
  // A combination the sensor kept from its receiver (a grab); reported as a deny.
  const std::string* blocked_combo = nullptr;
};

class KeyEventReporter {
 public:
  KeyEventReporter(Level level, std::string mechanism)
      : level_(level), mechanism_(std::move(mechanism)) {}
  // Builds the event, asks the policy, emits it; returns the verdict.
  Verdict report(SensorContext& ctx, const KeyReport& r);
  uint64_t presses() const { return presses_; }

 private:
  Level level_;
  std::string mechanism_;
  uint64_t presses_ = 0;
  int64_t last_press_ns_ = 0;
};

}  // namespace ringside
