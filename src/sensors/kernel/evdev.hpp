// Kernel-level keyboard sensor: evdev. Reads struct input_event from every keyboard under
// /dev/input (found by capabilities: EV_KEY with the letter keys; hot-plug aware through
// inotify), or from the devices the policy names (settings.keyboard.devices; a file or FIFO
// there is read as a recorded stream), and translates key codes with xkbcommon for the
// configured layout. Blocking a combination (settings.keyboard.block, read at start) grabs each
// keyboard (EVIOCGRAB) and re-emits every other event through a uinput copy; without
// /dev/uinput the sensor says so and only observes.
#pragma once

#include <memory>

#include "sensors/sensor.hpp"

namespace ringside {

class EvdevSensor final : public Sensor {
 public:
  EvdevSensor();
  ~EvdevSensor() override;

  std::string_view name() const override { return "keyboard_evdev"; }
  std::string_view mechanism() const override { return "evdev"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kKeyboard; }
  Result<void> start(SensorContext& ctx) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
