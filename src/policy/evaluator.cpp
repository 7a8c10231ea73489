// Policy evaluation: first deciding rule wins; unknown fields make a rule undecidable here.

#include <algorithm>

#include "policy/policy.hpp"

namespace ringside::policy {

namespace {

Tri from_bool(bool b) { return b ? Tri::kTrue : Tri::kFalse; }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Which hash field stands for the file a path field names.
std::optional<Field> hash_field_for(Field f) {
  switch (f) {
    case Field::kProcessExecutable:
      return Field::kProcessHashSha256;
    case Field::kFilePath:
      return Field::kFileHashSha256;
    default:
      return std::nullopt;
  }
}

bool match_string(const Condition& c, std::string_view v) {
  switch (c.op) {
    case Op::kEquals:
    case Op::kIn:
      return std::any_of(c.strings.begin(), c.strings.end(),
                         [&](const std::string& s) { return s == v; });
    case Op::kPrefix:
      return std::any_of(c.strings.begin(), c.strings.end(),
                         [&](const std::string& s) { return starts_with(v, s); });
    case Op::kSuffix:
      return std::any_of(c.strings.begin(), c.strings.end(),
                         [&](const std::string& s) { return ends_with(v, s); });
    case Op::kGlob:
      return std::any_of(c.globs.begin(), c.globs.end(),
                         [&](const Glob& g) { return g.matches(v); });
    case Op::kCidr:
      return std::any_of(c.cidrs.begin(), c.cidrs.end(),
                         [&](const Cidr& b) { return b.contains(v); });
    default:
      return false;
  }
}

Tri evaluate_leaf(const Condition& c, const Event& ev, Field field, const EvalEnv& env) {
  const auto& fi = schema::kFieldInfo[schema::field_index(field)];
  if (c.op == Op::kSha256) {
    std::optional<std::string> hash;
    if (fi.id == Field::kProcessHashSha256 || fi.id == Field::kFileHashSha256) {
      if (auto h = ev.get_str(fi.id)) hash = std::string(*h);
    } else if (auto hf = hash_field_for(fi.id); hf && ev.has(*hf)) {
      hash = std::string(*ev.get_str(*hf));
    } else if (auto path = ev.get_str(fi.id); path && env.sha256_of) {
      hash = env.sha256_of(*path);
    }
    if (!hash) return Tri::kUnknown;
    return from_bool(std::find(c.strings.begin(), c.strings.end(), *hash) != c.strings.end());
  }
  switch (fi.type) {
    case FieldType::kInt:
    case FieldType::kTimestamp: {
      auto v = ev.get_int(field);
      if (!v) return Tri::kUnknown;
      return from_bool(std::find(c.ints.begin(), c.ints.end(), *v) != c.ints.end());
    }
    case FieldType::kString:
    case FieldType::kIp: {
      auto v = ev.get_str(field);
      if (!v) return Tri::kUnknown;
      if (fi.type == FieldType::kIp && (c.op == Op::kEquals || c.op == Op::kIn)) {
        // Compare normalised addresses (the policy side was normalised when parsed).
        auto ip = IpAddress::parse(*v);
        if (!ip) return Tri::kFalse;
        const std::string norm = ip->to_string();
        return from_bool(match_string(c, norm));
      }
      return from_bool(match_string(c, *v));
    }
    case FieldType::kStrings: {
      if (!ev.has(field)) return Tri::kUnknown;
      for (std::string_view s : ev.get_list(field)) {
        if (match_string(c, s)) return Tri::kTrue;
      }
      return Tri::kFalse;
    }
  }
  return Tri::kUnknown;
}

}  // namespace

Tri evaluate_condition(const Condition& c, const Event& ev, Field field, const EvalEnv& env) {
  if (c.op == Op::kNot) {
    const Tri t = evaluate_condition(c.children.front(), ev, field, env);
    if (t == Tri::kUnknown) return t;
    return t == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
  }
  if (c.op == Op::kAll) {
    Tri result = Tri::kTrue;
    for (const auto& child : c.children) {
      const Tri t = evaluate_condition(child, ev, field, env);
      if (t == Tri::kFalse) return Tri::kFalse;
      if (t == Tri::kUnknown) result = Tri::kUnknown;
    }
    return result;
  }
  return evaluate_leaf(c, ev, field, env);
}

bool Rule::applies_to(EventType type) const {
  return std::find(on.begin(), on.end(), type) != on.end();
}

std::vector<Field> Rule::fields() const {
  std::vector<Field> out;
  for (const auto& m : match) {
    if (std::find(out.begin(), out.end(), m.field) == out.end()) out.push_back(m.field);
  }
  return out;
}

void Policy::index_rules() {
  by_type_.clear();
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (EventType t : rules_[i].on) {
      const auto id = static_cast<size_t>(t);
      if (by_type_.size() <= id) by_type_.resize(id + 1);
      by_type_[id].push_back(static_cast<uint16_t>(i));
    }
  }
}

Decision Policy::evaluate(const Event& ev, Level level, const EvalEnv& env) const {
  const auto type = static_cast<size_t>(ev.type());
  if (type >= by_type_.size()) return Decision{};
  for (uint16_t index : by_type_[type]) {
    const Rule& rule = rules_[index];
    if (!rule.applies_at(level)) continue;
    Tri result = Tri::kTrue;
    for (const FieldMatch& m : rule.match) {
      const Tri t = evaluate_condition(m.condition, ev, m.field, env);
      if (t == Tri::kFalse) {
        result = Tri::kFalse;
        break;
      }
      if (t == Tri::kUnknown) result = Tri::kUnknown;
    }
    if (result == Tri::kFalse) continue;
    if (result == Tri::kUnknown) {
      // An allow rule this point cannot decide may be an exception to a later deny: stop and
      // leave the decision to a point that sees the missing field.
      if (rule.action == Action::kAllow) return Decision{Verdict::kAllow, nullptr, true};
      continue;
    }
    switch (rule.action) {
      case Action::kAllow:
        return Decision{Verdict::kAllow, &rule, false};
      case Action::kDeny:
        return Decision{Verdict::kDeny, &rule, false};
      // A redirected connection goes ahead (elsewhere); it is reported like an alert and the
      // enforcement point reads the rule's endpoint.
      case Action::kRedirect:
      case Action::kAlert:
        return Decision{Verdict::kAlert, &rule, false};
    }
  }
  return Decision{};
}

bool Policy::has_rules_for(EventType type, Level level, Action action) const {
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return r.action == action && r.applies_to(type) && r.applies_at(level);
  });
}

}  // namespace ringside::policy
