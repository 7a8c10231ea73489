// Parsing of a policy's `settings:` mapping, kept apart from the rule parser.
#pragma once

#include <yaml-cpp/yaml.h>

#include "policy/policy.hpp"
#include "policy/yaml_util.hpp"

namespace ringside::policy {

void parse_settings(const YAML::Node& n, Settings& s, const SettingsError& error);

}  // namespace ringside::policy
