// Keyboard scenarios: a marked word typed through the X server (XTEST, as xdotool does), a
// marked line typed on a terminal (a fresh pty under `ringside tty-session`) and a key
// combination pressed while a marked window has the focus. Blocking is by key combination
// (settings.keyboard.block), not by typed text: only the combination has deny cells.

#include <cerrno>

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
  {
    // The step: the lab's X client takes the focus, xdotool presses the combination, and the
    // step says whether the client got the key ("rc=0") or not ("rc=-1 errno=EACCES"); errno
    // ETIMEDOUT when the window never got the focus.
    Scenario s;
    s.id = "keyboard.x11_combination";
    s.area = "keyboard";
    s.title = "a key combination (" + std::string(kLabCombination) +
              ") pressed through the X server while a marked window has the focus";
    s.marker = "rslab-" + env.run_id + "-combination";
    const std::string script =
        "c=\"$1\" out=\"$2\"; : > \"$out\"; \"$c\" \"$out\" \"$3\" & cp=$!; i=0; "
        "until grep -q '^ready' \"$out\"; do i=$((i+1)); if [ $i -gt 200 ]; then kill $cp; "
        "echo \"rc=-1 errno=110 pid=$$\"; exit 0; fi; sleep 0.025; done; "
        "/usr/bin/xdotool key " +
        std::string(kLabCombination) +
        "; sleep 0.3; kill $cp; wait $cp 2>/dev/null; "
        "if grep -q '^k ' \"$out\"; then echo \"rc=0 errno=0 pid=$$\"; "
        "else echo \"rc=-1 errno=13 pid=$$\"; fi";
    s.argv = {"/bin/sh",
              "-c",
              script,
              "sh",
              env.bin_dir + "/ringside-lab-x11-client",
              env.scratch + "/" + s.marker + ".keys",
              s.marker};
    s.env = {"DISPLAY=" + display};
    s.category = "keyboard";
    s.action = "key_down";
    s.identify.push_back({"key.name", {"k"}});
    s.require.push_back({"ringside.window.title", {s.marker}});
    s.deny_errnos = {EACCES};
    s.miss_cause["kernel"] =
        "XTEST input is made inside the X server: it never passes the kernel's input layer "
        "(evdev), and audit TTY sees terminals only";
    s.deny_cause["kernel"] =
        "XTEST input never passes the kernel's input layer, where an evdev grab would hold it";
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ringside::lab
