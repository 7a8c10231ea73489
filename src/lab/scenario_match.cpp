// Recognising a scenario's events in the agent's JSON lines, and the small file helpers the
// scenario declarations share.

#include <sys/stat.h>

#include <csignal>
#include <cstring>

#include <filesystem>
#include <fstream>

#include "lab/scenario.hpp"

namespace ringside::lab {

std::string write_file(const std::string& path, const std::string& content, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::filesystem::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return "cannot write " + path;
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return "cannot chmod " + path;
  return "";
}

std::string copy_file(const std::string& from, const std::string& to, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(to).parent_path(), ec);
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return "cannot copy " + from + " to " + to + ": " + ec.message();
  if (chmod(to.c_str(), static_cast<mode_t>(mode)) != 0) return "cannot chmod " + to;
  return "";
}

std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const nlohmann::json* event_field(const nlohmann::json& ev, const std::string& dotted) {
  const nlohmann::json* cur = &ev;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string event_text(const nlohmann::json& ev, const std::string& dotted) {
  const nlohmann::json* f = event_field(ev, dotted);
  if (f == nullptr) return "";
  if (f->is_string()) return f->get<std::string>();
  if (f->is_number_integer()) return std::to_string(f->get<int64_t>());
  return f->dump();
}

namespace {

std::string expected_value(const std::string& v, const StepResult& step) {
  if (v == "@pid") return std::to_string(step.pid);
  if (v == "@child") return std::to_string(step.child);
  return v;
}

bool check_holds(const FieldCheck& c, const nlohmann::json& ev, const StepResult& step) {
  const std::string got = event_text(ev, c.field);
  if (c.any_of.empty()) return !got.empty();  // present, any value
  for (const auto& want : c.any_of) {
    if (got == expected_value(want, step)) return true;
  }
  return false;
}

bool list_contains(const nlohmann::json* list, const std::string& value) {
  if (list == nullptr || !list->is_array()) return false;
  for (const auto& e : *list) {
    if (e.is_string() && e.get<std::string>() == value) return true;
  }
  return false;
}

}  // namespace

bool identifies(const Scenario& s, const nlohmann::json& ev, const StepResult& step,
                bool check_flags) {
  if (event_text(ev, "event.category") != s.category) return false;
  if (event_text(ev, "event.action") != s.action) return false;
  for (const auto& c : s.identify) {
    if (!check_holds(c, ev, step)) return false;
  }
  if (!s.args_contain.empty() && !list_contains(event_field(ev, "process.args"), s.args_contain)) {
    return false;
  }
  for (const auto& f : s.flags_exclude) {
    if (check_flags && list_contains(event_field(ev, "ringside.file.flags"), f)) return false;
  }
  return true;
}

std::vector<std::string> wrong_fields(const Scenario& s, const nlohmann::json& ev,
                                      const StepResult& step) {
  std::vector<std::string> out;
  for (const auto& c : s.require) {
    if (check_holds(c, ev, step)) continue;
    std::string want = c.any_of.empty() ? "a value" : "";
    for (const auto& w : c.any_of) want += (want.empty() ? "" : " or ") + expected_value(w, step);
    const std::string got = event_text(ev, c.field);
    out.push_back(c.field + ": got " + (got.empty() ? "(absent)" : got) + ", want " + want);
  }
  return out;
}

}  // namespace ringside::lab

namespace ringside::lab {

std::string describe_step(const StepResult& r) {
  if (!r.started) return "the step program could not be started";
  if (r.timed_out) return "the step did not finish in time (killed)";
  if (r.exit_code >= 122 && r.exit_code <= 125) {
    return "the step could not be placed (namespace, cgroup or exec; status " +
           std::to_string(r.exit_code) + ")";
  }
  if (r.term_signal != 0) {
    const char* name = sigabbrev_np(r.term_signal);
    return "killed by " + (name != nullptr ? "SIG" + std::string(name)
                                           : "signal " + std::to_string(r.term_signal));
  }
  if (r.printed && r.rc < 0) {
    const char* name = strerrorname_np(r.err);
    return std::string("failed with ") + (name != nullptr ? name : std::to_string(r.err));
  }
  if (r.printed) return "succeeded";
  return r.exit_code == 0 ? "the program ran (exit 0)" : "exit " + std::to_string(r.exit_code);
}

Cell classify(const Scenario& s, const std::string& level, const std::string& mode,
              const StepResult& step, const std::vector<nlohmann::json>& events) {
  Cell c;
  c.level = level;
  c.mode = mode;
  c.elapsed_ms = step.elapsed_ms;
  const std::string what = describe_step(step);
  if (!step.started || step.timed_out || (step.exit_code >= 122 && step.exit_code <= 125)) {
    c.result = "error";
    c.detail = what;
    return c;
  }
  const bool op_ok = s.exec_replaces
                         ? (step.exit_code == 0 && !step.printed && step.term_signal == 0)
                         : (step.printed && step.rc == 0 && step.term_signal == 0);
  bool expected_errno = false;
  for (int e : s.deny_errnos)
    expected_errno = expected_errno || (step.printed && step.rc < 0 && step.err == e);
  const bool stopped = step.term_signal == SIGKILL || expected_errno;

  std::vector<const nlohmann::json*> matching;
  for (const auto& ev : events) {
    if (event_text(ev, "ringside.level") == level && identifies(s, ev, step, mode == "monitor")) {
      matching.push_back(&ev);
    }
  }
  auto sensor_of = [](const nlohmann::json& ev) {
    std::string d = event_text(ev, "ringside.sensor");
    const std::string v = event_text(ev, "ringside.verdict");
    if (!v.empty()) d += ", verdict " + v;
    const std::string e = event_text(ev, "ringside.enforcement");
    if (!e.empty()) d += ", " + e;
    return d;
  };
  auto declared = [](const std::map<std::string, std::string>& m, const std::string& lv) {
    auto it = m.find(lv);
    return it == m.end() ? std::string() : it->second;
  };

  if (mode == "monitor" && s.category == "keyboard" && s.action == "key_down" &&
      s.identify.empty()) {
    // Typed text arrives one key event at a time: put the level's key texts together.
    std::string typed;
    for (const auto& ev : events) {
      if (event_text(ev, "ringside.level") == level &&
          event_text(ev, "event.action") == "key_down") {
        typed += event_text(ev, "key.text");
      }
    }
    if (typed.find(s.marker) != std::string::npos) {
      c.result = "seen";
      c.detail = "the key_down events' key.text spell the marker";
      return c;
    }
    matching.clear();
  }
  if (mode == "monitor") {
    if (!op_ok) {
      c.result = "error";
      c.detail = "the operation itself failed: " + what;
      return c;
    }
    for (const auto* ev : matching) {
      if (wrong_fields(s, *ev, step).empty()) {
        c.result = "seen";
        c.detail = "event from " + sensor_of(*ev);
        return c;
      }
    }
    c.result = "missed";
    if (!matching.empty()) {
      c.wrong_fields = wrong_fields(s, *matching.front(), step);
      c.cause = "event with wrong fields";
      c.detail = "event from " + sensor_of(*matching.front());
      return c;
    }
    c.cause = declared(s.miss_cause, level);
    if (c.cause.empty()) c.cause = "unexpected: no event at this level";
    c.detail = "operation " + what;
    return c;
  }

  const nlohmann::json* deny_event = nullptr;
  for (const auto* ev : matching) {
    if (event_text(*ev, "ringside.verdict") == "deny") deny_event = ev;
  }
  if (stopped && deny_event != nullptr) {
    c.result = "blocked";
    c.detail = what + "; event from " + sensor_of(*deny_event);
    return c;
  }
  c.result = "not_blocked";
  c.detail = "operation " + what + "; " +
             (deny_event != nullptr ? "event from " + sensor_of(*deny_event)
              : matching.empty()    ? std::string("no event at this level")
                                    : "event from " + sensor_of(*matching.front()));
  c.cause = declared(s.deny_cause, level);
  if (c.cause.empty()) {
    c.cause = op_ok ? "unexpected: the operation succeeded"
                    : "unexpected: " + what + (deny_event == nullptr ? ", no deny event" : "");
  }
  return c;
}

}  // namespace ringside::lab
