#include "policy/keyboard_settings.hpp"

#include <algorithm>
#include <cctype>

namespace ringside::policy {

namespace {

std::string describe(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return "nothing";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

unsigned modifier_of(const std::string& word) {
  if (word == "ctrl" || word == "control") return kModControl;
  if (word == "shift") return kModShift;
  if (word == "alt" || word == "mod1") return kModAlt;
  if (word == "super" || word == "mod4" || word == "win") return kModSuper;
  return 0;
}

// XKB layout and variant names: letters, digits, '_', '-', '(', ')'.
bool is_xkb_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '(' || c == ')';
  });
}

}  // namespace

std::string combo_text(unsigned modifiers, std::string_view key) {
  std::string out;
  if ((modifiers & kModControl) != 0) out += "ctrl+";
  if ((modifiers & kModAlt) != 0) out += "alt+";
  if ((modifiers & kModShift) != 0) out += "shift+";
  if ((modifiers & kModSuper) != 0) out += "super+";
  out += key;
  return out;
}

std::optional<KeyCombo> parse_key_combo(std::string_view text, std::string* why) {
  KeyCombo c;
  size_t start = 0;
  while (true) {
    const size_t plus = text.find('+', start);
    const std::string_view part =
        text.substr(start, plus == std::string_view::npos ? std::string_view::npos : plus - start);
    if (part.empty()) {
      *why = "empty part in key combination '" + std::string(text) + "'";
      return std::nullopt;
    }
    if (plus == std::string_view::npos) {
      if (modifier_of(lower(part)) != 0) {
        *why = "key combination '" + std::string(text) + "' names no key after its modifiers";
        return std::nullopt;
      }
      if (!std::all_of(part.begin(), part.end(),
                       [](unsigned char ch) { return std::isalnum(ch) != 0 || ch == '_'; })) {
        *why = "key '" + std::string(part) + "' is not a keysym name (e.g. t, F12, Delete)";
        return std::nullopt;
      }
      c.key = std::string(part);
      break;
    }
    const unsigned m = modifier_of(lower(part));
    if (m == 0) {
      *why = "unknown modifier '" + std::string(part) + "' (ctrl, shift, alt, super)";
      return std::nullopt;
    }
    if ((c.modifiers & m) != 0) {
      *why = "modifier '" + std::string(part) + "' repeated";
      return std::nullopt;
    }
    c.modifiers |= m;
    start = plus + 1;
  }
  c.text = combo_text(c.modifiers, c.key);
  return c;
}

void parse_keyboard_settings(const YAML::Node& n, KeyboardSettings& k, const SettingsError& error) {
  if (!n.IsMap()) {
    error(pos_of(n),
          "'keyboard' settings must be a mapping (record, layout, variant, redact_echo_off, "
          "display, devices, block), found " +
              describe(n));
    return;
  }
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    if (key == "record") {
      if (text == "text") {
        k.record = KeyRecording::kText;
      } else if (text == "metadata") {
        k.record = KeyRecording::kMetadata;
      } else {
        error(pos_of(v), "record must be text or metadata, found " + describe(v));
      }
    } else if (key == "layout" || key == "variant") {
      if (!is_xkb_name(text)) {
        error(pos_of(v), key + " must be an XKB name such as us or de, found " + describe(v));
      } else {
        (key == "layout" ? k.layout : k.variant) = text;
      }
    } else if (key == "redact_echo_off") {
      if (text == "true" || text == "false") {
        k.redact_echo_off = text == "true";
      } else {
        error(pos_of(v), "redact_echo_off must be true or false, found " + describe(v));
      }
    } else if (key == "display") {
      if (text.empty() || text.find(':') == std::string::npos) {
        error(pos_of(v), "display must be an X11 display name such as :0, found " + describe(v));
      } else {
        k.display = text;
      }
    } else if (key == "devices") {
      k.devices.clear();
      if (!v.IsSequence()) {
        error(pos_of(v), "devices must be a list of absolute paths, found " + describe(v));
        continue;
      }
      for (const auto& d : v) {
        if (!d.IsScalar() || d.Scalar().empty() || d.Scalar()[0] != '/') {
          error(pos_of(d), "a device must be an absolute path, found " + describe(d));
        } else {
          k.devices.push_back(d.Scalar());
        }
      }
    } else if (key == "block") {
      k.block.clear();
      if (!v.IsSequence()) {
        error(pos_of(v),
              "block must be a list of key combinations such as ctrl+alt+t, found " + describe(v));
        continue;
      }
      for (const auto& c : v) {
        std::string why;
        auto combo = c.IsScalar() ? parse_key_combo(c.Scalar(), &why) : std::nullopt;
        if (!c.IsScalar()) why = "a key combination must be text such as ctrl+alt+t";
        if (!combo) {
          error(pos_of(c), why + ", found " + describe(c));
          continue;
        }
        combo->pos = pos_of(c);
        k.block.push_back(std::move(*combo));
      }
    } else {
      error(pos_of(kv.first), "unknown keyboard setting '" + key +
                                  "' (expected record, layout, variant, redact_echo_off, display, "
                                  "devices, block)");
    }
  }
}

}  // namespace ringside::policy
