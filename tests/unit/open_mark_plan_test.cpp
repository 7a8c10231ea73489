// Where the open sensor marks for each shape of file.open rule, with which events, when an
// allow may be cached and when a decision needs a hash.

#include <sys/fanotify.h>

#include <gtest/gtest.h>

#include <set>

#include "sensors/kernel/open_mark_plan.hpp"

namespace ringside {
namespace {

constexpr const char* kMountinfo =
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "25 27 0:23 / /dev/shm rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n"
    "40 27 0:40 / /srv/secret rw - tmpfs tmpfs rw\n"
    "41 40 0:41 / /srv/secret/sub rw - tmpfs tmpfs rw\n"
    "43 27 0:43 / /opt rw - xfs /dev/vdb rw\n";

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto r = policy::Policy::parse(yaml, "t.yaml", &errors);
  EXPECT_TRUE(r) << (errors.empty() ? "" : errors[0].to_string());
  return r ? *r : nullptr;
}

DirResolver fake_dirs() {
  static const std::set<std::string> dirs = {"/",    "/srv", "/srv/secret", "/srv/secret/sub",
                                             "/opt", "/etc"};
  return [](const std::string& p) -> std::optional<std::string> {
    if (dirs.count(p) != 0) return p;
    return std::nullopt;
  };
}

OpenMarkPlan plan_for(const policy::Policy& pol) {
  return plan_open_marks(pol, parse_mountinfo(kMountinfo), fake_dirs());
}

std::string describe(const OpenMarkPlan& plan) {
  std::string out;
  for (const auto& m : plan.marks) {
    out += (m.kind == FanMarkKind::kDirectory ? "dir " : "fs ") + m.path + " [" + m.device +
           (m.required ? "" : ", best effort") + "]\n";
  }
  return out;
}

Event open_event(const std::string& path, const std::string& hash = {}) {
  Event ev(EventType::kFileOpen, 1);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kFilePath, path);
  if (!hash.empty()) ev.set(Field::kFileHashSha256, hash);
  return ev;
}

TEST(OpenMarkPlan, NoFileOpenDenyRuleMarksNothing) {
  auto pol = load(R"(rules:
  - {name: a, on: file.open, match: {file.path: {prefix: /srv/}}, action: alert}
  - {name: u, on: file.open, levels: [user], match: {file.path: /etc/shadow}, action: deny}
  - {name: x, on: process.exec, match: {process.executable: /opt/x}, action: deny}
)");
  const auto plan = plan_for(*pol);
  EXPECT_TRUE(plan.marks.empty()) << describe(plan);
  EXPECT_EQ(plan.mask, 0u);
}

TEST(OpenMarkPlan, ExactPathMarksItsParentForOpenOnly) {
  auto pol = load(R"(rules:
  - {name: shadow, on: file.open, match: {file.path: /etc/shadow}, action: deny}
)");
  const auto plan = plan_for(*pol);
  EXPECT_EQ(describe(plan), "dir /etc [254:0]\n");
  EXPECT_EQ(plan.mask, static_cast<uint64_t>(FAN_OPEN_PERM));
  EXPECT_TRUE(plan.cacheable);
  EXPECT_FALSE(plan.needs_hash);
  EXPECT_FALSE(plan.reads_process);
}

TEST(OpenMarkPlan, PrefixAndGlobMarkTheFilesystemsBelowTheirLiteralPart) {
  auto pol = load(R"(rules:
  - {name: p, on: file.open, match: {file.path: {prefix: /srv/secret/}}, action: deny}
  - {name: g, on: file.open, match: {file.path: {glob: "/opt/*/key*"}}, action: deny}
)");
  EXPECT_EQ(describe(plan_for(*pol)),
            "fs /srv/secret [0:40]\n"
            "fs /srv/secret/sub [0:41]\n"
            "fs /opt [0:43]\n");
}

TEST(OpenMarkPlan, RuleWithoutPathMarksEveryRealFilesystemNoexecIncluded) {
  auto pol = load(R"(rules:
  - {name: nc-reads, on: file.open, match: {process.executable: /usr/bin/nc}, action: deny}
)");
  const auto plan = plan_for(*pol);
  // Files on a noexec mount can still be opened; /proc is skipped.
  EXPECT_EQ(describe(plan),
            "fs / [254:0, best effort]\n"
            "fs /dev/shm [0:23, best effort]\n"
            "fs /srv/secret [0:40, best effort]\n"
            "fs /srv/secret/sub [0:41, best effort]\n"
            "fs /opt [0:43, best effort]\n");
  EXPECT_TRUE(plan.reads_process);
  EXPECT_FALSE(plan.cacheable);  // the same file is allowed to others
  ASSERT_EQ(plan.reach.size(), 1u);
  EXPECT_TRUE(plan.reach[0].everywhere);
}

TEST(OpenMarkPlan, ContentRuleAlsoAsksForReads) {
  auto pol = load(R"(rules:
  - name: c
    on: file.open
    match: {file.path: {prefix: /srv/secret/, sha256: )" +
                  kHashA + R"(}}
    action: deny
)");
  const auto plan = plan_for(*pol);
  EXPECT_EQ(plan.mask, static_cast<uint64_t>(FAN_OPEN_PERM | FAN_ACCESS_PERM));
  EXPECT_TRUE(plan.needs_hash);
  EXPECT_TRUE(plan.hash_by_path_only);
  EXPECT_TRUE(plan.cacheable);
  EXPECT_EQ(plan.hash_rules.size(), 1u);
}

TEST(OpenMarkPlan, ProcessRuleRecordsWhatTheDecisionReads) {
  auto pol = load(R"(rules:
  - name: p
    on: file.open
    match:
      file.path: {prefix: /srv/secret/}
      process.name: sshd
      ringside.file.flags: O_WRONLY
    action: deny
)");
  const auto plan = plan_for(*pol);
  EXPECT_TRUE(plan.reads_process);
  EXPECT_TRUE(plan.reads_flags);
  EXPECT_FALSE(plan.cacheable);
  EXPECT_EQ(plan.mask, static_cast<uint64_t>(FAN_OPEN_PERM));
}

TEST(OpenMarkPlan, RuleReadingTheTypedPathIsLeftToOtherSensors) {
  auto pol = load(R"(rules:
  - name: typed
    on: file.open
    match: {ringside.file.requested_path: {prefix: ../}}
    action: deny
)");
  const auto plan = plan_for(*pol);
  EXPECT_TRUE(plan.marks.empty()) << describe(plan);
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_NE(plan.notes[0].find("typed"), std::string::npos);
}

TEST(OpenMarkPlan, HashMattersOnlyWhereAHashRuleCouldMatch) {
  auto pol = load(R"(rules:
  - {name: path, on: file.open, match: {file.path: /etc/shadow}, action: deny}
  - name: content
    on: file.open
    match: {file.path: {prefix: /srv/secret/, sha256: )" +
                  kHashA + R"(}}
    action: deny
)");
  const auto plan = plan_for(*pol);
  EXPECT_TRUE(hash_could_matter(plan, open_event("/srv/secret/x")));
  EXPECT_FALSE(hash_could_matter(plan, open_event("/etc/shadow")));
  EXPECT_FALSE(hash_could_matter(plan, open_event("/opt/x")));
  auto no_hash =
      load("rules:\n  - {name: p, on: file.open, match: {file.path: /etc/x}, action: deny}\n");
  EXPECT_FALSE(hash_could_matter(plan_for(*no_hash), open_event("/etc/x")));
}

TEST(OpenMarkPlanCache, ContentExclusionSurvivesAnyName) {
  auto pol = load(R"(rules:
  - name: content
    on: file.open
    match: {file.path: {prefix: /srv/secret/, sha256: )" +
                  kHashA + R"(}}
    action: deny
)");
  const auto plan = plan_for(*pol);
  EXPECT_TRUE(
      open_allow_survives_renaming(plan, *pol, open_event("/srv/secret/ok", kHashB), "0:40"));
  // Without its hash the file could be the denied content under a denied name.
  EXPECT_FALSE(open_allow_survives_renaming(plan, *pol, open_event("/opt/x"), "0:40"));
}

TEST(OpenMarkPlanCache, PathRuleBlocksCachingOnItsFilesystemOnly) {
  auto pol = load(R"(rules:
  - {name: shadow, on: file.open, match: {file.path: /etc/shadow}, action: deny}
)");
  const auto plan = plan_for(*pol);
  // /etc/passwd could be renamed or linked to /etc/shadow and keep its ignore mark.
  EXPECT_FALSE(open_allow_survives_renaming(plan, *pol, open_event("/etc/passwd"), "254:0"));
  EXPECT_TRUE(open_allow_survives_renaming(plan, *pol, open_event("/opt/x"), "0:43"));
  EXPECT_FALSE(open_allow_survives_renaming(plan, *pol, open_event("/mnt/x"), "7:7"));
}

}  // namespace
}  // namespace ringside
