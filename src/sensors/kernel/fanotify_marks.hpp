// Where fanotify permission marks go for deny rules that name paths: the mount table, the
// places a path condition restricts a rule to, and the planner both permission sensors (exec,
// open) use. For each deny rule:
//
//   path equals a value           -> its parent directory, FAN_EVENT_ON_CHILD: an inode mark on
//                                    the file would be lost when the file is replaced (rename
//                                    over it, delete and re-create); the directory's is not.
//   path prefix / glob            -> the filesystem (FAN_MARK_FILESYSTEM) holding the deepest
//                                    existing directory of the literal prefix, plus every
//                                    filesystem mounted below it; the policy filters by path.
//   no usable path condition      -> every mounted filesystem (kernel interface filesystems
//   (sha256 only, suffix, not,       are skipped, and so are noexec ones for exec rules).
//    a process condition ...)
//
// The trade-off: a filesystem mark makes every operation on that filesystem wait for the agent
// once (and every time when the decision cannot be cached), which costs a round trip to user
// space; a directory mark costs nothing outside that directory but only sees direct children. A
// path that does not exist yet falls back to the filesystem of its deepest existing ancestor, so
// that creating the directory later cannot escape the rule.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"

namespace ringside {

// One line of /proc/self/mountinfo, the parts the planners need.
struct MountEntry {
  std::string mount_point;  // unescaped
  std::string device;       // "major:minor": one per superblock (bind mounts share it)
  std::string fs_type;
  bool noexec = false;  // per-mount option
};

std::vector<MountEntry> parse_mountinfo(std::string_view text);
// The mount table of this process (empty when unreadable).
std::vector<MountEntry> read_mountinfo(const std::string& path);

// Filesystems that are kernel interfaces (proc, sysfs, cgroup, bpf, tracefs, ...), never a
// place programs are executed from or files of interest are opened on.
bool is_pseudo_filesystem(std::string_view fs_type);

// True when `path` is `dir` or lies below it (whole path components).
bool is_under(std::string_view path, std::string_view dir);

enum class FanMarkKind : uint8_t {
  kDirectory,   // inode mark on a directory with FAN_EVENT_ON_CHILD
  kFilesystem,  // FAN_MARK_FILESYSTEM on the filesystem holding `path`
};

struct FanMark {
  FanMarkKind kind = FanMarkKind::kDirectory;
  std::string path;    // the directory, or a directory inside the filesystem
  std::string device;  // of the filesystem holding `path` (empty when unknown)
  // A rule names this place; failing to mark it means the policy cannot be enforced. Marks
  // placed only because a rule has no path condition are best effort (a filesystem type that
  // refuses marks is reported and skipped).
  bool required = true;
  std::string rule;  // first rule that asked for it
};

// Which filesystems a deny rule's path condition reaches (the devices of its marks).
struct FanRuleReach {
  size_t rule_index = 0;    // into Policy::rules()
  bool everywhere = false;  // no path condition
  std::vector<std::string> devices;
};

// Marks and reach of the deny rules of one enforcement point.
struct FanMarkPlan {
  std::vector<FanMark> marks;              // no duplicates; no directory inside a marked filesystem
  std::vector<FanRuleReach> reach;         // one per planned deny rule
  std::vector<std::string> known_devices;  // every device of the mount table
  std::vector<std::string> notes;          // rules that were not planned, and why
};

// Canonical path of an existing directory, or nothing (injected so that planning stays pure).
using DirResolver = std::function<std::optional<std::string>(const std::string& path)>;
DirResolver system_dir_resolver();

// A path a condition restricts a field to: an exact path or a prefix of one.
struct PathScope {
  bool exact = false;
  std::string text;
};

// The places a condition restricts its field to; nothing when it does not (suffix, sha256, not,
// ...), so that the rule needs every filesystem.
std::optional<std::vector<PathScope>> path_scopes_of(const policy::Condition& c);
// True when the condition (or one below it) compares a SHA-256.
bool reads_hash(const policy::Condition& c);

class FanMarkPlanner {
 public:
  // `skip_noexec`: filesystems mounted noexec hold no executable (exec rules).
  FanMarkPlanner(const std::vector<MountEntry>& mounts, const DirResolver& resolve_dir,
                 bool skip_noexec);

  // Plans the marks of one deny rule; `path_field` is the field that names the file. A rule
  // without a usable condition on it reaches every filesystem.
  void add_rule(size_t index, const policy::Rule& rule, Field path_field, FanMarkPlan& plan);
  // Fills plan.marks and plan.known_devices.
  void finish(FanMarkPlan& plan);

 private:
  std::string device_of(const std::string& path) const;
  void reached(FanRuleReach& reach, const std::string& device);
  void add_scope(const PathScope& scope, FanRuleReach& reach, const std::string& rule,
                 std::string_view field, FanMarkPlan& plan);
  void add_directory(const std::string& dir, FanRuleReach& reach, const std::string& rule);
  void add_filesystem(const std::string& path, const std::string& device, FanRuleReach& reach,
                      const std::string& rule, bool required);
  void add_filesystem_tree(const std::string& dir, FanRuleReach& reach, const std::string& rule);
  bool skipped(const MountEntry& m) const;

  const std::vector<MountEntry>& mounts_;
  const DirResolver& resolve_dir_;
  bool skip_noexec_;
  std::vector<FanMark> filesystems_;
  std::vector<FanMark> directories_;
};

// Whether a cached allow (an ignore mark, which follows the inode, not the name) holds under
// every name the file could get by a rename or hard link. `content` is the decided event with
// its name fields cleared: each planned deny rule must either exclude the file by content, or
// reach no name on the file's filesystem (`device`, "major:minor").
bool allow_holds_under_any_name(const FanMarkPlan& plan, const policy::Policy& policy,
                                const Event& content, const std::string& device);

}  // namespace ringside
