// Where the open sensor places its fanotify permission marks, and what its decisions need.
//
// Only file.open deny rules that apply at kernel level and read nothing but fields known while
// the opener waits (known_at_open: the file, its hash, the acting process, the open flags) need
// marks; with none, no group exists and no open anywhere waits on the agent. Each rule is planned
// by its condition on file.path (fanotify_marks.hpp).
//
// Mask: FAN_OPEN_PERM always. FAN_ACCESS_PERM (every read(2)) only when a planned deny rule reads
// the file's content (sha256): the content decided at open can change before a read through an
// already open descriptor (another process writes the denied content into an allowed file), and
// only a per-read check sees that. The cache makes it cheap: an ignore mark covers both events
// and the kernel drops it when the file is modified, so the next read is decided again. Rules by
// path or by process are decided at open only: a path names what was opened, and a descriptor is
// a capability once granted (inherited or passed on, it is not checked again).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "sensors/kernel/fanotify_marks.hpp"

namespace ringside {

struct OpenMarkPlan : FanMarkPlan {
  uint64_t mask = 0;  // FAN_OPEN_PERM [| FAN_ACCESS_PERM]; 0 when nothing is marked
  // Every kernel-level file.open rule reads only the file (path, hash, inode), so a decision
  // depends on the file alone: the precondition of caching an allow on the inode.
  bool cacheable = false;
  bool needs_hash = false;  // some kernel-level file.open rule reads a hash
  // Every hash a rule reads is the file's or the executable's, never a hash of another path
  // the evaluator would open itself (the policy parser allows no other on file.open today;
  // should it, such decisions go to a worker, never to the reader).
  bool hash_by_path_only = true;
  bool reads_process_hash = false;  // process.hash.sha256 or process.executable: {sha256}
  bool reads_process = false;       // any field of the acting process or user
  bool reads_flags = false;         // ringside.file.flags
  // Copies of the kernel-level file.open rules that read a hash (any action).
  std::vector<policy::Rule> hash_rules;
};

// Fields the open permission point can know while the opener waits.
bool known_at_open(Field f);
// True when this rule blocks at the fanotify open point (and so needs marks).
bool is_fanotify_open_deny_rule(const policy::Rule& rule);

OpenMarkPlan plan_open_marks(const policy::Policy& policy, const std::vector<MountEntry>& mounts,
                             const DirResolver& resolve_dir);

// Whether deciding `bare` (a file.open event with the path, no hash) could depend on a hash:
// false when every rule that reads one is excluded by another condition already. Decisions
// that cannot depend on a hash are made without computing one.
bool hash_could_matter(const OpenMarkPlan& plan, const Event& bare);

// Whether an allowed open may be cached on the inode (an ignore mark follows the inode, not
// the name, so the allow must hold under every name a rename or hard link could give the file;
// see allow_holds_under_any_name). `file` is the decided event with its hash when known.
bool open_allow_survives_renaming(const OpenMarkPlan& plan, const policy::Policy& policy,
                                  const Event& file, const std::string& device);

}  // namespace ringside
