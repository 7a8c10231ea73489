// Compilation of process.exec rules into the kernel's kill-on-exec table.

#include <gtest/gtest.h>

#include "policy/enforcement.hpp"
#include "policy/kernel_exec_rules.hpp"

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

TEST(KernelExecRules, CompilesInOrderWithAlternatives) {
  auto p = load(R"(rules:
  - {name: ok, on: process.exec, match: {process.name: trusted}, action: allow}
  - name: bad
    on: process.exec
    match:
      process.args: [--evil, --worse]
      process.executable: {prefix: /opt/}
      user.id: {not: 0}
    action: deny
)");
  const auto prog = compile_kernel_exec_rules(*p);
  ASSERT_EQ(prog.rules.size(), 3u);  // allow + two alternatives of the deny
  EXPECT_FALSE(prog.rules[0].kill);
  EXPECT_EQ(prog.rules[0].conditions[0].field, KernelField::kName);
  EXPECT_TRUE(prog.rules[1].kill);
  EXPECT_EQ(prog.rules[1].rule_index, 1u);
  ASSERT_EQ(prog.rules[1].conditions.size(), 3u);
  EXPECT_EQ(prog.rules[1].conditions[0].pattern, "--evil");
  EXPECT_EQ(prog.rules[2].conditions[0].pattern, "--worse");
  EXPECT_EQ(prog.rules[1].conditions[1].op, KernelOp::kPrefix);
  EXPECT_EQ(prog.rules[1].conditions[2].field, KernelField::kUid);
  EXPECT_TRUE(prog.rules[1].conditions[2].negate);
  EXPECT_EQ(prog.rules[1].conditions[2].uid, 0u);
}

TEST(KernelExecRules, UndecidableDenySkippedUndecidableAllowEndsTable) {
  auto p = load(R"(rules:
  - {name: d1, on: process.exec, match: {process.args: {glob: "*x*"}}, action: deny}
  - {name: d2, on: process.exec, match: {process.args: "--kill"}, action: deny}
  - {name: a1, on: process.exec, match: {process.parent.name: sshd}, action: allow}
  - {name: d3, on: process.exec, match: {process.args: "--late"}, action: deny}
)");
  const auto prog = compile_kernel_exec_rules(*p);
  ASSERT_EQ(prog.rules.size(), 1u);
  EXPECT_EQ(prog.rules[0].rule_index, 1u);
  ASSERT_EQ(prog.notes.size(), 2u);
  EXPECT_NE(prog.notes[0].find("d1"), std::string::npos);
  EXPECT_NE(prog.notes[1].find("a1"), std::string::npos);
}

TEST(KernelExecRules, NoDenyMeansNoTable) {
  auto p = load(R"(rules:
  - {name: a, on: process.exec, match: {process.name: x}, action: alert}
  - {name: u, on: process.exec, levels: [user], match: {process.name: y}, action: deny}
)");
  EXPECT_TRUE(compile_kernel_exec_rules(*p).rules.empty());
}

TEST(KernelExecRules, LimitsAreRespected) {
  auto p = load("rules:\n  - {name: long, on: process.exec, match: {process.args: " +
                std::string(200, 'a') + "}, action: deny}\n");
  EXPECT_FALSE(kernel_exec_rule_compilable(p->rules()[0]));
  EXPECT_TRUE(compile_kernel_exec_rules(*p).rules.empty());
}

TEST(Enforcement, ExecPointsDependOnFields) {
  auto p = load(R"(rules:
  - {name: exe, on: process.exec, match: {process.executable: /x}, action: deny}
  - {name: args, on: process.exec, match: {process.args: {glob: "*x*"}}, action: deny}
  - {name: user-only, on: process.exec, levels: [user], action: deny}
)");
  auto names = [](const std::vector<EnforcementPoint>& pts) {
    std::vector<std::string> out;
    for (const auto& pt : pts) out.push_back(pt.mechanism);
    return out;
  };
  EXPECT_EQ(names(enforcement_points(p->rules()[0])),
            (std::vector<std::string>{"fanotify exec permission", "eBPF kill-on-exec",
                                      "BPF-LSM bprm_check_security", "interposer exec hooks"}));
  const auto args = enforcement_points(p->rules()[1]);
  EXPECT_EQ(names(args),
            (std::vector<std::string>{"BPF-LSM bprm_check_security", "agent kill after exec",
                                      "interposer exec hooks"}));
  EXPECT_FALSE(args[1].guaranteed);
  const auto user = enforcement_points(p->rules()[2]);
  ASSERT_EQ(user.size(), 1u);
  EXPECT_FALSE(user[0].guaranteed);
}

}  // namespace
}  // namespace ringside::policy
