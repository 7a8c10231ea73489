#include "sensors/kernel/fanotify_marks.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ringside {

namespace {

std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto octal = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool has_option(std::string_view options, std::string_view name) {
  size_t start = 0;
  while (start <= options.size()) {
    const size_t comma = options.find(',', start);
    const std::string_view opt = options.substr(start, comma - start);
    if (opt == name) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// Index of the mount holding `path` (longest mount point; the later of stacked mounts).
std::optional<size_t> mount_for(const std::string& path, const std::vector<MountEntry>& mounts) {
  std::optional<size_t> best;
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (!is_under(path, mounts[i].mount_point)) continue;
    if (!best || mounts[i].mount_point.size() >= mounts[*best].mount_point.size()) best = i;
  }
  return best;
}

// The directory part of a path prefix: "/opt/x/" -> "/opt/x", "/opt/fo" -> "/opt". One that is
// not absolute (a glob starting with a wildcard) may match anywhere: "/".
std::string prefix_dir(const std::string& prefix) {
  if (prefix.empty() || prefix.front() != '/') return "/";
  const size_t slash = prefix.rfind('/');
  return slash == 0 ? std::string("/") : prefix.substr(0, slash);
}

std::string deepest_existing(std::string dir, const DirResolver& resolve_dir) {
  while (true) {
    if (auto d = resolve_dir(dir)) return *d;
    if (dir == "/") return "/";
    dir = parent_dir(dir);
  }
}

}  // namespace

bool is_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const auto fields = split_spaces(text.substr(start, end - start));
    start = end + 1;
    // id parent major:minor root mount-point options [optional...] - type source super-options
    const auto sep = std::find(fields.begin(), fields.end(), std::string_view("-"));
    if (fields.size() < 6 || sep == fields.end() || sep + 1 == fields.end() ||
        sep - fields.begin() < 6) {
      continue;
    }
    MountEntry m;
    m.device = std::string(fields[2]);
    m.mount_point = unescape_mountinfo(fields[4]);
    m.noexec = has_option(fields[5], "noexec");
    m.fs_type = std::string(*(sep + 1));
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<MountEntry> read_mountinfo(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_mountinfo(text.str());
}

bool is_pseudo_filesystem(std::string_view fs_type) {
  static constexpr std::array<std::string_view, 21> kPseudo = {
      "proc",   "sysfs",       "cgroup",     "cgroup2", "bpf",        "tracefs",   "debugfs",
      "devpts", "mqueue",      "securityfs", "pstore",  "configfs",   "fusectl",   "hugetlbfs",
      "autofs", "binfmt_misc", "efivarfs",   "nsfs",    "rpc_pipefs", "selinuxfs", "devtmpfs"};
  return std::find(kPseudo.begin(), kPseudo.end(), fs_type) != kPseudo.end();
}

DirResolver system_dir_resolver() {
  return [](const std::string& path) -> std::optional<std::string> {
    char buf[PATH_MAX];
    if (realpath(path.c_str(), buf) == nullptr) return std::nullopt;
    struct stat st {};
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    return std::string(buf);
  };
}

std::optional<std::vector<PathScope>> path_scopes_of(const policy::Condition& c) {
  using policy::Op;
  std::vector<PathScope> out;
  switch (c.op) {
    case Op::kEquals:
    case Op::kIn:
      for (const auto& s : c.strings) out.push_back({true, s});
      break;
    case Op::kPrefix:
      for (const auto& s : c.strings) out.push_back({false, s});
      break;
    case Op::kGlob:
      for (const auto& g : c.globs) {
        out.push_back(g.is_literal() ? PathScope{true, g.literal_prefix()}
                                     : PathScope{false, g.literal_prefix()});
      }
      break;
    case Op::kAll:
      // All children must hold: any one that restricts the path restricts the rule.
      for (const auto& child : c.children) {
        if (auto s = path_scopes_of(child)) return s;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool reads_hash(const policy::Condition& c) {
  if (c.op == policy::Op::kSha256) return true;
  return std::any_of(c.children.begin(), c.children.end(), reads_hash);
}

FanMarkPlanner::FanMarkPlanner(const std::vector<MountEntry>& mounts,
                               const DirResolver& resolve_dir, bool skip_noexec)
    : mounts_(mounts), resolve_dir_(resolve_dir), skip_noexec_(skip_noexec) {}

bool FanMarkPlanner::skipped(const MountEntry& m) const {
  return is_pseudo_filesystem(m.fs_type) || (skip_noexec_ && m.noexec);
}

void FanMarkPlanner::add_rule(size_t index, const policy::Rule& rule, Field path_field,
                              FanMarkPlan& plan) {
  plan.reach.push_back({index, false, {}});
  FanRuleReach& reach = plan.reach.back();
  std::optional<std::vector<PathScope>> scopes;
  for (const auto& m : rule.match) {
    if (m.field == path_field) scopes = path_scopes_of(m.condition);
  }
  const std::string_view field = schema::kFieldInfo[schema::field_index(path_field)].name;
  if (!scopes) {
    plan.notes.push_back("rule '" + rule.name + "' has no path condition on " + std::string(field) +
                         "; every filesystem is marked");
    reach.everywhere = true;
    for (const MountEntry& m : mounts_) {
      if (!skipped(m)) add_filesystem(m.mount_point, m.device, reach, rule.name, false);
    }
    return;
  }
  for (const PathScope& s : *scopes) add_scope(s, reach, rule.name, field, plan);
}

void FanMarkPlanner::add_scope(const PathScope& scope, FanRuleReach& reach, const std::string& rule,
                               std::string_view field, FanMarkPlan& plan) {
  if (!scope.exact) {
    add_filesystem_tree(deepest_existing(prefix_dir(scope.text), resolve_dir_), reach, rule);
    return;
  }
  if (scope.text.empty() || scope.text.front() != '/') {
    plan.notes.push_back("rule '" + rule + "': " + std::string(field) + " '" + scope.text +
                         "' is not an absolute path and can never match");
    return;
  }
  const std::string parent = parent_dir(scope.text);
  if (auto dir = resolve_dir_(parent)) {
    add_directory(*dir, reach, rule);
  } else {
    add_filesystem_tree(deepest_existing(parent, resolve_dir_), reach, rule);
  }
}

void FanMarkPlanner::finish(FanMarkPlan& plan) {
  plan.marks = filesystems_;
  for (const FanMark& d : directories_) {
    const bool covered = std::any_of(filesystems_.begin(), filesystems_.end(), [&](const auto& f) {
      return !d.device.empty() && f.device == d.device;
    });
    if (!covered) plan.marks.push_back(d);
  }
  for (const MountEntry& m : mounts_) {
    auto& known = plan.known_devices;
    if (std::find(known.begin(), known.end(), m.device) == known.end()) known.push_back(m.device);
  }
}

std::string FanMarkPlanner::device_of(const std::string& path) const {
  auto m = mount_for(path, mounts_);
  return m ? mounts_[*m].device : std::string();
}

void FanMarkPlanner::reached(FanRuleReach& reach, const std::string& device) {
  auto& d = reach.devices;
  if (std::find(d.begin(), d.end(), device) == d.end()) d.push_back(device);
}

void FanMarkPlanner::add_directory(const std::string& dir, FanRuleReach& reach,
                                   const std::string& rule) {
  reached(reach, device_of(dir));
  for (const auto& d : directories_) {
    if (d.path == dir) return;
  }
  directories_.push_back({FanMarkKind::kDirectory, dir, device_of(dir), true, rule});
}

void FanMarkPlanner::add_filesystem(const std::string& path, const std::string& device,
                                    FanRuleReach& reach, const std::string& rule, bool required) {
  reached(reach, device);
  for (auto& f : filesystems_) {
    if (!device.empty() ? f.device == device : f.path == path) {
      f.required = f.required || required;
      return;
    }
  }
  filesystems_.push_back({FanMarkKind::kFilesystem, path, device, required, rule});
}

// The filesystem holding `dir` and every filesystem mounted below it.
void FanMarkPlanner::add_filesystem_tree(const std::string& dir, FanRuleReach& reach,
                                         const std::string& rule) {
  add_filesystem(dir, device_of(dir), reach, rule, true);
  for (const MountEntry& m : mounts_) {
    if (m.mount_point == dir || !is_under(m.mount_point, dir) || skipped(m)) continue;
    add_filesystem(m.mount_point, m.device, reach, rule, true);
  }
}

bool allow_holds_under_any_name(const FanMarkPlan& plan, const policy::Policy& policy,
                                const Event& content, const std::string& device) {
  const auto& known = plan.known_devices;
  const bool known_device = std::find(known.begin(), known.end(), device) != known.end();
  const auto& rules = policy.rules();
  for (const FanRuleReach& r : plan.reach) {
    const policy::Rule& rule = rules.at(r.rule_index);
    const bool excluded = std::any_of(rule.match.begin(), rule.match.end(), [&](const auto& m) {
      return policy::evaluate_condition(m.condition, content, m.field, {}) == policy::Tri::kFalse;
    });
    if (excluded) continue;
    // A device the mount table does not know (a btrfs subvolume, a mount made after planning)
    // cannot be shown to lie outside the rule's reach.
    if (r.everywhere || !known_device ||
        std::find(r.devices.begin(), r.devices.end(), device) != r.devices.end()) {
      return false;
    }
  }
  return true;
}

}  // namespace ringside
