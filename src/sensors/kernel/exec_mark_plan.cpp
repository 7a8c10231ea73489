#include "sensors/kernel/exec_mark_plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>

#include "policy/enforcement.hpp"

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

// True when `path` is `dir` or lies below it (whole path components).
bool is_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
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

// A path condition on the executable: an exact path or a prefix of it.
struct PathScope {
  bool exact = false;
  std::string text;
};

// The places a condition restricts the executable to; nothing when it does not (suffix,
// sha256, not, ...), so that the rule needs every filesystem.
std::optional<std::vector<PathScope>> scopes_of(const policy::Condition& c) {
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
        if (auto s = scopes_of(child)) return s;
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

// Fields that describe the executable file itself (or are constant at this point).
bool is_file_field(Field f) {
  return f == Field::kProcessExecutable || f == Field::kProcessName ||
         f == Field::kProcessHashSha256 || f == Field::kRingsideLevel ||
         f == Field::kRingsideSensor;
}

class Planner {
 public:
  Planner(const std::vector<MountEntry>& mounts, const DirResolver& resolve_dir)
      : mounts_(mounts), resolve_dir_(resolve_dir) {}

  void add_scope(const PathScope& scope, const std::string& rule, ExecMarkPlan& plan) {
    if (scope.exact) {
      if (scope.text.empty() || scope.text.front() != '/') {
        plan.notes.push_back("rule '" + rule + "': executable '" + scope.text +
                             "' is not an absolute path and can never match an exec");
        return;
      }
      const std::string parent = parent_dir(scope.text);
      if (auto dir = resolve_dir_(parent)) {
        add_directory(*dir, rule);
      } else {
        add_filesystem_tree(deepest_existing(parent, resolve_dir_), rule);
      }
      return;
    }
    add_filesystem_tree(deepest_existing(prefix_dir(scope.text), resolve_dir_), rule);
  }

  // Subsequent marks are recorded as reached by this rule.
  void begin_rule(ExecRuleReach* reach) { reach_ = reach; }

  void add_every_filesystem(const std::string& rule) {
    reach_->everywhere = true;
    for (size_t i = 0; i < mounts_.size(); ++i) {
      const MountEntry& m = mounts_[i];
      if (is_pseudo_filesystem(m.fs_type) || m.noexec) continue;
      add_filesystem(m.mount_point, m.device, rule, false);
    }
  }

  std::vector<ExecMark> finish() {
    std::vector<ExecMark> out = filesystems_;
    for (const ExecMark& d : directories_) {
      const bool covered =
          std::any_of(filesystems_.begin(), filesystems_.end(),
                      [&](const auto& f) { return !d.device.empty() && f.device == d.device; });
      if (!covered) out.push_back(d);
    }
    return out;
  }

 private:
  std::string device_of(const std::string& path) const {
    auto m = mount_for(path, mounts_);
    return m ? mounts_[*m].device : std::string();
  }

  void reached(const std::string& device) {
    auto& d = reach_->devices;
    if (std::find(d.begin(), d.end(), device) == d.end()) d.push_back(device);
  }

  void add_directory(const std::string& dir, const std::string& rule) {
    reached(device_of(dir));
    for (const auto& d : directories_) {
      if (d.path == dir) return;
    }
    directories_.push_back({ExecMarkKind::kDirectory, dir, device_of(dir), true, rule});
  }

  void add_filesystem(const std::string& path, const std::string& device, const std::string& rule,
                      bool required) {
    reached(device);
    for (auto& f : filesystems_) {
      if (!device.empty() ? f.device == device : f.path == path) {
        f.required = f.required || required;
        return;
      }
    }
    filesystems_.push_back({ExecMarkKind::kFilesystem, path, device, required, rule});
  }

  // The filesystem holding `dir` and every filesystem mounted below it.
  void add_filesystem_tree(const std::string& dir, const std::string& rule) {
    add_filesystem(dir, device_of(dir), rule, true);
    for (const MountEntry& m : mounts_) {
      if (m.mount_point == dir || !is_under(m.mount_point, dir)) continue;
      if (is_pseudo_filesystem(m.fs_type) || m.noexec) continue;
      add_filesystem(m.mount_point, m.device, rule, true);
    }
  }

  const std::vector<MountEntry>& mounts_;
  const DirResolver& resolve_dir_;
  ExecRuleReach* reach_ = nullptr;
  std::vector<ExecMark> filesystems_;
  std::vector<ExecMark> directories_;
};

}  // namespace

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

bool is_pseudo_filesystem(std::string_view fs_type) {
  static constexpr std::array<std::string_view, 21> kPseudo = {
      "proc",   "sysfs",       "cgroup",     "cgroup2", "bpf",        "tracefs",   "debugfs",
      "devpts", "mqueue",      "securityfs", "pstore",  "configfs",   "fusectl",   "hugetlbfs",
      "autofs", "binfmt_misc", "efivarfs",   "nsfs",    "rpc_pipefs", "selinuxfs", "devtmpfs"};
  return std::find(kPseudo.begin(), kPseudo.end(), fs_type) != kPseudo.end();
}

bool is_fanotify_exec_deny_rule(const policy::Rule& rule) {
  if (rule.action != policy::Action::kDeny || !rule.applies_to(EventType::kProcessExec) ||
      !rule.applies_at(Level::kKernel)) {
    return false;
  }
  const auto fields = rule.fields();
  return std::all_of(fields.begin(), fields.end(), policy::known_before_exec);
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

ExecMarkPlan plan_exec_marks(const policy::Policy& policy, const std::vector<MountEntry>& mounts,
                             const DirResolver& resolve_dir) {
  ExecMarkPlan plan;
  plan.cacheable = true;
  Planner planner(mounts, resolve_dir);
  const auto& rules = policy.rules();
  plan.reach.reserve(rules.size());  // stable addresses for the planner
  for (size_t index = 0; index < rules.size(); ++index) {
    const policy::Rule& rule = rules[index];
    if (!rule.applies_to(EventType::kProcessExec) || !rule.applies_at(Level::kKernel)) continue;
    for (const auto& m : rule.match) {
      if (m.field == Field::kProcessHashSha256 ||
          (m.field == Field::kProcessExecutable && reads_hash(m.condition))) {
        plan.needs_hash = true;
      }
      // Fields unknown before exec leave the rule undecided whatever the file: harmless here.
      if (!is_file_field(m.field) && policy::known_before_exec(m.field)) plan.cacheable = false;
    }
    if (rule.action != policy::Action::kDeny) continue;
    if (!is_fanotify_exec_deny_rule(rule)) {
      plan.notes.push_back("rule '" + rule.name +
                           "' reads fields unknown before exec; left to the checks after exec");
      continue;
    }
    plan.reach.push_back({index, false, {}});
    planner.begin_rule(&plan.reach.back());
    std::optional<std::vector<PathScope>> scopes;
    for (const auto& m : rule.match) {
      if (m.field == Field::kProcessExecutable) scopes = scopes_of(m.condition);
    }
    if (!scopes) {
      plan.notes.push_back("rule '" + rule.name +
                           "' has no path condition on process.executable; every filesystem "
                           "is marked");
      planner.add_every_filesystem(rule.name);
      continue;
    }
    for (const PathScope& s : *scopes) planner.add_scope(s, rule.name, plan);
  }
  plan.marks = planner.finish();
  for (const MountEntry& m : mounts) {
    auto& known = plan.known_devices;
    if (std::find(known.begin(), known.end(), m.device) == known.end()) known.push_back(m.device);
  }
  return plan;
}

bool allow_survives_renaming(const ExecMarkPlan& plan, const policy::Policy& policy,
                             const Event& file, const std::string& device) {
  if (!plan.cacheable) return false;
  const auto& known = plan.known_devices;
  const bool known_device = std::find(known.begin(), known.end(), device) != known.end();
  Event content = file;
  content.clear(Field::kProcessExecutable);
  content.clear(Field::kProcessName);
  const auto& rules = policy.rules();
  for (const ExecRuleReach& r : plan.reach) {
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
