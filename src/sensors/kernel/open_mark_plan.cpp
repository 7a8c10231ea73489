#include "sensors/kernel/open_mark_plan.hpp"

#include <sys/fanotify.h>

#include <algorithm>

#include "policy/enforcement.hpp"

namespace ringside {

namespace {

// Fields of the file being opened (or constant at this point): what a cacheable rule reads.
bool is_file_field(Field f) {
  return f == Field::kFilePath || f == Field::kFileHashSha256 || f == Field::kFileInode ||
         f == Field::kRingsideLevel || f == Field::kRingsideSensor;
}

bool is_process_field(Field f) {
  return policy::known_before_exec(f) && f != Field::kRingsideLevel && f != Field::kRingsideSensor;
}

bool is_hash_field(Field f) {
  return f == Field::kFileHashSha256 || f == Field::kProcessHashSha256;
}

// The evaluator finds these hashes on the event (or computes the file's through the event
// descriptor first); any other field under sha256 would make it hash that path itself.
bool hash_from_event(Field f) {
  return f == Field::kFilePath || f == Field::kProcessExecutable || is_hash_field(f);
}

bool rule_reads_hash(const policy::Rule& rule) {
  return std::any_of(rule.match.begin(), rule.match.end(), [](const policy::FieldMatch& m) {
    return is_hash_field(m.field) || reads_hash(m.condition);
  });
}

}  // namespace

bool known_at_open(Field f) {
  return is_file_field(f) || is_process_field(f) || f == Field::kRingsideFileFlags;
}

bool is_fanotify_open_deny_rule(const policy::Rule& rule) {
  if (rule.action != policy::Action::kDeny || !rule.applies_to(EventType::kFileOpen) ||
      !rule.applies_at(Level::kKernel)) {
    return false;
  }
  const auto fields = rule.fields();
  return std::all_of(fields.begin(), fields.end(), known_at_open);
}

OpenMarkPlan plan_open_marks(const policy::Policy& policy, const std::vector<MountEntry>& mounts,
                             const DirResolver& resolve_dir) {
  OpenMarkPlan plan;
  plan.cacheable = true;
  bool content_deny = false;
  FanMarkPlanner planner(mounts, resolve_dir, /*skip_noexec=*/false);
  const auto& rules = policy.rules();
  for (size_t index = 0; index < rules.size(); ++index) {
    const policy::Rule& rule = rules[index];
    if (!rule.applies_to(EventType::kFileOpen) || !rule.applies_at(Level::kKernel)) continue;
    const bool hashing = rule_reads_hash(rule);
    for (const auto& m : rule.match) {
      // Fields unknown here leave the rule undecided whatever the file: harmless for caching.
      if (!is_file_field(m.field) && known_at_open(m.field)) plan.cacheable = false;
      if (is_process_field(m.field)) plan.reads_process = true;
      if (m.field == Field::kRingsideFileFlags) plan.reads_flags = true;
      if (m.field == Field::kProcessHashSha256 ||
          (m.field == Field::kProcessExecutable && reads_hash(m.condition))) {
        plan.reads_process_hash = true;
      }
      if (reads_hash(m.condition) && !hash_from_event(m.field)) plan.hash_by_path_only = false;
    }
    if (hashing) {
      plan.needs_hash = true;
      plan.hash_rules.push_back(rule);
    }
    if (rule.action != policy::Action::kDeny) continue;
    if (!is_fanotify_open_deny_rule(rule)) {
      plan.notes.push_back("rule '" + rule.name +
                           "' reads fields the open permission point does not know (the path as "
                           "typed, arguments, ...); left to the other file sensors");
      continue;
    }
    if (hashing) content_deny = true;
    planner.add_rule(index, rule, Field::kFilePath, plan);
  }
  planner.finish(plan);
  if (!plan.marks.empty()) plan.mask = FAN_OPEN_PERM | (content_deny ? FAN_ACCESS_PERM : 0U);
  return plan;
}

bool hash_could_matter(const OpenMarkPlan& plan, const Event& bare) {
  if (!plan.needs_hash) return false;
  if (!plan.hash_by_path_only) return true;
  for (const policy::Rule& rule : plan.hash_rules) {
    // Without an environment the evaluator never computes a hash: a hash it lacks is unknown,
    // and only a condition that fails on what the event already holds excludes the rule.
    const bool excluded = std::any_of(rule.match.begin(), rule.match.end(), [&](const auto& m) {
      return policy::evaluate_condition(m.condition, bare, m.field, {}) == policy::Tri::kFalse;
    });
    if (!excluded) return true;
  }
  return false;
}

bool open_allow_survives_renaming(const OpenMarkPlan& plan, const policy::Policy& policy,
                                  const Event& file, const std::string& device) {
  if (!plan.cacheable) return false;
  Event content = file;
  content.clear(Field::kFilePath);
  content.clear(Field::kRingsideFileRequestedPath);
  return allow_holds_under_any_name(plan, policy, content, device);
}

}  // namespace ringside
