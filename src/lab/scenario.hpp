// A lab scenario: one operation with a unique marker, performed by a small program, and how to
// recognise its event(s) in the agent's JSON lines at each level and which fields must be
// right. Scenarios are declared in scenarios_{process,file,network}.cpp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lab/report.hpp"

namespace ringside::lab {

// Where the scenarios run: paths the runner created for this run.
struct LabEnv {
  std::string run_id;
  std::string scratch;      // a tmpfs mounted for this run (file targets, copied programs)
  std::string bin_dir;      // ringside, libringside-preload.so, ringside-lab-step/-static
  std::string resolv_conf;  // "nameserver 127.0.0.1", bound over /etc/resolv.conf for DNS steps
  int first_port = 0;       // network scenarios use first_port + n
};

// A field an event must carry with one of these values (numbers compared as their decimal
// text). "@pid" / "@child" stand for the pid the runner started / the child the step reported.
struct FieldCheck {
  std::string field;
  std::vector<std::string> any_of;
};

// What the step program printed and how it ended.
struct StepResult {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;
  int term_signal = 0;
  long rc = 0;  // the operation's result (0 ok, -1 failed)
  int err = 0;  // its errno
  bool printed = false;
  pid_t pid = 0;    // the step's pid
  pid_t child = 0;  // the child it started (vfork, posix_spawn), 0 when none
  std::string out;
  double elapsed_ms = 0;
};

struct Scenario {
  std::string id;  // area.name, e.g. process.static_exec
  std::string area;
  std::string title;
  std::string marker;             // unique text (a path, an argument, a port, a host name)
  std::vector<std::string> argv;  // the step program and its arguments
  bool in_netns = false;          // runs in the lab's network namespace (and cgroup)
  bool private_resolv = false;    // /etc/resolv.conf points to 127.0.0.1 (own mount namespace)
  bool exec_replaces = false;     // success = the exec'd target ran and exited 0
  // Which events belong to the operation (every check must hold) ...
  std::string category, action;
  std::vector<FieldCheck> identify;
  std::string args_contain;                // an element of process.args must equal this
  std::vector<std::string> flags_exclude;  // ringside.file.flags must not contain these
  // ... and the fields that must then be right.
  std::vector<FieldCheck> require;
  // The policy rule naming the marker: its `on` and `match` entries (field -> YAML value).
  std::string rule_on;
  std::vector<std::pair<std::string, std::string>> rule_match;
  std::vector<int> deny_errnos;  // a denied operation fails with one of these (or SIGKILL)
  // Known reasons a level cannot see / block it; reported only when it actually did not.
  std::map<std::string, std::string> miss_cause;
  std::map<std::string, std::string> deny_cause;
  // Keyboard: typed into a fresh pty running argv (the text is `pty_input`), or, for
  // key_down, recognised by the text of the level's key events put together.
  bool pty = false;
  std::string pty_input;
  std::vector<std::string> env;  // extra KEY=VALUE for the program (e.g. DISPLAY)
  // Recreates the scenario's files before each run; returns an error text or "".
  std::function<std::string()> prepare;
};

std::vector<Scenario> process_scenarios(const LabEnv& env);
std::vector<Scenario> file_scenarios(const LabEnv& env);
std::vector<Scenario> network_scenarios(const LabEnv& env);
// `display` is the lab's Xvfb display (":N"). The combination the keyboard deny pass blocks
// (settings.keyboard.block) is kLabCombination.
inline constexpr const char* kLabCombination = "ctrl+alt+k";
std::vector<Scenario> keyboard_scenarios(const LabEnv& env, const std::string& display);

// Helpers shared by the scenario files.
std::string copy_file(const std::string& from, const std::string& to, int mode);
std::string write_file(const std::string& path, const std::string& content, int mode);
std::string yaml_quote(const std::string& s);

// Dotted access into an event ("process.parent.pid"); nullptr when absent.
const nlohmann::json* event_field(const nlohmann::json& ev, const std::string& dotted);
// The field as text: strings as they are, numbers in decimal; "" when absent.
std::string event_text(const nlohmann::json& ev, const std::string& dotted);

// Whether `ev` is an event of scenario `s` (category, action, identify, args and, when
// `check_flags`, flags: a deny may stop the operation at an earlier open, e.g. the O_PATH one).
bool identifies(const Scenario& s, const nlohmann::json& ev, const StepResult& step,
                bool check_flags = true);
// Required fields `ev` has wrong, as "field: got X, want Y".
std::vector<std::string> wrong_fields(const Scenario& s, const nlohmann::json& ev,
                                      const StepResult& step);

// The cell of scenario `s` at `level` in `mode` (monitor | deny), from what the step did and
// the events the agent of that pass wrote.
Cell classify(const Scenario& s, const std::string& level, const std::string& mode,
              const StepResult& step, const std::vector<nlohmann::json>& events);

// "exit 0", "errno EPERM", "killed by SIGKILL", ...: what happened to the operation.
std::string describe_step(const StepResult& step);

}  // namespace ringside::lab
