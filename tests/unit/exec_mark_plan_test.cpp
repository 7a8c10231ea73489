// Where the exec sensor marks, for each shape of rule, and when an allow may be cached.

#include <sys/fanotify.h>

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sensors/kernel/exec_mark_plan.hpp"

namespace ringside {
namespace {

constexpr const char* kMountinfo =
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw\n"
    "25 24 0:23 / /dev/shm rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n"
    "42 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs nodev rw\n"
    "40 27 0:40 / /srv/scratch rw shared:5 master:1 - tmpfs tmpfs rw\n"
    "41 40 0:41 / /srv/scratch/sub rw - tmpfs tmpfs rw\n"
    "44 40 0:44 / /srv/scratch/cg rw - cgroup2 cgroup2 rw\n"
    "43 27 0:43 / /opt rw - xfs /dev/vdb rw\n"
    "45 27 254:0 /home /mnt/home\\040dir rw - ext4 /dev/vda rw\n";

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto r = policy::Policy::parse(yaml, "t.yaml", &errors);
  EXPECT_TRUE(r) << (errors.empty() ? "" : errors[0].to_string());
  return r ? *r : nullptr;
}

// Directories that exist, and symlinks between them.
DirResolver fake_dirs() {
  static const std::set<std::string> dirs = {
      "/",    "/srv", "/srv/scratch", "/srv/scratch/bin", "/srv/scratch/sub",
      "/opt", "/usr", "/usr/bin",     "/mnt/home dir"};
  static const std::map<std::string, std::string> links = {{"/bin", "/usr/bin"}};
  return [](const std::string& p) -> std::optional<std::string> {
    if (auto it = links.find(p); it != links.end()) return it->second;
    if (dirs.count(p) != 0) return p;
    return std::nullopt;
  };
}

ExecMarkPlan plan_for(const std::string& yaml) {
  auto pol = load(yaml);
  if (!pol) return {};
  return plan_exec_marks(*pol, parse_mountinfo(kMountinfo), fake_dirs());
}

std::string describe(const ExecMarkPlan& plan) {
  std::string out;
  for (const auto& m : plan.marks) {
    out += (m.kind == ExecMarkKind::kDirectory ? "dir " : "fs ") + m.path + " [" + m.device +
           (m.required ? "" : ", best effort") + "]\n";
  }
  return out;
}

TEST(ExecMarkPlanMountinfo, ParsesEscapesOptionsAndOptionalFields) {
  const auto mounts = parse_mountinfo(kMountinfo);
  ASSERT_EQ(mounts.size(), 11u);
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[0].device, "254:0");
  EXPECT_EQ(mounts[0].fs_type, "ext4");
  EXPECT_TRUE(mounts[4].noexec);
  EXPECT_FALSE(mounts[0].noexec);
  EXPECT_EQ(mounts[6].fs_type, "tmpfs");  // after two optional fields
  EXPECT_EQ(mounts[10].mount_point, "/mnt/home dir");
  EXPECT_TRUE(parse_mountinfo("garbage line\n\n").empty());
}

TEST(ExecMarkPlanMountinfo, KnowsPseudoFilesystems) {
  EXPECT_TRUE(is_pseudo_filesystem("proc"));
  EXPECT_TRUE(is_pseudo_filesystem("cgroup2"));
  EXPECT_TRUE(is_pseudo_filesystem("tracefs"));
  EXPECT_FALSE(is_pseudo_filesystem("tmpfs"));
  EXPECT_FALSE(is_pseudo_filesystem("ext4"));
}

TEST(ExecMarkPlan, NoDenyRuleMarksNothing) {
  const auto plan = plan_for(R"(rules:
  - {name: watch, on: process.exec, match: {process.executable: {prefix: /srv/}}, action: alert}
  - {name: ok, on: process.exec, match: {process.name: sh}, action: allow}
  - {name: user-only, on: process.exec, levels: [user], match: {process.name: nc}, action: deny}
)");
  EXPECT_TRUE(plan.marks.empty()) << describe(plan);
  EXPECT_TRUE(plan.reach.empty());
}

TEST(ExecMarkPlan, ExactPathMarksItsParentDirectory) {
  const auto plan = plan_for(R"(rules:
  - {name: one, on: process.exec, match: {process.executable: /srv/scratch/bin/evil}, action: deny}
  - name: two
    on: process.exec
    match: {process.executable: {in: [/srv/scratch/bin/a, /opt/b]}}
    action: deny
)");
  EXPECT_EQ(describe(plan),
            "dir /srv/scratch/bin [0:40]\n"
            "dir /opt [0:43]\n");
  EXPECT_TRUE(plan.cacheable);
  EXPECT_FALSE(plan.needs_hash);
  ASSERT_EQ(plan.reach.size(), 2u);
  EXPECT_EQ(plan.reach[1].devices, (std::vector<std::string>{"0:40", "0:43"}));
}

TEST(ExecMarkPlan, ExactPathThroughASymlinkMarksTheRealDirectory) {
  const auto plan = plan_for(R"(rules:
  - {name: nc, on: process.exec, match: {process.executable: /bin/nc}, action: deny}
)");
  EXPECT_EQ(describe(plan), "dir /usr/bin [254:0]\n");
}

TEST(ExecMarkPlan, MissingDirectoryFallsBackToItsFilesystem) {
  const auto plan = plan_for(R"(rules:
  - {name: later, on: process.exec, match: {process.executable: /srv/scratch/new/x}, action: deny}
)");
  // /srv/scratch/new does not exist yet; it could be created on /srv/scratch's filesystem.
  // /srv/scratch/sub is a separate filesystem below it; the cgroup2 mount is not a place to
  // execute from.
  EXPECT_EQ(describe(plan),
            "fs /srv/scratch [0:40]\n"
            "fs /srv/scratch/sub [0:41]\n");
}

TEST(ExecMarkPlan, PrefixMarksTheFilesystemsBelowIt) {
  const auto plan = plan_for(R"(rules:
  - {name: scratch, on: process.exec, match: {process.executable: {prefix: /srv/scratch/}}, action: deny}
  - {name: opt, on: process.exec, match: {process.executable: {prefix: /opt/fo}}, action: deny}
)");
  EXPECT_EQ(describe(plan),
            "fs /srv/scratch [0:40]\n"
            "fs /srv/scratch/sub [0:41]\n"
            "fs /opt [0:43]\n");
  for (const auto& m : plan.marks) EXPECT_TRUE(m.required);
}

TEST(ExecMarkPlan, GlobUsesItsLiteralPrefixAndLiteralGlobIsExact) {
  const auto plan = plan_for(R"(rules:
  - {name: g, on: process.exec, match: {process.executable: {glob: "/opt/*/forbidden*"}}, action: deny}
  - {name: lit, on: process.exec, match: {process.executable: {glob: /usr/bin/nc}}, action: deny}
  - {name: any, on: process.exec, match: {process.executable: {glob: "**/evil"}}, action: deny}
)");
  // "**/evil" may match anywhere: the filesystem of / and every real one mounted below it.
  EXPECT_EQ(describe(plan),
            "fs /opt [0:43]\n"
            "fs / [254:0]\n"
            "fs /srv/scratch [0:40]\n"
            "fs /srv/scratch/sub [0:41]\n");
}

TEST(ExecMarkPlan, RuleWithoutPathConditionMarksEveryRealFilesystem) {
  const auto plan = plan_for(R"(rules:
  - name: bad-hash
    on: process.exec
    match: {process.hash.sha256: {sha256: 0000000000000000000000000000000000000000000000000000000000000000}}
    action: deny
)");
  // Pseudo filesystems, the noexec /dev/shm and the bind mount of / (same device) are left out.
  EXPECT_EQ(describe(plan),
            "fs / [254:0, best effort]\n"
            "fs /srv/scratch [0:40, best effort]\n"
            "fs /srv/scratch/sub [0:41, best effort]\n"
            "fs /opt [0:43, best effort]\n");
  EXPECT_TRUE(plan.cacheable);
  EXPECT_TRUE(plan.needs_hash);
  ASSERT_EQ(plan.reach.size(), 1u);
  EXPECT_TRUE(plan.reach[0].everywhere);
  EXPECT_FALSE(plan.notes.empty());
}

TEST(ExecMarkPlan, ParentRuleMarksEverythingAndCannotBeCached) {
  const auto plan = plan_for(R"(rules:
  - {name: p, on: process.exec, match: {process.parent.name: evil-parent}, action: deny}
)");
  EXPECT_EQ(plan.marks.size(), 4u) << describe(plan);
  EXPECT_FALSE(plan.cacheable);
}

TEST(ExecMarkPlan, SuffixOrNotNeedsEveryFilesystem) {
  const auto plan = plan_for(R"(rules:
  - {name: s, on: process.exec, match: {process.executable: {suffix: /evil}}, action: deny}
)");
  EXPECT_EQ(plan.marks.size(), 4u) << describe(plan);
  const auto plan2 = plan_for(R"(rules:
  - {name: n, on: process.exec, match: {process.executable: {not: {prefix: /usr/}}}, action: deny}
)");
  EXPECT_EQ(plan2.marks.size(), 4u) << describe(plan2);
}

TEST(ExecMarkPlan, PathAndHashTogetherMarksThePathOnly) {
  const auto plan = plan_for(R"(rules:
  - name: both
    on: process.exec
    match:
      process.executable:
        prefix: /opt/
        sha256: 0000000000000000000000000000000000000000000000000000000000000000
    action: deny
)");
  EXPECT_EQ(describe(plan), "fs /opt [0:43]\n");
  EXPECT_TRUE(plan.needs_hash);
}

TEST(ExecMarkPlan, RuleNeedingArgsIsLeftToLaterPoints) {
  const auto plan = plan_for(R"(rules:
  - name: args
    on: process.exec
    match: {process.executable: /srv/scratch/bin/x, process.args: --evil}
    action: deny
)");
  EXPECT_TRUE(plan.marks.empty()) << describe(plan);
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_NE(plan.notes[0].find("args"), std::string::npos);
  EXPECT_TRUE(plan.cacheable);  // args are unknown here whatever the file
}

TEST(ExecMarkPlan, DirectoryInsideMarkedFilesystemIsDropped) {
  const auto plan = plan_for(R"(rules:
  - {name: d, on: process.exec, match: {process.executable: /srv/scratch/bin/x}, action: deny}
  - {name: p, on: process.exec, match: {process.executable: {prefix: /srv/scratch/}}, action: deny}
)");
  EXPECT_EQ(describe(plan),
            "fs /srv/scratch [0:40]\n"
            "fs /srv/scratch/sub [0:41]\n");
}

TEST(ExecMarkPlan, RelativeExactPathNeverMatches) {
  const auto plan = plan_for(R"(rules:
  - {name: r, on: process.exec, match: {process.executable: evil}, action: deny}
)");
  EXPECT_TRUE(plan.marks.empty());
  ASSERT_EQ(plan.notes.size(), 1u);
}

Event file_event(const std::string& path, const std::string& hash) {
  Event ev(EventType::kProcessExec, 1);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessExecutable, path);
  ev.set(Field::kProcessName, path.substr(path.rfind('/') + 1));
  ev.set(Field::kProcessHashSha256, hash);
  return ev;
}

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

TEST(ExecMarkPlanCache, ContentRuleThatExcludesTheFileAllowsCaching) {
  auto pol = load(R"(rules:
  - name: both
    on: process.exec
    match:
      process.executable:
        prefix: /srv/scratch/
        sha256: )" +
                  kHashA + R"(
    action: deny
)");
  const auto plan = plan_exec_marks(*pol, parse_mountinfo(kMountinfo), fake_dirs());
  EXPECT_TRUE(allow_survives_renaming(plan, *pol, file_event("/srv/scratch/ok", kHashB), "0:40"));
  // The same content could be denied under another name.
  EXPECT_FALSE(allow_survives_renaming(plan, *pol, file_event("/srv/ok", kHashA), "0:40"));
}

TEST(ExecMarkPlanCache, PathRuleBlocksCachingOnItsFilesystemOnly) {
  auto pol = load(R"(rules:
  - {name: d, on: process.exec, match: {process.executable: /srv/scratch/bin/evil}, action: deny}
)");
  const auto plan = plan_exec_marks(*pol, parse_mountinfo(kMountinfo), fake_dirs());
  // A file there could be renamed or linked to /srv/scratch/bin/evil.
  EXPECT_FALSE(
      allow_survives_renaming(plan, *pol, file_event("/srv/scratch/bin/ok", kHashB), "0:40"));
  // A file on /opt can never get a name on /srv/scratch.
  EXPECT_TRUE(allow_survives_renaming(plan, *pol, file_event("/opt/ok", kHashB), "0:43"));
  // A device the mount table does not know cannot be shown to be out of reach.
  EXPECT_FALSE(allow_survives_renaming(plan, *pol, file_event("/x/ok", kHashB), "9:99"));
}

TEST(ExecMarkPlanCache, NothingIsCachedWhenDecisionsDependOnTheCaller) {
  auto pol = load(R"(rules:
  - name: p
    on: process.exec
    match: {process.executable: /srv/scratch/bin/evil, process.parent.name: sh}
    action: deny
)");
  const auto plan = plan_exec_marks(*pol, parse_mountinfo(kMountinfo), fake_dirs());
  EXPECT_FALSE(plan.cacheable);
  EXPECT_FALSE(allow_survives_renaming(plan, *pol, file_event("/opt/ok", kHashB), "0:43"));
}

}  // namespace
}  // namespace ringside
