// Parsing of `settings.keyboard` (docs/policy.md, "Keyboard settings"), kept apart from the
// rule parser. Errors are reported through `error` at the node's line and column.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "policy/policy.hpp"
#include "policy/yaml_util.hpp"

namespace ringside::policy {

void parse_keyboard_settings(const YAML::Node& n, KeyboardSettings& k, const SettingsError& error);

// Parses "ctrl+alt+t" into modifiers and key; nullopt with `why` set when malformed.
std::optional<KeyCombo> parse_key_combo(std::string_view text, std::string* why);

// "ctrl+alt+t" from modifiers and key, in a fixed modifier order.
std::string combo_text(unsigned modifiers, std::string_view key);

}  // namespace ringside::policy
