// Kernel-level deny rules on file changes that the immutable attribute (FS_IMMUTABLE_FL) can
// enforce. No fanotify permission event covers rename, unlink, truncate or chmod, and BPF-LSM
// is refused on this kernel; the attribute is checked by the kernel itself on every one of
// them, for every process, root included. That is also its price: a guarded file refuses every
// change, by anyone, while the rule is loaded.
#pragma once

#include <string>
#include <vector>

#include "policy/policy.hpp"

namespace ringside::policy {

// True for a deny rule at the kernel level whose every event type is one the attribute refuses
// (file.modify: truncate and writes; file.rename: renaming the file, or another file over it;
// file.delete; file.chmod; file.link) and whose only condition names files by absolute path:
// file.path (for file.rename also file.target_path) equal to, or `in`, a list of paths. A rule
// with another condition (a process, a user) is not: the attribute refuses every process alike.
bool immutable_enforceable(const Rule& rule);

// The paths to make immutable for `policy`: those of every enforceable rule that no earlier
// allow rule at the kernel level on one of its event types could pre-empt (the first matching
// rule wins, and the attribute would refuse what that allow rule lets through). Sorted, unique.
std::vector<std::string> immutable_paths(const Policy& policy);

}  // namespace ringside::policy
