#include "sensors/kernel/exec_mark_plan.hpp"

#include <algorithm>

#include "policy/enforcement.hpp"

namespace ringside {

namespace {

// Fields that describe the executable file itself (or are constant at this point).
bool is_file_field(Field f) {
  return f == Field::kProcessExecutable || f == Field::kProcessName ||
         f == Field::kProcessHashSha256 || f == Field::kRingsideLevel ||
         f == Field::kRingsideSensor;
}

}  // namespace

bool is_fanotify_exec_deny_rule(const policy::Rule& rule) {
  if (rule.action != policy::Action::kDeny || !rule.applies_to(EventType::kProcessExec) ||
      !rule.applies_at(Level::kKernel)) {
    return false;
  }
  const auto fields = rule.fields();
  return std::all_of(fields.begin(), fields.end(), policy::known_before_exec);
}

ExecMarkPlan plan_exec_marks(const policy::Policy& policy, const std::vector<MountEntry>& mounts,
                             const DirResolver& resolve_dir) {
  ExecMarkPlan plan;
  plan.cacheable = true;
  FanMarkPlanner planner(mounts, resolve_dir, /*skip_noexec=*/true);
  const auto& rules = policy.rules();
  for (size_t index = 0; index < rules.size(); ++index) {
    const policy::Rule& rule = rules[index];
    if (!rule.applies_to(EventType::kProcessExec) || !rule.applies_at(Level::kKernel)) continue;
    for (const auto& m : rule.match) {
      if (m.field == Field::kProcessHashSha256 ||
          (m.field == Field::kProcessExecutable && reads_hash(m.condition))) {
        plan.needs_hash = true;
      }
      // Fields unknown before exec leave the rule undecided whatever the file: harmless here.
      if (!is_file_field(m.field) && policy::known_before_exec(m.field)) plan.cacheable = false;
    }
    if (rule.action != policy::Action::kDeny) continue;
    if (!is_fanotify_exec_deny_rule(rule)) {
      plan.notes.push_back("rule '" + rule.name +
                           "' reads fields unknown before exec; left to the checks after exec");
      continue;
    }
    planner.add_rule(index, rule, Field::kProcessExecutable, plan);
  }
  planner.finish(plan);
  return plan;
}

bool allow_survives_renaming(const ExecMarkPlan& plan, const policy::Policy& policy,
                             const Event& file, const std::string& device) {
  if (!plan.cacheable) return false;
  Event content = file;
  content.clear(Field::kProcessExecutable);
  content.clear(Field::kProcessName);
  return allow_holds_under_any_name(plan, policy, content, device);
}

}  // namespace ringside
