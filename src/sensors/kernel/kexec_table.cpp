#include "sensors/kernel/kexec_table.hpp"

#include <cstring>
#include <set>

#include "sensors/kernel/bpf/process_abi.h"

namespace ringside {

static_assert(RS_KEXEC_RULES == policy::kKernelRulesMax);
static_assert(RS_KEXEC_CONDS == policy::kKernelConditionsPerRule);
static_assert(RS_KEXEC_PATTERN == policy::kKernelPatternMax + 1);
static_assert(sizeof(rs_rec_kexec_entry::pattern) == RS_KEXEC_PATTERN);
static_assert(RS_KFIELD_EXECUTABLE == static_cast<int>(policy::KernelField::kExecutable));
static_assert(RS_KFIELD_NAME == static_cast<int>(policy::KernelField::kName));
static_assert(RS_KFIELD_ARG == static_cast<int>(policy::KernelField::kArg));
static_assert(RS_KFIELD_CWD == static_cast<int>(policy::KernelField::kCwd));
static_assert(RS_KFIELD_UID == static_cast<int>(policy::KernelField::kUid));
static_assert(RS_KOP_EQUALS == static_cast<int>(policy::KernelOp::kEquals));
static_assert(RS_KOP_PREFIX == static_cast<int>(policy::KernelOp::kPrefix));
static_assert(RS_KOP_SUFFIX == static_cast<int>(policy::KernelOp::kSuffix));

KexecTable encode_kexec_table(const policy::KernelExecProgram& program, uint16_t generation) {
  KexecTable t;
  t.entries.assign(RS_KEXEC_ENTRIES, rs_rec_kexec_entry{});
  for (const policy::KernelExecRule& rule : program.rules) {
    if (t.rules == RS_KEXEC_RULES) break;
    if (rule.conditions.empty() || rule.conditions.size() > RS_KEXEC_CONDS) continue;
    const size_t slot = t.rules++;
    for (size_t i = 0; i < rule.conditions.size(); ++i) {
      const policy::KernelCondition& c = rule.conditions[i];
      rs_rec_kexec_entry& e = t.entries[slot * RS_KEXEC_CONDS + i];
      e.type = RS_REC_KEXEC_ENTRY;
      e.size = sizeof e;
      e.rule_index = rule.rule_index;
      e.gen = generation;
      e.kill = rule.kill ? 1 : 0;
      e.n_conditions = static_cast<uint8_t>(rule.conditions.size());
      e.field = static_cast<uint8_t>(c.field);
      e.op = static_cast<uint8_t>(c.op);
      e.negate = c.negate ? 1 : 0;
      e.uid = c.uid;
      const size_t n = std::min(c.pattern.size(), static_cast<size_t>(RS_KEXEC_PATTERN - 1));
      e.pattern_len = static_cast<uint16_t>(n);
      std::memcpy(e.pattern, c.pattern.data(), n);
    }
  }
  return t;
}

bool needs_late_kill(const policy::Policy& policy, const policy::KernelExecProgram& program) {
  std::set<uint32_t> in_table;
  for (const auto& r : program.rules) in_table.insert(r.rule_index);
  const auto& rules = policy.rules();
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const policy::Rule& r = rules[i];
    if (r.action == policy::Action::kDeny && r.applies_to(EventType::kProcessExec) &&
        r.applies_at(Level::kKernel) && in_table.count(i) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace ringside
