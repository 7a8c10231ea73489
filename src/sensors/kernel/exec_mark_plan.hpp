// Where the exec sensor places its fanotify FAN_OPEN_EXEC_PERM marks, derived from the policy.
//
// Only process.exec deny rules that apply at kernel level and read nothing but fields known
// before the new image runs (policy::known_before_exec) need a mark; with none, nothing is
// marked and no exec anywhere waits on the agent. Each such rule is planned by its condition on
// process.executable (fanotify_marks.hpp: exact path -> parent directory, prefix / glob -> the
// filesystems below the literal prefix, none -> every filesystem that can hold executables;
// noexec mounts are skipped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "sensors/kernel/fanotify_marks.hpp"

namespace ringside {

using ExecMarkKind = FanMarkKind;
using ExecMark = FanMark;
using ExecRuleReach = FanRuleReach;

struct ExecMarkPlan : FanMarkPlan {
  // Every kernel-level exec rule reads only the file (path, name, hash) or fields that are
  // unknown before exec anyway, so a decision depends on the file alone (the precondition of
  // caching it, see allow_survives_renaming).
  bool cacheable = false;
  // Some kernel-level exec rule reads the executable's hash.
  bool needs_hash = false;
};

ExecMarkPlan plan_exec_marks(const policy::Policy& policy, const std::vector<MountEntry>& mounts,
                             const DirResolver& resolve_dir);

// True when this rule blocks at the fanotify exec point (and so needs marks).
bool is_fanotify_exec_deny_rule(const policy::Rule& rule);

// Whether an allowed exec of a file may be cached on its inode (an ignore mark). The mark
// follows the inode, not the name: a rename or hard link gives the same inode another path
// without touching its content, and the kernel keeps the ignore mark. So an allow is cached
// only when it holds under every name the file could get: each deny rule either excludes the
// file by content (`file`: the exec event with its hash, the path and name are ignored), or
// reaches no name on the file's filesystem (`device`, "major:minor").
bool allow_survives_renaming(const ExecMarkPlan& plan, const policy::Policy& policy,
                             const Event& file, const std::string& device);

}  // namespace ringside
