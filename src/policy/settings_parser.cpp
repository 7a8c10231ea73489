// `settings:` of a policy file (docs/policy.md): fail mode, deadline, hashing, and the file,
// network and keyboard domains' settings. Errors go through `error` at the node's position.
#include "policy/settings_parser.hpp"

#include <string>
#include <utility>
#include <vector>

#include "policy/keyboard_settings.hpp"
#include "policy/yaml_util.hpp"

namespace ringside::policy {

namespace {

void parse_watch_scope(const YAML::Node& item, std::vector<WatchScope>& out,
                       const SettingsError& error) {
  WatchScope w;
  w.pos = pos_of(item);
  YAML::Node path_node = item;
  if (item.IsMap()) {
    bool have_path = false;
    for (const auto& kv : item) {
      const std::string key = kv.first.as<std::string>();
      if (key == "path") {
        path_node.reset(kv.second);  // rebinds; `=` would overwrite `item` in place
        have_path = true;
      } else if (key == "mark") {
        const std::string m = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (m == "filesystem") {
          w.mark = MarkKind::kFilesystem;
        } else if (m == "mount") {
          w.mark = MarkKind::kMount;
        } else if (m == "directory") {
          w.mark = MarkKind::kDirectory;
        } else {
          error(pos_of(kv.second),
                "mark must be filesystem, mount or directory, found " + node_kind(kv.second));
        }
      } else {
        error(pos_of(kv.first), "unknown watch key '" + key + "' (expected path, mark)");
      }
    }
    if (!have_path) {
      error(w.pos, "a watch entry needs a path");
      return;
    }
  }
  if (!path_node.IsScalar() || path_node.Scalar().empty() || path_node.Scalar()[0] != '/') {
    error(pos_of(path_node), "a watched path must be absolute, found " + node_kind(path_node));
    return;
  }
  w.path = path_node.Scalar();
  while (w.path.size() > 1 && w.path.back() == '/') w.path.pop_back();
  out.push_back(std::move(w));
}

void parse_file_settings(const YAML::Node& n, FileSettings& f, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n), "'file' settings must be a mapping (watch, opens), found " + node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "opens") {
      const std::string o = v.IsScalar() ? v.Scalar() : "";
      if (o == "all") {
        f.opens = OpenReporting::kAll;
      } else if (o == "writes") {
        f.opens = OpenReporting::kWrites;
      } else if (o == "none") {
        f.opens = OpenReporting::kNone;
      } else {
        error(pos_of(v), "opens must be all, writes or none, found " + node_kind(v));
      }
    } else if (key == "watch") {
      f.watch.clear();
      if (!v.IsSequence()) {
        error(pos_of(v), "watch must be a list of paths, found " + node_kind(v));
        continue;
      }
      for (const auto& item : v) parse_watch_scope(item, f.watch, error);
    } else {
      error(pos_of(kv.first), "unknown file setting '" + key + "' (expected watch, opens)");
    }
  }
}

void parse_network_settings(const YAML::Node& n, NetworkSettings& net, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n), "'network' settings must be a mapping (cgroup, nfqueue, queue, dns), found " +
                         node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    if (key == "cgroup") {
      if (text.empty() || text[0] != '/') {
        error(pos_of(v), "cgroup must be an absolute path, found " + node_kind(v));
      } else {
        net.cgroup = text;
      }
    } else if (key == "nfqueue") {
      if (text == "off") {
        net.nfqueue = NfqueueUse::kOff;
      } else if (text == "rules") {
        net.nfqueue = NfqueueUse::kRules;
      } else if (text == "all") {
        net.nfqueue = NfqueueUse::kAll;
      } else {
        error(pos_of(v), "nfqueue must be off, rules or all, found " + node_kind(v));
      }
    } else if (key == "queue") {
      auto q = v.IsScalar() ? parse_int(text) : std::nullopt;
      if (!q || *q < 0 || *q > 65535) {
        error(pos_of(v), "queue must be an integer 0..65535, found " + node_kind(v));
      } else {
        net.queue = static_cast<uint16_t>(*q);
      }
    } else if (key == "dns") {
      if (text == "true") {
        net.dns = true;
      } else if (text == "false") {
        net.dns = false;
      } else {
        error(pos_of(v), "dns must be true or false, found " + node_kind(v));
      }
    } else {
      error(pos_of(kv.first),
            "unknown network setting '" + key + "' (expected cgroup, nfqueue, queue, dns)");
    }
  }
}

// "5s", "1500ms", "2m": a non-negative integer with a unit, in milliseconds; nothing when the
// text is not such a duration.
std::optional<int64_t> duration_ms(const YAML::Node& v) {
  const std::string text = v.IsScalar() ? v.Scalar() : "";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string unit = text.substr(digits);
  auto n_units = digits > 0 && digits < 10 ? parse_int(text.substr(0, digits)) : std::nullopt;
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  }
  if (!n_units || scale == 0) return std::nullopt;
  return *n_units * scale;
}

// The canary heartbeat (docs/policy.md): `interval`, 100 ms to one day.
void parse_canary_settings(const YAML::Node& n, CanarySettings& c, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n), "'canary' settings must be a mapping (interval), found " + node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key != "interval") {
      error(pos_of(kv.first), "unknown canary setting '" + key + "' (expected interval)");
      continue;
    }
    const auto ms = duration_ms(kv.second);
    if (!ms || *ms < 100 || *ms > 24LL * 3600 * 1000) {
      error(pos_of(kv.second),
            "interval must be a duration from 100ms to 24h written as <n>ms, <n>s or <n>m, found " +
                node_kind(kv.second));
      continue;
    }
    c.interval_ms = *ms;
  }
}

// The supervisor of `ringside run` (docs/policy.md): `bound`, 1 s to 10 min; `restart`.
void parse_supervisor_settings(const YAML::Node& n, SupervisorSettings& s,
                               const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n),
          "'supervisor' settings must be a mapping (bound, restart), found " + node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : "";
    if (key == "bound") {
      const auto ms = duration_ms(kv.second);
      if (!ms || *ms < 1000 || *ms > 600LL * 1000) {
        error(pos_of(kv.second),
              "bound must be a duration from 1s to 10m written as <n>ms, <n>s or <n>m, found " +
                  node_kind(kv.second));
        continue;
      }
      s.bound_ms = *ms;
    } else if (key == "restart") {
      if (text == "true") {
        s.restart = true;
      } else if (text == "false") {
        s.restart = false;
      } else {
        error(pos_of(kv.second), "restart must be true or false, found " + node_kind(kv.second));
      }
    } else {
      error(pos_of(kv.first), "unknown supervisor setting '" + key + "' (expected bound, restart)");
    }
  }
}

// Tamper watch (docs/policy.md): `watch`, true or false.
void parse_tamper_settings(const YAML::Node& n, TamperSettings& t, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n), "'tamper' settings must be a mapping (watch), found " + node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : "";
    if (key != "watch") {
      error(pos_of(kv.first), "unknown tamper setting '" + key + "' (expected watch)");
    } else if (text == "true" || text == "false") {
      t.watch = text == "true";
    } else {
      error(pos_of(kv.second), "watch must be true or false, found " + node_kind(kv.second));
    }
  }
}

}  // namespace

void parse_settings(const YAML::Node& n, Settings& s, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n), "'settings' must be a mapping, found " + node_kind(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "fail_mode") {
      const std::string m = v.IsScalar() ? v.Scalar() : "";
      if (m == "open") {
        s.fail_mode = FailMode::kOpen;
      } else if (m == "closed") {
        s.fail_mode = FailMode::kClosed;
      } else {
        error(pos_of(v), "fail_mode must be 'open' or 'closed', found " + node_kind(v));
      }
    } else if (key == "decision_deadline_ms") {
      auto ms = v.IsScalar() ? parse_int(v.Scalar()) : std::nullopt;
      if (!ms || *ms < 1 || *ms > 60000) {
        error(pos_of(v), "decision_deadline_ms must be an integer 1..60000, found " + node_kind(v));
      } else {
        s.decision_deadline_ms = static_cast<int>(*ms);
      }
    } else if (key == "hash_max_bytes") {
      auto b = v.IsScalar() ? parse_int(v.Scalar()) : std::nullopt;
      if (!b || *b < 0) {
        error(pos_of(v), "hash_max_bytes must be a non-negative integer, found " + node_kind(v));
      } else {
        s.hash_max_bytes = *b;
      }
    } else if (key == "file") {
      parse_file_settings(v, s.file, error);
    } else if (key == "network") {
      parse_network_settings(v, s.network, error);
    } else if (key == "keyboard") {
      parse_keyboard_settings(v, s.keyboard, error);
    } else if (key == "canary") {
      parse_canary_settings(v, s.canary, error);
    } else if (key == "supervisor") {
      parse_supervisor_settings(v, s.supervisor, error);
    } else if (key == "tamper") {
      parse_tamper_settings(v, s.tamper, error);
    } else {
      error(pos_of(kv.first), "unknown setting '" + key +
                                  "' (expected fail_mode, decision_deadline_ms, hash_max_bytes, "
                                  "file, network, keyboard, canary, supervisor, tamper)");
    }
  }
}

}  // namespace ringside::policy
