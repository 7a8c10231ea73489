// Policy parsing: the contract's example parses; every kind of mistake is reported at the
// file:line:column where it is.

#include <gtest/gtest.h>

#include "policy/policy.hpp"

namespace ringside::policy {
namespace {

struct Parsed {
  std::shared_ptr<const Policy> policy;
  std::vector<ParseError> errors;
};

Parsed parse(const std::string& yaml) {
  Parsed p;
  auto r = Policy::parse(yaml, "p.yaml", &p.errors);
  if (r) p.policy = *r;
  return p;
}

// The first error, as `ringside policy check` prints it.
std::string first_error(const std::string& yaml) {
  auto p = parse(yaml);
  EXPECT_EQ(p.policy, nullptr) << "expected an error for:\n" << yaml;
  return p.errors.empty() ? "" : p.errors.front().to_string();
}

TEST(PolicyParser, DesignExampleParses) {
  auto p = parse(R"(rules:
  - name: no-forbidden-exec
    on: process.exec
    match:
      process.executable: {glob: "/opt/*/forbidden*"}
    action: deny
  - name: protect-secrets
    on: [file.open]
    match:
      file.path: {prefix: "/srv/secret/"}
    action: deny
  - name: no-port-9999
    on: network.connect
    match:
      destination.port: 9999
    action: deny
)");
  ASSERT_NE(p.policy, nullptr) << (p.errors.empty() ? "" : p.errors[0].to_string());
  const auto& rules = p.policy->rules();
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].name, "no-forbidden-exec");
  EXPECT_EQ(rules[0].action, Action::kDeny);
  EXPECT_EQ(rules[0].on, std::vector<EventType>{EventType::kProcessExec});
  EXPECT_EQ(rules[0].match[0].condition.op, Op::kGlob);
  EXPECT_EQ(rules[1].match[0].condition.op, Op::kPrefix);
  EXPECT_EQ(rules[2].match[0].condition.ints, std::vector<int64_t>{9999});
  EXPECT_EQ(rules[0].levels, kLevelAll);
}

TEST(PolicyParser, EveryOperatorAndSetting) {
  auto p = parse(R"(version: 1
settings:
  fail_mode: closed
  decision_deadline_ms: 50
  hash_max_bytes: 1000
rules:
  - name: all-ops
    description: every operator once
    on: [process.exec]
    levels: [user]
    match:
      process.executable: {prefix: /opt/, suffix: [.sh, .py], not: {glob: "/opt/ok/**"}}
      process.name: [a, b]
      user.id: {in: [0, 1000]}
      process.hash.sha256: {sha256: "AB00000000000000000000000000000000000000000000000000000000000000"}
    action: alert
  - name: cidr
    on: network.connect
    match:
      destination.ip: {cidr: [10.0.0.0/8, "::ffff:192.168.0.0/112"]}
    action: redirect
    redirect: 127.0.0.1:8080
  - name: any-file
    on: file.*
    action: alert
)");
  ASSERT_NE(p.policy, nullptr) << (p.errors.empty() ? "" : p.errors[0].to_string());
  const auto& s = p.policy->settings();
  EXPECT_EQ(s.fail_mode, FailMode::kClosed);
  EXPECT_EQ(s.decision_deadline_ms, 50);
  EXPECT_EQ(s.hash_max_bytes, 1000);
  const Rule& r = p.policy->rules()[0];
  EXPECT_EQ(r.levels, kLevelUser);
  EXPECT_EQ(r.match[0].condition.op, Op::kAll);
  EXPECT_EQ(r.match[0].condition.children.size(), 3u);
  EXPECT_EQ(r.match[1].condition.op, Op::kIn);
  EXPECT_EQ(r.match[3].condition.strings[0].substr(0, 2), "ab");  // lower-cased
  EXPECT_EQ(p.policy->rules()[1].redirect->port, 8080);
  EXPECT_EQ(p.policy->rules()[2].on.size(), 7u);  // every file action
}

TEST(PolicyParser, SyntaxErrorHasPosition) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: [process.exec\n"),
            "p.yaml:4:1: YAML syntax error: end of sequence flow not found");
}

TEST(PolicyParser, UnknownField) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      process.colour: red\n    action: deny\n"),
            "p.yaml:5:7: unknown field 'process.colour' (see docs/events.md)");
}

TEST(PolicyParser, FieldNotOnEventType) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      file.path: /etc/passwd\n    action: deny\n"),
            "p.yaml:5:7: field 'file.path' never appears on process.exec");
}

TEST(PolicyParser, UnknownOperator) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      process.name: {regex: \"a.*\"}\n    action: deny\n"),
            "p.yaml:5:22: unknown operator 'regex' (expected equals, prefix, suffix, glob, in, "
            "cidr, sha256, not)");
}

TEST(PolicyParser, BadGlobPointsAtTheBracket) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      process.executable: {glob: \"/a/[bc\"}\n    action: deny\n"),
            "p.yaml:5:38: bad glob '/a/[bc': '[' at character 4 is never closed");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      process.executable: {glob: /a/b\\}\n    action: deny\n"),
            "p.yaml:5:38: bad glob '/a/b\\': trailing backslash escapes nothing");
}

TEST(PolicyParser, WrongTypes) {
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: network.connect\n    match:\n"
                        "      destination.port: eighty\n    action: deny\n"),
            "p.yaml:5:25: field 'destination.port' is an integer, found 'eighty'");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: network.connect\n    match:\n"
                        "      destination.ip: {prefix: \"10.\"}\n    action: deny\n"),
            "p.yaml:5:24: operator 'prefix' needs a text field; 'destination.ip' is an IP "
            "address (use cidr)");
  EXPECT_EQ(first_error("rules: {name: x}\n"),
            "p.yaml:1:8: 'rules' must be a list, found a mapping");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    action: [deny]\n"),
            "p.yaml:4:13: action must be deny, alert, allow or redirect, found a list");
  EXPECT_EQ(first_error("settings:\n  fail_mode: sideways\nrules: []\n"),
            "p.yaml:2:14: fail_mode must be 'open' or 'closed', found 'sideways'");
}

TEST(PolicyParser, StructuralMistakes) {
  EXPECT_EQ(first_error("rulez: []\n"),
            "p.yaml:1:1: unknown top-level key 'rulez' (expected version, settings, rules)");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.teleport\n    action: alert\n"),
            "p.yaml:3:9: unknown event 'process.teleport' (expected category.action, e.g. "
            "process.exec, file.open, network.connect)");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    action: alert\n"
                        "  - name: x\n    on: process.exec\n    action: alert\n"),
            "p.yaml:5:11: rule name 'x' is used twice; names must be unique");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exit\n    action: deny\n"),
            "p.yaml:2:5: rule 'x': a process.exit cannot be denied (use alert, or deny "
            "process.exec)");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    action: alert\n"
                        "    colour: red\n"),
            "p.yaml:5:5: unknown rule key 'colour' (expected name, description, on, match, "
            "action, levels, redirect)");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    action: alert\n"
                        "    action: deny\n"),
            "p.yaml:5:5: duplicate key 'action'");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: network.connect\n    action: redirect\n"
                        "    redirect: localhost\n"),
            "p.yaml:5:15: redirect must be HOST:PORT, found 'localhost'");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: process.exec\n    match:\n"
                        "      process.executable: {sha256: abc}\n    action: deny\n"),
            "p.yaml:5:36: sha256 must be 64 hexadecimal characters, found 'abc'");
  EXPECT_EQ(first_error("rules:\n  - name: x\n    on: network.connect\n    match:\n"
                        "      destination.ip: {cidr: 10.0.0.0/33}\n    action: deny\n"),
            "p.yaml:5:30: '10.0.0.0/33': prefix length must be 0..32");
}

TEST(PolicyParser, ReportsEveryErrorInOrder) {
  auto p = parse(
      "rules:\n  - name: a\n    on: process.exec\n    match:\n      nope: 1\n"
      "    action: deny\n  - name: b\n    on: process.exec\n    action: maybe\n");
  ASSERT_EQ(p.errors.size(), 2u);
  EXPECT_EQ(p.errors[0].pos.line, 5);
  EXPECT_EQ(p.errors[1].pos.line, 9);
}

TEST(PolicyParser, MissingFileIsAnError) {
  std::vector<ParseError> errors;
  auto r = Policy::load_file("/nonexistent/policy.yaml", &errors);
  EXPECT_FALSE(r);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace ringside::policy

namespace ringside::policy {
namespace {

TEST(PolicyParser, FileSettings) {
  std::vector<ParseError> errors;
  auto p = Policy::parse(R"(settings:
  file:
    opens: all
    watch:
      - /etc/
      - {path: /srv, mark: mount}
      - {path: /home/ann, mark: directory}
rules: []
)",
                         "p.yaml", &errors);
  ASSERT_TRUE(p) << errors.at(0).to_string();
  const FileSettings& f = (*p)->settings().file;
  EXPECT_EQ(f.opens, OpenReporting::kAll);
  ASSERT_EQ(f.watch.size(), 3u);
  EXPECT_EQ(f.watch[0].path, "/etc");
  EXPECT_EQ(f.watch[0].mark, MarkKind::kFilesystem);
  EXPECT_EQ(f.watch[1].mark, MarkKind::kMount);
  EXPECT_EQ(f.watch[2].mark, MarkKind::kDirectory);
  auto defaults = Policy::parse("rules: []\n", "p.yaml", nullptr);
  ASSERT_TRUE(defaults);
  EXPECT_EQ((*defaults)->settings().file.opens, OpenReporting::kWrites);
  ASSERT_EQ((*defaults)->settings().file.watch.size(), 1u);
  EXPECT_EQ((*defaults)->settings().file.watch[0].path, "/");

  errors.clear();
  EXPECT_FALSE(
      Policy::parse("settings:\n  file:\n    watch: [etc]\nrules: []\n", "p.yaml", &errors));
  EXPECT_EQ(errors.at(0).to_string(), "p.yaml:3:13: a watched path must be absolute, found 'etc'");
  errors.clear();
  EXPECT_FALSE(Policy::parse("settings:\n  file:\n    watch: [{path: /x, mark: tree}]\nrules: []\n",
                             "p.yaml", &errors));
  EXPECT_EQ(errors.at(0).to_string(),
            "p.yaml:3:30: mark must be filesystem, mount or directory, found 'tree'");
}

}  // namespace
}  // namespace ringside::policy
