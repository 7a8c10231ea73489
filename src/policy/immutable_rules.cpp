#include "policy/immutable_rules.hpp"

#include <algorithm>

namespace ringside::policy {

namespace {

bool refused_by_attribute(EventType t) {
  switch (t) {
    case EventType::kFileModify:
    case EventType::kFileRename:
    case EventType::kFileDelete:
    case EventType::kFileChmod:
    case EventType::kFileLink:
      return true;
    default:
      return false;
  }
}

// The absolute paths a path condition names; empty when it is not equality or `in`.
std::vector<std::string> named_paths(const Condition& c) {
  if (c.op != Op::kEquals && c.op != Op::kIn) return {};
  if (c.strings.empty()) return {};
  for (const std::string& p : c.strings) {
    if (p.empty() || p.front() != '/') return {};
  }
  return c.strings;
}

bool names_by_path(const Rule& rule) {
  if (rule.match.size() != 1) return false;
  const FieldMatch& m = rule.match.front();
  const bool by_path = m.field == Field::kFilePath ||
                       (m.field == Field::kFileTargetPath &&
                        std::all_of(rule.on.begin(), rule.on.end(),
                                    [](EventType t) { return t == EventType::kFileRename; }));
  return by_path && !named_paths(m.condition).empty();
}

}  // namespace

bool immutable_enforceable(const Rule& rule) {
  return rule.action == Action::kDeny && rule.applies_at(Level::kKernel) && !rule.on.empty() &&
         std::all_of(rule.on.begin(), rule.on.end(), refused_by_attribute) && names_by_path(rule);
}

std::vector<std::string> immutable_paths(const Policy& policy) {
  std::vector<std::string> out;
  const auto& rules = policy.rules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (!immutable_enforceable(r)) continue;
    const bool preempted =
        std::any_of(rules.begin(), rules.begin() + static_cast<long>(i), [&](const Rule& earlier) {
          return earlier.action == Action::kAllow && earlier.applies_at(Level::kKernel) &&
                 std::any_of(r.on.begin(), r.on.end(),
                             [&](EventType t) { return earlier.applies_to(t); });
        });
    if (preempted) continue;
    for (const std::string& p : named_paths(r.match.front().condition)) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace ringside::policy
