// Encoding of compile_kernel_exec_rules() output into the BPF kill-on-exec table entries.

#include "sensors/kernel/kexec_table.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sensors/kernel/bpf/process_abi.h"

namespace ringside {
namespace {

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto r = policy::Policy::parse(yaml, "t.yaml", &errors);
  if (!r) {
    ADD_FAILURE() << (errors.empty() ? r.error().message : errors.at(0).to_string());
    return nullptr;
  }
  return *r;
}

std::string pattern_of(const rs_rec_kexec_entry& e) {
  return std::string(reinterpret_cast<const char*>(e.pattern), e.pattern_len);
}

TEST(KexecTable, LaysOutRulesAsSlotsOfFourConditions) {
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
  ASSERT_TRUE(p);
  const auto prog = policy::compile_kernel_exec_rules(*p);
  const KexecTable t = encode_kexec_table(prog, 7);
  ASSERT_EQ(t.entries.size(), static_cast<size_t>(RS_KEXEC_ENTRIES));
  ASSERT_EQ(t.rules, 3u);

  const rs_rec_kexec_entry& allow = t.entries[0];
  EXPECT_EQ(allow.type, RS_REC_KEXEC_ENTRY);
  EXPECT_EQ(allow.n_conditions, 1);
  EXPECT_EQ(allow.kill, 0);
  EXPECT_EQ(allow.rule_index, 0u);
  EXPECT_EQ(allow.gen, 7);
  EXPECT_EQ(allow.field, RS_KFIELD_NAME);
  EXPECT_EQ(allow.op, RS_KOP_EQUALS);
  EXPECT_EQ(pattern_of(allow), "trusted");
  EXPECT_EQ(t.entries[1].n_conditions, 0);  // unused conditions of slot 0

  for (int slot : {1, 2}) {
    const rs_rec_kexec_entry* e = &t.entries[slot * RS_KEXEC_CONDS];
    EXPECT_EQ(e[0].kill, 1);
    EXPECT_EQ(e[0].rule_index, 1u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(e[i].n_conditions, 3) << slot << "/" << i;
    EXPECT_EQ(e[0].field, RS_KFIELD_ARG);
    EXPECT_EQ(pattern_of(e[0]), slot == 1 ? "--evil" : "--worse");
    EXPECT_EQ(e[1].field, RS_KFIELD_EXECUTABLE);
    EXPECT_EQ(e[1].op, RS_KOP_PREFIX);
    EXPECT_EQ(pattern_of(e[1]), "/opt/");
    EXPECT_EQ(e[2].field, RS_KFIELD_UID);
    EXPECT_EQ(e[2].negate, 1);
    EXPECT_EQ(e[2].uid, 0u);
    EXPECT_EQ(e[3].n_conditions, 0);
  }
  // The walk ends at the first slot whose first condition is unused.
  EXPECT_EQ(t.entries[3 * RS_KEXEC_CONDS].n_conditions, 0);
}

TEST(KexecTable, PatternsAreZeroPaddedForWordCompares) {
  auto p = load(R"(rules:
  - {name: d, on: process.exec, match: {process.executable: {suffix: /evil}}, action: deny}
)");
  ASSERT_TRUE(p);
  const KexecTable t = encode_kexec_table(policy::compile_kernel_exec_rules(*p), 1);
  ASSERT_EQ(t.rules, 1u);
  const rs_rec_kexec_entry& e = t.entries[0];
  EXPECT_EQ(e.op, RS_KOP_SUFFIX);
  EXPECT_EQ(e.pattern_len, 5);
  for (size_t i = e.pattern_len; i < sizeof e.pattern; ++i) ASSERT_EQ(e.pattern[i], 0) << i;
  for (uint8_t b : e.pad0) EXPECT_EQ(b, 0);
}

TEST(KexecTable, NoDenyRuleMeansNoTable) {
  auto p = load(R"(rules:
  - {name: a, on: process.exec, match: {process.name: sh}, action: alert}
)");
  ASSERT_TRUE(p);
  const auto prog = policy::compile_kernel_exec_rules(*p);
  const KexecTable t = encode_kexec_table(prog, 1);
  EXPECT_EQ(t.rules, 0u);
  for (const auto& e : t.entries) ASSERT_EQ(e.n_conditions, 0);
  EXPECT_FALSE(needs_late_kill(*p, prog));
}

TEST(KexecTable, DenyRulesOutsideTheTableNeedTheAgent) {
  auto kernel_only = load(R"(rules:
  - {name: d, on: process.exec, match: {process.args: "--kill"}, action: deny}
)");
  ASSERT_TRUE(kernel_only);
  EXPECT_FALSE(needs_late_kill(*kernel_only, policy::compile_kernel_exec_rules(*kernel_only)));

  auto with_glob = load(R"(rules:
  - {name: d, on: process.exec, match: {process.args: "--kill"}, action: deny}
  - {name: g, on: process.exec, match: {process.args: {glob: "--x*"}}, action: deny}
)");
  ASSERT_TRUE(with_glob);
  const auto prog = policy::compile_kernel_exec_rules(*with_glob);
  EXPECT_EQ(encode_kexec_table(prog, 1).rules, 1u);
  EXPECT_TRUE(needs_late_kill(*with_glob, prog));

  auto user_only = load(R"(rules:
  - {name: u, on: process.exec, levels: [user], match: {process.args: {glob: "*"}}, action: deny}
)");
  ASSERT_TRUE(user_only);
  EXPECT_FALSE(needs_late_kill(*user_only, policy::compile_kernel_exec_rules(*user_only)));
}

}  // namespace
}  // namespace ringside
