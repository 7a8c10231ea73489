// `ringside doctor --json` on this machine: what its kernel allows and refuses (DESIGN.md,
// "What this machine kernel allows").

#include <gtest/gtest.h>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    const RunResult r = run({build_dir() + "/ringside", "doctor", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    report_ = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(report_.is_discarded()) << r.out;
    ASSERT_TRUE(report_.contains("mechanisms")) << r.out;
  }

  const json& mechanism(const std::string& name) {
    static const json kMissing = json::object();
    const json& m = report_["mechanisms"];
    return m.contains(name) ? m[name] : kMissing;
  }
  void expect_available(const std::string& name) {
    const json& m = mechanism(name);
    ASSERT_TRUE(m.contains("available")) << name << " missing from " << report_.dump(2);
    EXPECT_TRUE(m["available"].get<bool>()) << name << ": " << m["reason"];
    EXPECT_FALSE(m["reason"].get<std::string>().empty()) << name;
  }
  void expect_unavailable(const std::string& name) {
    const json& m = mechanism(name);
    ASSERT_TRUE(m.contains("available")) << name << " missing from " << report_.dump(2);
    EXPECT_FALSE(m["available"].get<bool>()) << name << ": " << m["reason"];
    EXPECT_FALSE(m["reason"].get<std::string>().empty()) << name;
  }

  json report_;
};

TEST_F(Doctor, ReportsWhatThisKernelAllows) {
  expect_available("btf");
  expect_available("bpf_tp_btf");
  expect_available("bpf_ringbuf");
  expect_available("fanotify_permission");
  expect_available("proc_connector");
}

TEST_F(Doctor, ReportsWhatThisKernelRefusesWithAReason) {
  expect_unavailable("bpf_fentry");
  expect_unavailable("bpf_lsm");
  expect_unavailable("kprobe");
  EXPECT_NE(mechanism("bpf_fentry")["reason"].get<std::string>().find("not permitted"),
            std::string::npos)
      << mechanism("bpf_fentry")["reason"];
}

TEST_F(Doctor, EveryMechanismHasLevelAreaAndReason) {
  ASSERT_GE(report_["mechanisms"].size(), 13u);
  for (const auto& [name, m] : report_["mechanisms"].items()) {
    EXPECT_TRUE(m["level"] == "kernel" || m["level"] == "user") << name;
    EXPECT_FALSE(m["area"].get<std::string>().empty()) << name;
    EXPECT_FALSE(m["reason"].get<std::string>().empty()) << name;
    EXPECT_TRUE(m["available"].is_boolean()) << name;
  }
  EXPECT_EQ(mechanism("x11")["level"], "user");
}

TEST_F(Doctor, TableFormExitsZero) {
  const RunResult r = run({build_dir() + "/ringside", "doctor"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fanotify permission events"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("available"), std::string::npos);
}

}  // namespace
}  // namespace ringside::e2e
