#include "sensors/kernel/file_scope_plan.hpp"

#include <cstring>

#include "sensors/kernel/bpf/file_abi.h"

namespace ringside {

namespace {

struct Bound {
  std::string text;
  bool exact;  // a whole path (equals, in, a glob without wildcards), not a string prefix
};

// The paths or prefixes a condition restricts file.path to; nothing when it does not (suffix,
// sha256, not, a glob starting with a wildcard).
std::optional<std::vector<Bound>> bounds_of(const policy::Condition& c) {
  using policy::Op;
  std::vector<Bound> out;
  switch (c.op) {
    case Op::kEquals:
    case Op::kIn:
      for (const auto& s : c.strings) out.push_back({s, true});
      break;
    case Op::kPrefix:
      for (const auto& s : c.strings) out.push_back({s, false});
      break;
    case Op::kGlob:
      for (const auto& g : c.globs) out.push_back({g.literal_prefix(), g.is_literal()});
      break;
    case Op::kAll:  // every child must hold: one that bounds the path bounds the rule
      for (const auto& child : c.children) {
        if (auto b = bounds_of(child)) return b;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
  for (const Bound& b : out) {
    if (b.text.empty() || b.text == "/") return std::nullopt;  // bounds nothing
  }
  if (out.empty()) return std::nullopt;
  return out;
}

rs_rec_file_scope entry(uint8_t kind) {
  rs_rec_file_scope e{};
  e.type = RS_REC_FILE_SCOPE;
  e.size = sizeof e;
  e.kind = kind;
  return e;
}

// Adds a prefix entry; false when the table is full. `boundary`: the path must continue with
// '/' or end after the prefix (a directory or a whole path, not a string prefix).
bool add_prefix(FileScopePlan& plan, uint8_t kind, std::string_view text, bool boundary) {
  if (plan.table.size() >= RS_FILE_SCOPES + 1) return false;
  rs_rec_file_scope e = entry(kind);
  size_t n = text.size();
  if (n > RS_FILE_PREFIX_MAX - 1) {
    n = RS_FILE_PREFIX_MAX - 1;
    boundary = false;
  }
  std::memcpy(e.prefix, text.data(), n);
  e.prefix_len = static_cast<uint16_t>(n);
  if (!boundary) e.scope_flags |= RS_SCOPE_F_PARTIAL;
  plan.table.push_back(e);
  return true;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

FileScopePlan plan_file_scopes(const policy::Policy& policy,
                               const file_records::RealPath& realpath) {
  FileScopePlan plan;
  const policy::FileSettings& fs = policy.settings().file;
  plan.table.push_back(entry(RS_SCOPE_HEADER));
  uint8_t flags = 0;
  switch (fs.opens) {
    case policy::OpenReporting::kAll:
      flags |= RS_SCOPE_OPENS_ALL;
      break;
    case policy::OpenReporting::kWrites:
      flags |= RS_SCOPE_OPENS_WRITES;
      break;
    case policy::OpenReporting::kNone:
      flags |= RS_SCOPE_OPENS_NONE;
      break;
  }

  for (const policy::WatchScope& w : fs.watch) {
    plan.watch.push_back(w);
    if (auto canonical = realpath(w.path); canonical && *canonical != w.path) {
      policy::WatchScope c = w;
      c.path = *canonical;
      plan.watch.push_back(c);
    }
  }
  for (const auto& w : plan.watch) {
    if (w.path == "/" && w.mark != policy::MarkKind::kDirectory) plan.watch_all = true;
  }
  bool watch_everything = plan.watch_all;
  for (size_t i = 0; i < plan.watch.size() && !watch_everything; ++i) {
    if (!add_prefix(plan, RS_SCOPE_WATCH, plan.watch[i].path, plan.watch[i].path != "/")) {
      watch_everything = true;
      plan.notes.push_back("more than " + std::to_string(RS_FILE_SCOPES) +
                           " watched paths: the kernel passes every open, the agent filters");
    }
  }
  if (watch_everything) {
    flags |= RS_SCOPE_WATCH_ALL;
    plan.table.resize(1);
  }

  for (const policy::Rule& rule : policy.rules()) {
    if (!rule.applies_to(EventType::kFileOpen) || !rule.applies_at(Level::kKernel)) continue;
    // A deny rule on opens is the fanotify open sensor's: it blocks and reports them.
    if (rule.action != policy::Action::kAlert) continue;
    plan.open_rules = true;
    std::optional<std::vector<Bound>> bounds;
    for (const auto& m : rule.match) {
      if (m.field == Field::kFilePath && (bounds = bounds_of(m.condition))) break;
    }
    if (!bounds) {
      plan.open_rules_unbounded = true;
      plan.notes.push_back("rule '" + rule.name +
                           "' has no file.path prefix: every open is evaluated");
      continue;
    }
    for (const Bound& b : *bounds) {
      if (b.text.front() != '/') continue;  // a relative prefix never matches a resolved path
      if (!add_prefix(plan, RS_SCOPE_RULE, b.text, b.exact)) {
        plan.open_rules_unbounded = true;
        plan.notes.push_back("too many prefixes: every open is evaluated");
        break;
      }
    }
  }
  if (plan.open_rules) flags |= RS_SCOPE_RULE_OPENS;
  if (plan.open_rules_unbounded) flags |= RS_SCOPE_RULE_ALL;
  plan.table[0].scope_flags = flags;
  plan.table[0].prefix_len = static_cast<uint16_t>(plan.table.size() - 1);
  return plan;
}

bool in_watch_scope(const FileScopePlan& plan, std::string_view path) {
  if (plan.watch_all) return true;
  for (const policy::WatchScope& w : plan.watch) {
    if (path == w.path) return true;
    if (w.mark == policy::MarkKind::kDirectory) {
      const size_t slash = path.rfind('/');
      if (slash != std::string_view::npos &&
          path.substr(0, slash == 0 ? 1 : slash) == std::string_view(w.path) &&
          slash + 1 < path.size()) {
        return true;
      }
    } else if (w.path == "/" || (starts_with(path, w.path) && path.size() > w.path.size() &&
                                 path[w.path.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool has_file_rules(const policy::Policy& policy, EventType type) {
  return policy.has_rules_for(type, Level::kKernel, policy::Action::kDeny) ||
         policy.has_rules_for(type, Level::kKernel, policy::Action::kAlert);
}

}  // namespace ringside
