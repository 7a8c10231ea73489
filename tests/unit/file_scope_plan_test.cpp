// What the eBPF file sensor filters in the kernel and in the agent, planned from the policy:
// the scope table's header and prefixes, rule prefixes, and the exact scope check.

#include "sensors/kernel/file_scope_plan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sensors/kernel/bpf/file_abi.h"

namespace ringside {
namespace {

std::shared_ptr<const policy::Policy> parse(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "t.yaml", &errors);
  EXPECT_TRUE(p) << (errors.empty() ? p.error().message : errors[0].to_string());
  return p ? *p : nullptr;
}

file_records::RealPath no_links() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::string prefix_of(const rs_rec_file_scope& e) {
  return std::string(reinterpret_cast<const char*>(e.prefix), e.prefix_len);
}

FileScopePlan plan(const std::string& yaml, const file_records::RealPath& realpath = no_links()) {
  auto p = parse(yaml);
  return p ? plan_file_scopes(*p, realpath) : FileScopePlan{};
}

TEST(FileScopePlan, DefaultsWatchEverythingAndReportWrites) {
  const FileScopePlan p = plan("rules: []\n");
  ASSERT_EQ(p.table.size(), 1u);
  EXPECT_EQ(p.table[0].kind, RS_SCOPE_HEADER);
  EXPECT_EQ(p.table[0].type, RS_REC_FILE_SCOPE);
  EXPECT_EQ(p.table[0].scope_flags, RS_SCOPE_OPENS_WRITES | RS_SCOPE_WATCH_ALL);
  EXPECT_EQ(p.table[0].prefix_len, 0);
  EXPECT_TRUE(p.watch_all);
  EXPECT_FALSE(p.open_rules);
  EXPECT_TRUE(in_watch_scope(p, "/anything/at/all"));
}

TEST(FileScopePlan, WatchedPathsBecomePrefixes) {
  const std::string long_dir = "/" + std::string(300, 'd');
  const FileScopePlan p = plan("settings:\n  file:\n    opens: all\n    watch: [/srv/data, " +
                               long_dir + ", {path: /home/ann, mark: directory}]\nrules: []\n");
  ASSERT_EQ(p.table.size(), 4u);
  EXPECT_EQ(p.table[0].scope_flags, RS_SCOPE_OPENS_ALL);
  EXPECT_EQ(p.table[0].prefix_len, 3);
  EXPECT_EQ(p.table[1].kind, RS_SCOPE_WATCH);
  EXPECT_EQ(prefix_of(p.table[1]), "/srv/data");
  EXPECT_EQ(p.table[1].scope_flags, 0);  // a directory: the boundary is checked
  // Longer than the kernel compares: the first 255 bytes, no boundary; the agent checks.
  EXPECT_EQ(p.table[2].prefix_len, RS_FILE_PREFIX_MAX - 1);
  EXPECT_EQ(p.table[2].scope_flags, RS_SCOPE_F_PARTIAL);
  EXPECT_EQ(prefix_of(p.table[3]), "/home/ann");
  EXPECT_FALSE(p.watch_all);

  EXPECT_TRUE(in_watch_scope(p, "/srv/data"));
  EXPECT_TRUE(in_watch_scope(p, "/srv/data/a/b"));
  EXPECT_FALSE(in_watch_scope(p, "/srv/database"));
  EXPECT_FALSE(in_watch_scope(p, "/srv"));
  EXPECT_TRUE(in_watch_scope(p, long_dir + "/f"));
  EXPECT_FALSE(in_watch_scope(p, long_dir + "x/f"));
  // A directory mark sees its direct children only.
  EXPECT_TRUE(in_watch_scope(p, "/home/ann/notes"));
  EXPECT_FALSE(in_watch_scope(p, "/home/ann/sub/notes"));
  EXPECT_FALSE(in_watch_scope(p, "/home/annex"));
}

TEST(FileScopePlan, OpensNoneAndSymlinkedWatch) {
  const FileScopePlan p =
      plan("settings:\n  file:\n    opens: none\n    watch: [/w/link]\nrules: []\n",
           [](const std::string& path) -> std::optional<std::string> {
             if (path == "/w/link") return std::string("/real/dir");
             return std::nullopt;
           });
  EXPECT_EQ(p.table[0].scope_flags & RS_SCOPE_OPENS_MASK, RS_SCOPE_OPENS_NONE);
  ASSERT_EQ(p.table.size(), 3u);
  EXPECT_EQ(prefix_of(p.table[1]), "/w/link");
  EXPECT_EQ(prefix_of(p.table[2]), "/real/dir");  // where the symlink leads is watched too
  EXPECT_TRUE(in_watch_scope(p, "/real/dir/f"));
}

TEST(FileScopePlan, TooManyWatchedPathsWatchEverythingInTheKernel) {
  std::string watch;
  for (int i = 0; i < RS_FILE_SCOPES + 1; ++i) watch += "/d" + std::to_string(i) + ", ";
  const FileScopePlan p = plan("settings:\n  file:\n    watch: [" + watch + "]\nrules: []\n");
  ASSERT_EQ(p.table.size(), 1u);
  EXPECT_TRUE(p.table[0].scope_flags & RS_SCOPE_WATCH_ALL);
  EXPECT_FALSE(p.watch_all);  // the agent still checks exactly
  EXPECT_TRUE(in_watch_scope(p, "/d7/x"));
  EXPECT_FALSE(in_watch_scope(p, "/elsewhere"));
  EXPECT_FALSE(p.notes.empty());
}

TEST(FileScopePlan, OpenRulesAreCandidatesByTheirPathPrefix) {
  const FileScopePlan p = plan(R"(settings:
  file:
    opens: none
    watch: [/w]
rules:
  - name: secret-prefix
    on: file.open
    match:
      file.path: {prefix: /srv/sec}
    action: alert
  - name: exact
    on: [file.open]
    match:
      file.path: /etc/shadow
    action: alert
  - name: globbed
    on: file.open
    match:
      file.path: {glob: "/opt/*/key"}
    action: alert
  - name: denied-by-fanotify
    on: file.open
    match:
      file.hash.sha256: {sha256: "0000000000000000000000000000000000000000000000000000000000000000"}
    action: deny
  - name: allowed-only
    on: file.open
    match:
      process.executable: /bin/x
    action: allow
  - name: user-only
    on: file.open
    levels: [user]
    action: deny
)");
  EXPECT_TRUE(p.open_rules);
  EXPECT_FALSE(p.open_rules_unbounded);
  EXPECT_EQ(p.table[0].scope_flags, RS_SCOPE_OPENS_NONE | RS_SCOPE_RULE_OPENS);
  ASSERT_EQ(p.table.size(), 5u);
  EXPECT_EQ(p.table[1].kind, RS_SCOPE_WATCH);
  EXPECT_EQ(p.table[2].kind, RS_SCOPE_RULE);
  EXPECT_EQ(prefix_of(p.table[2]), "/srv/sec");
  EXPECT_EQ(p.table[2].scope_flags, RS_SCOPE_F_PARTIAL);  // a string prefix: /srv/secret too
  EXPECT_EQ(prefix_of(p.table[3]), "/etc/shadow");
  EXPECT_EQ(p.table[3].scope_flags, 0);
  EXPECT_EQ(prefix_of(p.table[4]), "/opt/");
  EXPECT_EQ(p.table[4].scope_flags, RS_SCOPE_F_PARTIAL);
}

TEST(FileScopePlan, AnOpenRuleWithoutAPathPrefixMakesEveryOpenACandidate) {
  const FileScopePlan p = plan(R"(rules:
  - name: by-process
    on: file.open
    match:
      process.executable: /usr/bin/evil
    action: alert
  - name: by-suffix
    on: file.open
    match:
      file.path: {suffix: .key}
    action: alert
)");
  EXPECT_TRUE(p.open_rules_unbounded);
  EXPECT_EQ(p.table[0].scope_flags & (RS_SCOPE_RULE_OPENS | RS_SCOPE_RULE_ALL),
            RS_SCOPE_RULE_OPENS | RS_SCOPE_RULE_ALL);
  EXPECT_EQ(p.notes.size(), 2u);
}

TEST(FileScopePlan, FileRulesPerEventType) {
  auto pol = parse(R"(rules:
  - name: no-delete
    on: file.delete
    action: alert
  - name: user-rename
    on: file.rename
    levels: [user]
    action: deny
)");
  ASSERT_TRUE(pol);
  EXPECT_TRUE(has_file_rules(*pol, EventType::kFileDelete));
  EXPECT_FALSE(has_file_rules(*pol, EventType::kFileRename));
  EXPECT_FALSE(has_file_rules(*pol, EventType::kFileOpen));
}

}  // namespace
}  // namespace ringside
