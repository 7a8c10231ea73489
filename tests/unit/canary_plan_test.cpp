// The canary heartbeat's logic without a kernel: settings.canary, which (sensor, operation)
// pairs are checked for a set of live sensors, and how a round matches reported events.

#include <gtest/gtest.h>

#include "agent/canary.hpp"
#include "policy/policy.hpp"

namespace ringside {
namespace {

std::shared_ptr<const policy::Policy> parse(const std::string& yaml, std::string* error) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "c.yaml", &errors);
  if (!p) {
    *error = errors.empty() ? p.error().message : errors.front().to_string();
    return nullptr;
  }
  return *p;
}

TEST(CanarySettings, OffByDefault) {
  std::string err;
  auto p = parse("rules: []\n", &err);
  ASSERT_TRUE(p) << err;
  EXPECT_EQ(p->settings().canary.interval_ms, 0);
}

TEST(CanarySettings, Durations) {
  for (const auto& [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {"30s", 30000}, {"1500ms", 1500}, {"2m", 120000}, {"100ms", 100}}) {
    std::string err;
    auto p = parse("settings:\n  canary: {interval: " + text + "}\nrules: []\n", &err);
    ASSERT_TRUE(p) << text << ": " << err;
    EXPECT_EQ(p->settings().canary.interval_ms, ms) << text;
  }
}

TEST(CanarySettings, MistakesNamePosition) {
  std::string err;
  EXPECT_FALSE(parse("settings:\n  canary: {interval: 50ms}\nrules: []\n", &err));
  EXPECT_NE(err.find("c.yaml:2:"), std::string::npos) << err;
  EXPECT_NE(err.find("interval must be a duration from 100ms"), std::string::npos) << err;
  EXPECT_FALSE(parse("settings:\n  canary: {interval: 30}\nrules: []\n", &err));
  EXPECT_NE(err.find("'30'"), std::string::npos) << err;
  EXPECT_FALSE(parse("settings:\n  canary: {interval: 2h}\nrules: []\n", &err));
  EXPECT_FALSE(parse("settings:\n  canary: {every: 1s}\nrules: []\n", &err));
  EXPECT_NE(err.find("unknown canary setting 'every'"), std::string::npos) << err;
  EXPECT_FALSE(parse("settings:\n  canary: 1s\nrules: []\n", &err));
  EXPECT_NE(err.find("must be a mapping"), std::string::npos) << err;
}

CanarySensor sensor(const std::string& name, const std::string& mech, Level level, Domain d) {
  return {name, mech, level, d};
}

std::vector<std::string> names(const std::vector<CanaryCheck>& checks) {
  std::vector<std::string> out;
  for (const auto& c : checks) out.push_back(c.sensor + ":" + std::string(to_string(c.op)));
  return out;
}

CanaryPlanInput full_input() {
  CanaryPlanInput in;
  in.live = {sensor("process_ebpf", "ebpf", Level::kKernel, Domain::kProcess),
             sensor("exec_fanotify", "fanotify", Level::kKernel, Domain::kProcess),
             sensor("file_ebpf", "ebpf", Level::kKernel, Domain::kFile),
             sensor("file_fanotify", "fanotify", Level::kKernel, Domain::kFile),
             sensor("open_fanotify", "fanotify", Level::kKernel, Domain::kFile),
             sensor("network_ebpf", "ebpf", Level::kKernel, Domain::kNetwork),
             sensor("nfqueue", "nfqueue", Level::kKernel, Domain::kNetwork),
             sensor("hook_server", "preload", Level::kUser, Domain::kProcess)};
  in.canary_dir = "/run/ringside/canary";
  in.helper_preloaded = true;
  in.hooks_report_files = true;
  in.hooks_report_network = true;
  // /run is its own filesystem (device 2); everything else is device 1.
  in.device_of = [](const std::string& p) -> std::optional<uint64_t> {
    return p.rfind("/run", 0) == 0 ? 2 : 1;
  };
  return in;
}

TEST(CanaryPlan, DefaultSettingsEveryObservingSensor) {
  const auto checks = plan_canary_checks(full_input());
  // Default watch is the filesystem holding "/": /run is another one, so fanotify's
  // notification group cannot see the canary's file; the permission sensors see only what
  // deny rules mark.
  EXPECT_EQ(names(checks), (std::vector<std::string>{"process_ebpf:exec", "file_ebpf:open",
                                                     "network_ebpf:connect", "hook_server:exec",
                                                     "hook_server:open", "hook_server:connect"}));
}

TEST(CanaryPlan, FileSettingsDecide) {
  auto in = full_input();
  in.file.watch = {{"/run", policy::MarkKind::kFilesystem, {}}};
  EXPECT_EQ(names(plan_canary_checks(in))[2], "file_fanotify:open");
  in.file.watch = {{"/run/ringside/canary", policy::MarkKind::kDirectory, {}}};
  EXPECT_EQ(names(plan_canary_checks(in))[2], "file_fanotify:open");
  in.file.watch = {{"/srv", policy::MarkKind::kFilesystem, {}}};  // not under any scope
  EXPECT_EQ(
      names(plan_canary_checks(in)),
      (std::vector<std::string>{"process_ebpf:exec", "network_ebpf:connect", "hook_server:exec",
                                "hook_server:open", "hook_server:connect"}));
  in.file.watch = {{"/", policy::MarkKind::kFilesystem, {}}};
  in.file.opens = policy::OpenReporting::kNone;
  EXPECT_EQ(names(plan_canary_checks(in)),
            (std::vector<std::string>{"process_ebpf:exec", "network_ebpf:connect",
                                      "hook_server:exec", "hook_server:connect"}));
}

TEST(CanaryPlan, HooksOnlyWhenTheHelperIsPreloaded) {
  auto in = full_input();
  in.helper_preloaded = false;
  for (const auto& c : plan_canary_checks(in)) EXPECT_NE(c.sensor, "hook_server");
  in = full_input();
  in.hooks_report_files = in.hooks_report_network = false;
  EXPECT_EQ(names(plan_canary_checks(in)).back(), "hook_server:exec");
}

TEST(CanaryPlan, ProcConnectorChecksExec) {
  CanaryPlanInput in;
  in.live = {sensor("process_proc_connector", "proc_connector", Level::kKernel, Domain::kProcess)};
  EXPECT_EQ(names(plan_canary_checks(in)),
            (std::vector<std::string>{"process_proc_connector:exec"}));
}

Event reported(EventType type, Level level, const char* mech) {
  Event ev(type, 1);
  ev.set_origin(level, mech);
  ev.set(Field::kProcessPid, int64_t{4242});
  return ev;
}

TEST(CanaryRound, MatchesLevelMechanismAndOperation) {
  CanaryRound round({{"process_ebpf", "ebpf", Level::kKernel, CanaryOp::kExec},
                     {"file_ebpf", "ebpf", Level::kKernel, CanaryOp::kOpen},
                     {"hook_server", "preload", Level::kUser, CanaryOp::kExec}});
  EXPECT_EQ(round.missed().size(), 3U);
  // Wrong level, wrong mechanism, an operation no check wants: nothing is marked.
  EXPECT_FALSE(round.observe(reported(EventType::kProcessExec, Level::kUser, "ebpf")));
  EXPECT_FALSE(round.observe(reported(EventType::kProcessExec, Level::kKernel, "fanotify")));
  EXPECT_FALSE(round.observe(reported(EventType::kProcessExit, Level::kKernel, "ebpf")));
  EXPECT_EQ(round.missed().size(), 3U);
  EXPECT_FALSE(round.observe(reported(EventType::kProcessExec, Level::kKernel, "ebpf")));
  EXPECT_FALSE(round.observe(reported(EventType::kFileCreate, Level::kKernel, "ebpf")));
  const auto missed = round.missed();
  ASSERT_EQ(missed.size(), 1U);
  EXPECT_EQ(missed[0].sensor, "hook_server");
  EXPECT_TRUE(round.observe(reported(EventType::kProcessExec, Level::kUser, "preload")));
  EXPECT_TRUE(round.missed().empty());
}

TEST(CanaryOps, EventTypes) {
  EXPECT_EQ(canary_op_of(EventType::kProcessExec), CanaryOp::kExec);
  EXPECT_EQ(canary_op_of(EventType::kFileOpen), CanaryOp::kOpen);
  EXPECT_EQ(canary_op_of(EventType::kFileCreate), CanaryOp::kOpen);
  EXPECT_EQ(canary_op_of(EventType::kNetworkConnect), CanaryOp::kConnect);
  EXPECT_FALSE(canary_op_of(EventType::kFileDelete));
  EXPECT_FALSE(canary_op_of(EventType::kRingsideAlert));
}

}  // namespace
}  // namespace ringside
