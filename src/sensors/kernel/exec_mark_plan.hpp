// Where the exec sensor places its fanotify FAN_OPEN_EXEC_PERM marks, derived from the policy.
//
// Only process.exec deny rules that apply at kernel level and read nothing but fields known
// before the new image runs (policy::known_before_exec) need a mark; with none, nothing is
// marked and no exec anywhere waits on the agent. For each such rule:
//
//   executable equals a path      -> its parent directory, FAN_EVENT_ON_CHILD: an inode mark on
//                                    the file would be lost when the file is replaced (rename
//                                    over it, delete and re-create); the directory's is not.
//   executable prefix / glob      -> the filesystem (FAN_MARK_FILESYSTEM) holding the deepest
//                                    existing directory of the literal prefix, plus every
//                                    filesystem mounted below it; the policy filters by path.
//   no usable path condition      -> every mounted filesystem that can hold executables
//   (sha256 only, parent, name,      (kernel interface filesystems and noexec-only ones are
//    suffix, not ...)                skipped).
//
// The trade-off: a filesystem mark makes every exec on that filesystem wait for the agent once
// (and on every exec when the decision cannot be cached, see `cacheable`), which costs a round
// trip to user space; a directory mark costs nothing outside that directory but only sees
// direct children. A path that does not exist yet falls back to the filesystem of its deepest
// existing ancestor, so that creating the directory later cannot escape the rule.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"

namespace ringside {

// One line of /proc/self/mountinfo, the parts the planner needs.
struct MountEntry {
  std::string mount_point;  // unescaped
  std::string device;       // "major:minor": one per superblock (bind mounts share it)
  std::string fs_type;
  bool noexec = false;  // per-mount option
};

std::vector<MountEntry> parse_mountinfo(std::string_view text);

// Filesystems that are kernel interfaces (proc, sysfs, cgroup, bpf, tracefs, ...), never a
// place programs are executed from.
bool is_pseudo_filesystem(std::string_view fs_type);

enum class ExecMarkKind : uint8_t {
  kDirectory,   // inode mark on a directory with FAN_EVENT_ON_CHILD
  kFilesystem,  // FAN_MARK_FILESYSTEM on the filesystem holding `path`
};

struct ExecMark {
  ExecMarkKind kind = ExecMarkKind::kDirectory;
  std::string path;    // the directory, or a directory inside the filesystem
  std::string device;  // of the filesystem holding `path` (empty when unknown)
  // A rule names this place; failing to mark it means the policy cannot be enforced. Marks
  // placed only because a rule has no path condition are best effort (a filesystem type that
  // refuses marks is reported and skipped).
  bool required = true;
  std::string rule;  // first rule that asked for it
};

// Which filesystems a deny rule's path condition reaches (the devices of its marks).
struct ExecRuleReach {
  size_t rule_index = 0;    // into Policy::rules()
  bool everywhere = false;  // no path condition
  std::vector<std::string> devices;
};

struct ExecMarkPlan {
  std::vector<ExecMark> marks;             // no duplicates; no directory inside a marked filesystem
  std::vector<ExecRuleReach> reach;        // one per planned deny rule
  std::vector<std::string> known_devices;  // every device of the mount table
  // Every kernel-level exec rule reads only the file (path, name, hash) or fields that are
  // unknown before exec anyway, so a decision depends on the file alone (the precondition of
  // caching it, see allow_survives_renaming).
  bool cacheable = false;
  // Some kernel-level exec rule reads the executable's hash.
  bool needs_hash = false;
  std::vector<std::string> notes;  // rules that were not planned, and why
};

// Canonical path of an existing directory, or nothing (injected so that planning stays pure).
using DirResolver = std::function<std::optional<std::string>(const std::string& path)>;
DirResolver system_dir_resolver();

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
