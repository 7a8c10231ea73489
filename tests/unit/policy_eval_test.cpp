// Policy evaluation: first match, levels, operators, list fields, three-valued logic.

#include <gtest/gtest.h>

#include "policy/cidr.hpp"
#include "policy/glob.hpp"
#include "policy/policy.hpp"

namespace ringside::policy {
namespace {

std::shared_ptr<const Policy> load(const std::string& yaml) {
  std::vector<ParseError> errors;
  auto r = Policy::parse(yaml, "t.yaml", &errors);
  if (!r) {
    ADD_FAILURE() << errors.at(0).to_string();
    return nullptr;
  }
  return *r;
}

Event exec(std::string_view exe, std::vector<std::string> args = {}, Level level = Level::kKernel) {
  Event ev(EventType::kProcessExec, 0);
  ev.set_origin(level, "test");
  ev.set(Field::kProcessExecutable, exe);
  if (!args.empty()) ev.set(Field::kProcessArgs, args);
  ev.set(Field::kUserId, int64_t{1000});
  return ev;
}

std::string rule_of(const Decision& d) { return d.rule ? d.rule->name : "-"; }

TEST(Glob, Semantics) {
  auto g = [](const char* p) { return *Glob::compile(p); };
  EXPECT_TRUE(g("/opt/*/forbidden*").matches("/opt/x/forbidden-bin"));
  EXPECT_FALSE(g("/opt/*/forbidden*").matches("/opt/x/y/forbidden"));  // * stops at '/'
  EXPECT_TRUE(g("/opt/**/forbidden").matches("/opt/x/y/forbidden"));
  EXPECT_TRUE(g("/opt/**").matches("/opt/"));
  EXPECT_TRUE(g("a?c").matches("abc"));
  EXPECT_FALSE(g("a?c").matches("a/c"));
  EXPECT_TRUE(g("[a-c]x").matches("bx"));
  EXPECT_FALSE(g("[!a-c]x").matches("bx"));
  EXPECT_TRUE(g("\\*").matches("*"));
  EXPECT_FALSE(g("\\*").matches("x"));
  EXPECT_TRUE(g("").matches(""));
  EXPECT_EQ(g("/usr/bin/*sh").literal_prefix(), "/usr/bin/");
  EXPECT_TRUE(g("/bin/ls").is_literal());
  // Many stars cannot blow up: this finishes instantly.
  EXPECT_FALSE(g("*a*a*a*a*a*a*a*a*a*a*b").matches(std::string(5000, 'a')));
  EXPECT_FALSE(Glob::compile("[abc"));
  EXPECT_FALSE(Glob::compile("[z-a]"));
  EXPECT_FALSE(Glob::compile("x\\"));
}

TEST(Cidr, V4V6AndMapped) {
  auto c = *Cidr::parse("10.0.0.0/8");
  EXPECT_TRUE(c.contains("10.1.2.3"));
  EXPECT_FALSE(c.contains("11.0.0.1"));
  EXPECT_TRUE(c.contains("::ffff:10.9.9.9"));  // mapped form of an IPv4 address
  EXPECT_FALSE(c.contains("::1"));
  EXPECT_FALSE(c.contains("not an ip"));
  auto v6 = *Cidr::parse("2001:db8::/32");
  EXPECT_TRUE(v6.contains("2001:db8:1::5"));
  EXPECT_FALSE(v6.contains("2001:db9::1"));
  auto host = *Cidr::parse("192.168.1.7");
  EXPECT_EQ(host.prefix_length(), 32);
  EXPECT_TRUE(host.contains("192.168.1.7"));
  EXPECT_FALSE(host.contains("192.168.1.8"));
  auto mapped = *Cidr::parse("::ffff:192.168.0.0/112");
  EXPECT_TRUE(mapped.contains("192.168.44.1"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/-1"));
  EXPECT_EQ(IpAddress::parse("::ffff:1.2.3.4")->to_string(), "1.2.3.4");
}

TEST(PolicyEval, FirstMatchWinsAndDefaultIsAllow) {
  auto p = load(R"(rules:
  - {name: allow-ok, on: process.exec, match: {process.executable: /opt/app/ok}, action: allow}
  - {name: deny-app, on: process.exec, match: {process.executable: {prefix: /opt/app/}}, action: deny}
  - {name: alert-all, on: process.exec, action: alert}
)");
  EXPECT_EQ(rule_of(p->evaluate(exec("/opt/app/ok"), Level::kKernel)), "allow-ok");
  const auto d = p->evaluate(exec("/opt/app/bad"), Level::kKernel);
  EXPECT_EQ(d.verdict, Verdict::kDeny);
  EXPECT_EQ(rule_of(d), "deny-app");
  EXPECT_EQ(p->evaluate(exec("/bin/ls"), Level::kKernel).verdict, Verdict::kAlert);
  Event fork(EventType::kProcessFork, 0);
  const auto none = p->evaluate(fork, Level::kKernel);
  EXPECT_EQ(none.verdict, Verdict::kAllow);
  EXPECT_EQ(none.rule, nullptr);
}

TEST(PolicyEval, LevelsRestrictRules) {
  auto p = load(R"(rules:
  - {name: k, on: process.exec, levels: [kernel], match: {process.name: x}, action: deny}
  - {name: u, on: process.exec, levels: user, match: {process.name: y}, action: deny}
)");
  Event x = exec("/bin/x");
  x.set(Field::kProcessName, "x");
  Event y = exec("/bin/y");
  y.set(Field::kProcessName, "y");
  EXPECT_EQ(p->evaluate(x, Level::kKernel).verdict, Verdict::kDeny);
  EXPECT_EQ(p->evaluate(x, Level::kUser).verdict, Verdict::kAllow);
  EXPECT_EQ(p->evaluate(y, Level::kKernel).verdict, Verdict::kAllow);
  EXPECT_EQ(p->evaluate(y, Level::kUser).verdict, Verdict::kDeny);
}

TEST(PolicyEval, ListFieldsMatchAnyElementAndNotNegatesTheWhole) {
  auto p = load(R"(rules:
  - {name: evil, on: process.exec, match: {process.args: {prefix: "--evil"}}, action: deny}
  - {name: no-safe, on: process.exec, match: {process.args: {not: safe}}, action: alert}
)");
  EXPECT_EQ(rule_of(p->evaluate(exec("/bin/a", {"a", "x", "--evil=1"}), Level::kKernel)), "evil");
  EXPECT_EQ(rule_of(p->evaluate(exec("/bin/a", {"a", "safe"}), Level::kKernel)), "-");
  EXPECT_EQ(rule_of(p->evaluate(exec("/bin/a", {"a", "b"}), Level::kKernel)), "no-safe");
}

TEST(PolicyEval, UnknownFieldsDeferOrSkip) {
  auto p = load(R"(rules:
  - {name: deny-args, on: process.exec, match: {process.args: "--bad"}, action: deny}
  - {name: deny-exe, on: process.exec, match: {process.executable: /bin/x}, action: deny}
)");
  // No argv (as at a fanotify exec check): the argv rule is skipped, the exe rule decides.
  const auto d = p->evaluate(exec("/bin/x"), Level::kKernel);
  EXPECT_EQ(rule_of(d), "deny-exe");
  EXPECT_FALSE(d.deferred);

  auto q = load(R"(rules:
  - {name: allow-safe, on: process.exec, match: {process.args: "--safe"}, action: allow}
  - {name: deny-exe, on: process.exec, match: {process.executable: /bin/x}, action: deny}
)");
  // An allow rule that cannot be decided may be an exception: stop and defer.
  const auto e = q->evaluate(exec("/bin/x"), Level::kKernel);
  EXPECT_TRUE(e.deferred);
  EXPECT_EQ(e.verdict, Verdict::kAllow);
  // With argv known the deny applies.
  EXPECT_EQ(rule_of(q->evaluate(exec("/bin/x", {"x"}), Level::kKernel)), "deny-exe");
}

TEST(PolicyEval, Sha256UsesEventFieldOrEnvironment) {
  const std::string h(64, 'a');
  auto p =
      load("rules:\n  - {name: h, on: process.exec, match: {process.executable: {sha256: " + h +
           "}}, action: deny}\n");
  Event ev = exec("/bin/x");
  int calls = 0;
  EvalEnv env{[&](std::string_view path) -> std::optional<std::string> {
    ++calls;
    return path == "/bin/x" ? std::optional<std::string>(h) : std::nullopt;
  }};
  EXPECT_EQ(p->evaluate(ev, Level::kKernel, env).verdict, Verdict::kDeny);
  EXPECT_EQ(calls, 1);
  ev.set(Field::kProcessHashSha256, std::string(64, 'b'));
  EXPECT_EQ(p->evaluate(ev, Level::kKernel, env).verdict, Verdict::kAllow);
  EXPECT_EQ(calls, 1);  // the event's own hash is used first
  // No hash available: unknown, so the deny does not apply.
  EXPECT_EQ(p->evaluate(exec("/bin/y"), Level::kKernel).verdict, Verdict::kAllow);
}

TEST(PolicyEval, IntsIpsAndCidr) {
  auto p = load(R"(rules:
  - {name: port, on: network.connect, match: {destination.port: [22, 9999]}, action: deny}
  - {name: net, on: network.connect, match: {destination.ip: {cidr: 10.0.0.0/8}}, action: alert}
  - {name: exact, on: network.connect, match: {destination.ip: "::ffff:1.2.3.4"}, action: alert}
)");
  Event c(EventType::kNetworkConnect, 0);
  c.set(Field::kDestinationPort, int64_t{9999});
  c.set(Field::kDestinationIp, "8.8.8.8");
  EXPECT_EQ(rule_of(p->evaluate(c, Level::kKernel)), "port");
  c.set(Field::kDestinationPort, int64_t{80});
  c.set(Field::kDestinationIp, "::ffff:10.1.1.1");
  EXPECT_EQ(rule_of(p->evaluate(c, Level::kKernel)), "net");
  c.set(Field::kDestinationIp, "1.2.3.4");
  EXPECT_EQ(rule_of(p->evaluate(c, Level::kKernel)), "exact");
}

TEST(PolicyEval, HasRulesFor) {
  auto p = load(R"(rules:
  - {name: u, on: process.exec, levels: [user], action: deny}
  - {name: a, on: file.open, action: alert}
)");
  EXPECT_TRUE(p->has_rules_for(EventType::kProcessExec, Level::kUser, Action::kDeny));
  EXPECT_FALSE(p->has_rules_for(EventType::kProcessExec, Level::kKernel, Action::kDeny));
  EXPECT_FALSE(p->has_rules_for(EventType::kFileOpen, Level::kKernel, Action::kDeny));
  EXPECT_TRUE(p->has_rules_for(EventType::kFileOpen, Level::kKernel, Action::kAlert));
}

}  // namespace
}  // namespace ringside::policy
