#include "policy/enforcement.hpp"

#include <algorithm>

#include "policy/kernel_exec_rules.hpp"

namespace ringside::policy {

bool known_before_exec(Field f) {
  switch (f) {
    case Field::kProcessExecutable:
    case Field::kProcessName:
    case Field::kProcessHashSha256:
    case Field::kProcessParentPid:
    case Field::kProcessParentExecutable:
    case Field::kProcessParentName:
    case Field::kProcessPid:
    case Field::kUserId:
    case Field::kUserEffectiveId:
    case Field::kGroupId:
    case Field::kRingsideAncestors:
    case Field::kRingsideLevel:
    case Field::kRingsideSensor:
      return true;
    default:
      return false;
  }
}

namespace {

void exec_points(const Rule& rule, std::vector<EnforcementPoint>& out) {
  const auto fields = rule.fields();
  if (rule.applies_at(Level::kKernel)) {
    const bool pre = std::all_of(fields.begin(), fields.end(), known_before_exec);
    if (pre) {
      out.push_back({Level::kKernel, "fanotify exec permission", true,
                     "execve fails with EPERM before the image runs"});
    }
    if (kernel_exec_rule_compilable(rule)) {
      out.push_back({Level::kKernel, "eBPF kill-on-exec", true,
                     "killed by SIGKILL at exec, before its first instruction"});
    }
    out.push_back({Level::kKernel, "BPF-LSM bprm_check_security", true,
                   "execve fails with EPERM (only where the kernel allows BPF-LSM)"});
    if (!pre && !kernel_exec_rule_compilable(rule)) {
      out.push_back({Level::kKernel, "agent kill after exec", false,
                     "killed by the agent once the exec is reported (the program may run "
                     "briefly)"});
    }
  }
  if (rule.applies_at(Level::kUser)) {
    out.push_back({Level::kUser, "interposer exec hooks", false,
                   "exec returns EACCES in hooked programs (static binaries and raw syscalls "
                   "bypass it)"});
  }
}

}  // namespace

std::vector<EnforcementPoint> enforcement_points(const Rule& rule) {
  std::vector<EnforcementPoint> out;
  if (rule.action != Action::kDeny && rule.action != Action::kRedirect) return out;
  for (EventType t : rule.on) {
    if (t == EventType::kProcessExec) exec_points(rule, out);
  }
  return out;
}

}  // namespace ringside::policy
