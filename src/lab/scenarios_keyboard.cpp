// Keyboard scenarios: a marked word typed through the X server (XTEST, as xdotool does) and a
// marked line typed on a terminal (a fresh pty under `ringside tty-session`). Monitor mode
// only: blocking is by key combination (settings.keyboard.block), not by typed text.

#include "lab/scenario.hpp"

namespace ringside::lab {

std::vector<Scenario> keyboard_scenarios(const LabEnv& env, const std::string& display) {
  std::vector<Scenario> out;
  {
    Scenario s;
    s.id = "keyboard.x11_typing";
    s.area = "keyboard";
    s.title = "a word typed through the X server (xdotool, XTEST)";
    s.marker = "rslab" + env.run_id + "x";
    s.argv = {"/usr/bin/xdotool", "type", "--delay", "15", s.marker};
    s.env = {"DISPLAY=" + display};
    s.exec_replaces = true;
    s.category = "keyboard";
    s.action = "key_down";
    s.miss_cause["kernel"] =
        "XTEST input is made inside the X server: it never passes the kernel's input layer "
        "(evdev), and audit TTY sees terminals only";
    out.push_back(std::move(s));
  }
  {
    Scenario s;
    s.id = "keyboard.tty_line";
    s.area = "keyboard";
    s.title = "a line typed on a terminal (pty) under ringside tty-session";
    s.marker = "rslab" + env.run_id + "t";
    s.argv = {env.bin_dir + "/ringside", "tty-session", "--", "sh", "-c", "read line"};
    s.pty = true;
    s.pty_input = s.marker + "\n";
    s.exec_replaces = true;
    s.category = "keyboard";
    s.action = "tty_input";
    s.identify.push_back({"key.text", {s.marker + "\n"}});
    s.require.push_back({"tty.name", {}});
    s.miss_cause["user"] = "terminal input does not pass through the X server";
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ringside::lab
