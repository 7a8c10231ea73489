#include "policy/kernel_exec_rules.hpp"

#include <optional>

namespace ringside::policy {

namespace {

std::optional<KernelField> kernel_field(Field f) {
  switch (f) {
    case Field::kProcessExecutable:
      return KernelField::kExecutable;
    case Field::kProcessName:
      return KernelField::kName;
    case Field::kProcessArgs:
      return KernelField::kArg;
    case Field::kProcessWorkingDirectory:
      return KernelField::kCwd;
    case Field::kUserId:
      return KernelField::kUid;
    default:
      return std::nullopt;
  }
}

// One condition as a disjunction of kernel conditions (an `in` list or several patterns is an
// OR). Empty when not expressible.
std::optional<std::vector<KernelCondition>> alternatives(const Condition& c, KernelField kf,
                                                         bool negate) {
  std::vector<KernelCondition> out;
  if (c.op == Op::kNot) {
    auto inner = alternatives(c.children.front(), kf, !negate);
    // not(a or b) = (not a) and (not b): only a single alternative stays a single condition.
    if (!inner || inner->size() != 1) return std::nullopt;
    return inner;
  }
  if (kf == KernelField::kUid) {
    if (c.op != Op::kEquals && c.op != Op::kIn) return std::nullopt;
    for (int64_t v : c.ints) {
      KernelCondition k{kf, KernelOp::kEquals, negate, {}, static_cast<uint32_t>(v)};
      out.push_back(k);
    }
  } else {
    KernelOp op;
    switch (c.op) {
      case Op::kEquals:
      case Op::kIn:
        op = KernelOp::kEquals;
        break;
      case Op::kPrefix:
        op = KernelOp::kPrefix;
        break;
      case Op::kSuffix:
        op = KernelOp::kSuffix;
        break;
      case Op::kGlob: {
        // A glob without wildcards is an equality; anything else needs the full matcher.
        for (const Glob& g : c.globs) {
          if (!g.is_literal()) return std::nullopt;
          out.push_back({kf, KernelOp::kEquals, negate, g.literal_prefix(), 0});
        }
        if (negate && out.size() != 1) return std::nullopt;
        return out;
      }
      default:
        return std::nullopt;
    }
    for (const std::string& s : c.strings) {
      if (s.size() > kKernelPatternMax || s.find('\0') != std::string::npos) return std::nullopt;
      out.push_back({kf, op, negate, s, 0});
    }
  }
  if (negate && out.size() != 1) return std::nullopt;
  if (out.empty()) return std::nullopt;
  return out;
}

// Expands a rule into conjunctions (one per combination of alternatives).
std::optional<std::vector<std::vector<KernelCondition>>> expand(const Rule& rule) {
  std::vector<std::vector<KernelCondition>> conj{{}};
  for (const FieldMatch& m : rule.match) {
    auto kf = kernel_field(m.field);
    if (!kf) return std::nullopt;
    std::vector<std::vector<KernelCondition>> groups;  // AND of ORs
    if (m.condition.op == Op::kAll) {
      for (const Condition& child : m.condition.children) {
        auto alt = alternatives(child, *kf, false);
        if (!alt) return std::nullopt;
        groups.push_back(*alt);
      }
    } else {
      auto alt = alternatives(m.condition, *kf, false);
      if (!alt) return std::nullopt;
      groups.push_back(*alt);
    }
    for (const auto& group : groups) {
      std::vector<std::vector<KernelCondition>> next;
      for (const auto& partial : conj) {
        for (const KernelCondition& k : group) {
          auto extended = partial;
          extended.push_back(k);
          if (extended.size() > kKernelConditionsPerRule) return std::nullopt;
          next.push_back(std::move(extended));
        }
      }
      if (next.size() > kKernelRulesMax) return std::nullopt;
      conj = std::move(next);
    }
  }
  return conj;
}

}  // namespace

bool kernel_exec_rule_compilable(const Rule& rule) {
  return rule.applies_to(EventType::kProcessExec) && rule.applies_at(Level::kKernel) &&
         expand(rule).has_value();
}

KernelExecProgram compile_kernel_exec_rules(const Policy& policy) {
  KernelExecProgram prog;
  // Without a deny rule the table would do nothing but cost time at every exec.
  if (!policy.has_rules_for(EventType::kProcessExec, Level::kKernel, Action::kDeny)) return prog;
  const auto& rules = policy.rules();
  bool any_kill = false;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (!r.applies_to(EventType::kProcessExec) || !r.applies_at(Level::kKernel)) continue;
    const bool kill = r.action == Action::kDeny;
    auto conj = expand(r);
    if (!conj) {
      if (kill) {
        prog.notes.push_back("rule '" + r.name +
                             "': conditions the kernel cannot decide at exec; enforced by the "
                             "fanotify exec check or the agent's kill after exec");
        continue;
      }
      prog.notes.push_back("rule '" + r.name + "' (" + std::string(to_string(r.action)) +
                           ") cannot be decided in the kernel; later rules are not compiled "
                           "for kill-on-exec");
      break;
    }
    if (prog.rules.size() + conj->size() > kKernelRulesMax) {
      prog.notes.push_back("kill-on-exec table full at rule '" + r.name +
                           "'; later rules are "
                           "enforced by the agent");
      break;
    }
    for (auto& c : *conj) prog.rules.push_back({i, kill, std::move(c)});
    any_kill = any_kill || kill;
  }
  if (!any_kill) prog.rules.clear();
  return prog;
}

}  // namespace ringside::policy
