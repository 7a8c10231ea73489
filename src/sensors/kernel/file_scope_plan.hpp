// What the eBPF file sensor reports, derived from the policy: the scope table its BPF program
// filters opens with (rs_rec_file_scope entries), and the exact checks the agent applies to
// every record.
//
// Where each filter runs:
//   - kernel, at sys_enter: the agent's own process; opens by flags (`settings.file.opens`:
//     all | writes | none), unless a file.open rule could match them;
//   - kernel, at sys_exit of a successful open: the opened file's path against the watched
//     prefixes and the prefixes file.open rules name (a superset: prefixes are compared up to
//     RS_FILE_PREFIX_MAX - 1 bytes, policy `prefix`/`glob` conditions without a boundary);
//   - agent: everything else. Operations the kernel cannot resolve completely (unlink,
//     rename, ..., failed opens) are resolved here and filtered on the result; `directory`
//     watch scopes (direct children only) and long prefixes are checked exactly here too.
// An operation outside every watched scope is still evaluated when a rule could match it, and
// reported only when a deny or alert rule did. For opens, only alert rules widen what the
// kernel passes: deny rules on opens are enforced, and reported, by the fanotify open sensor
// (open_fanotify.hpp), and widening for them would put every open of a content (sha256) rule
// through the ring.
#pragma once

#include <ringside/records.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"
#include "sensors/kernel/file_records.hpp"

namespace ringside {

struct FileScopePlan {
  // Entry 0 is the header; entries 1.. the prefixes (at most RS_FILE_SCOPES).
  std::vector<rs_rec_file_scope> table;
  // The watched scopes with their canonical paths (a watched path that is a symlink is watched
  // where it leads, too), for the exact check.
  std::vector<policy::WatchScope> watch;
  bool watch_all = false;  // a watch on "/" with filesystem or mount marks
  // file.open alert rules (kernel level) exist, and whether a path prefix bounds them all
  // (else every open is a candidate).
  bool open_rules = false;
  bool open_rules_unbounded = false;
  std::vector<std::string> notes;  // what was widened, and why
};

// `realpath` canonicalises watched paths (injected so that planning stays pure).
FileScopePlan plan_file_scopes(const policy::Policy& policy,
                               const file_records::RealPath& realpath);

// The exact scope check on a resolved path.
bool in_watch_scope(const FileScopePlan& plan, std::string_view path);

// True when a deny or alert rule for `type` applies at kernel level (so that a record outside
// every scope is still evaluated).
bool has_file_rules(const policy::Policy& policy, EventType type);

}  // namespace ringside
