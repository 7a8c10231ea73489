// Small helpers shared by the policy's YAML readers: positions for file:line:column errors,
// a description of what was found, strict integers, and the error callback type.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "policy/policy.hpp"

namespace ringside::policy {

using SettingsError = std::function<void(Position, std::string)>;

inline Position pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return {m.line + 1, m.column + 1};
}

inline std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

inline std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace ringside::policy
