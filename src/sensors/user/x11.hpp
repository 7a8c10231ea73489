// User-level keyboard sensor: X11. XInput2 raw key events (XI_RawKeyPress/Release) selected on
// the root window — every key the X server delivers, to any client, without a grab, like a
// low-level keyboard hook. Key codes are translated with the server's current keymap
// (xkbcommon-x11; rebuilt on XkbNewKeyboardNotify/XkbMapNotify/MappingNotify, e.g. after
// setxkbmap) and its modifier state (XkbStateNotify), and attributed to the focused window
// (title, _NET_WM_PID -> process). A combination in settings.keyboard.block is kept from every
// client by a passive grab on the root window (XGrabKey) and reported as a deny. Advisory:
// only input through this X server is seen, and a client holding an active grab is not stopped.
#pragma once

#include <memory>
#include <string>

#include "sensors/sensor.hpp"

namespace ringside {

class X11Sensor final : public Sensor {
 public:
  // `display`: the X display to watch; empty: settings.keyboard.display, then $DISPLAY.
  explicit X11Sensor(std::string display = "");
  ~X11Sensor() override;

  std::string_view name() const override { return "keyboard_x11"; }
  std::string_view mechanism() const override { return "x11"; }
  Level level() const override { return Level::kUser; }
  Domain domain() const override { return Domain::kKeyboard; }
  Result<void> start(SensorContext& ctx) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
