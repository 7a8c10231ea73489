#include "sensors/key_event.hpp"

namespace ringside {

Verdict KeyEventReporter::report(SensorContext& ctx, const KeyReport& r) {
  const auto pol = ctx.policy();
  const bool metadata = pol->settings().keyboard.record == policy::KeyRecording::kMetadata;
  Event ev(r.down ? EventType::kKeyboardKeyDown : EventType::kKeyboardKeyUp, r.time_ns);
  ev.set_origin(level_, mechanism_);
  if (!r.device.empty()) ev.set(Field::kRingsideKeyDevice, r.device);
  if (!r.window_title.empty()) ev.set(Field::kRingsideWindowTitle, r.window_title);
  if (r.pid > 0) ev.set(Field::kProcessPid, static_cast<int64_t>(r.pid));
  if (r.down) {
    ++presses_;
    if (metadata) {
      ev.set(Field::kRingsideKeyCount, static_cast<int64_t>(presses_));
      if (last_press_ns_ != 0) {
        ev.set(Field::kRingsideKeyIntervalUs, (r.time_ns - last_press_ns_) / 1000);
      }
    }
    last_press_ns_ = r.time_ns;
  }
  if (metadata) {
    ev.set(Field::kRingsideKeyRedacted, "metadata");
  } else {
    ev.set(Field::kKeyCode, static_cast<int64_t>(r.code));
    if (!r.translation.name.empty()) ev.set(Field::kKeyName, r.translation.name);
    if (r.down && !r.translation.text.empty()) ev.set(Field::kKeyText, r.translation.text);
  }
  policy::Decision d = ctx.decide(ev);
  if (r.blocked_combo != nullptr) {
    ev.set_verdict(Verdict::kDeny, "keyboard.block:" + *r.blocked_combo);
    ev.set(Field::kRingsideEnforcement, "blocked");
    ev.set(Field::kEventOutcome, "failure");
    d.verdict = Verdict::kDeny;
  } else {
    ev.set(Field::kEventOutcome, "success");
  }
  ctx.emit(std::move(ev));
  return d.verdict;
}

}  // namespace ringside
