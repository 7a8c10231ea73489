// The part of the policy the BPF exec program decides in the kernel (kill-on-exec).
//
// The BPF program cannot run the full policy, so process.exec rules whose conditions reduce to
// equals / prefix / suffix on the executable, its name, an argument, the working directory, or
// equality on the user id are compiled into small tables it walks at sched_process_exec; a
// match on a deny entry sends SIGKILL before the new image runs a single instruction.
//
// Order is kept: rules are tried first-match as in user space. A rule the kernel cannot decide
// is left out when it can only deny (the agent's late kill still covers it); an allow/alert
// rule the kernel cannot decide ends the table, because anything after it might be an
// exception the kernel would get wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy.hpp"

namespace ringside::policy {

enum class KernelField : uint8_t {
  kExecutable = 1,  // resolved path of the new image
  kName = 2,        // its base name
  kArg = 3,         // any argv element (argv[0] included)
  kCwd = 4,         // working directory
  kUid = 5,         // real user id
};

enum class KernelOp : uint8_t { kEquals = 1, kPrefix = 2, kSuffix = 3 };

inline constexpr size_t kKernelPatternMax = 127;  // bytes, without the NUL
inline constexpr size_t kKernelConditionsPerRule = 4;
inline constexpr size_t kKernelRulesMax = 32;

struct KernelCondition {
  KernelField field = KernelField::kExecutable;
  KernelOp op = KernelOp::kEquals;
  bool negate = false;
  std::string pattern;  // string fields
  uint32_t uid = 0;     // kUid
};

struct KernelExecRule {
  uint32_t rule_index = 0;                  // index into Policy::rules(), names the rule in events
  bool kill = false;                        // deny -> kill; allow/alert -> stop without killing
  std::vector<KernelCondition> conditions;  // all must hold
};

struct KernelExecProgram {
  std::vector<KernelExecRule> rules;
  // Human-readable notes about rules left to user space, for `policy check` and the log.
  std::vector<std::string> notes;
};

// True when every condition of `rule` can be expressed for the kernel (ignoring table limits).
bool kernel_exec_rule_compilable(const Rule& rule);

KernelExecProgram compile_kernel_exec_rules(const Policy& policy);

}  // namespace ringside::policy
