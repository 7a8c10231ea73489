// The lab's pure parts, without privileges: recognising a scenario's events and classifying a
// cell, correlating both levels' events into one record, and rendering the three reports.

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <nlohmann/json.hpp>

#include "lab/correlate.hpp"
#include "lab/lab_agent.hpp"
#include "lab/report.hpp"
#include "lab/scenario.hpp"

namespace ringside::lab {
namespace {

using nlohmann::json;

Scenario open_scenario() {
  Scenario s;
  s.id = "file.libc_open";
  s.area = "file";
  s.marker = "/scratch/files/libc_open-r1";
  s.category = "file";
  s.action = "open";
  s.identify = {{"file.path", {s.marker}}};
  s.require = {{"process.pid", {"@pid"}}};
  s.deny_errnos = {EPERM, EACCES};
  s.miss_cause["user"] = "static binary";
  return s;
}

json open_event(const std::string& level, int pid, const std::string& path,
                const std::string& verdict = "") {
  json ev = {{"event", {{"category", "file"}, {"action", "open"}}},
             {"process", {{"pid", pid}, {"parent", {{"pid", 1}}}}},
             {"file", {{"path", path}}},
             {"ringside", {{"level", level}, {"sensor", level == "kernel" ? "ebpf" : "preload"}}}};
  if (!verdict.empty()) ev["ringside"]["verdict"] = verdict;
  return ev;
}

StepResult ok_step(pid_t pid) {
  StepResult r;
  r.started = true;
  r.exit_code = 0;
  parse_step_output("rc=0 errno=0 pid=" + std::to_string(pid) + "\n", r);
  r.pid = pid;
  return r;
}

TEST(LabStepOutput, ParsesResultErrnoChildAndSignal) {
  StepResult r;
  parse_step_output("rc=-1 errno=13 pid=5 child=6 signal=9\n", r);
  EXPECT_TRUE(r.printed);
  EXPECT_EQ(r.rc, -1);
  EXPECT_EQ(r.err, EACCES);
  EXPECT_EQ(r.child, 6);
  EXPECT_EQ(r.term_signal, 9);
  StepResult empty;
  parse_step_output("garbage rc=x\n", empty);
  EXPECT_FALSE(empty.printed);
}

TEST(LabClassify, MonitorSeenNeedsTheRightLevelAndFields) {
  const Scenario s = open_scenario();
  const StepResult step = ok_step(42);
  const std::vector<json> events = {open_event("kernel", 42, s.marker),
                                    open_event("user", 41, s.marker)};
  EXPECT_EQ(classify(s, "kernel", "monitor", step, events).result, "seen");
  const Cell user = classify(s, "user", "monitor", step, events);
  EXPECT_EQ(user.result, "missed");
  EXPECT_EQ(user.cause, "event with wrong fields");
  ASSERT_EQ(user.wrong_fields.size(), 1u);
  EXPECT_EQ(user.wrong_fields[0], "process.pid: got 41, want 42");
}

TEST(LabClassify, MissCauseOnlyWhenActuallyMissed) {
  const Scenario s = open_scenario();
  const StepResult step = ok_step(42);
  // The user level has a declared reason, but it saw the operation: seen, no cause.
  const Cell seen = classify(s, "user", "monitor", step, {open_event("user", 42, s.marker)});
  EXPECT_EQ(seen.result, "seen");
  EXPECT_TRUE(seen.cause.empty());
  const Cell missed = classify(s, "user", "monitor", step, {open_event("user", 42, "/other")});
  EXPECT_EQ(missed.result, "missed");
  EXPECT_EQ(missed.cause, "static binary");
  const Cell kernel = classify(s, "kernel", "monitor", step, {});
  EXPECT_EQ(kernel.cause, "unexpected: no event at this level");
}

TEST(LabClassify, BlockedNeedsTheErrnoAndADenyEvent) {
  const Scenario s = open_scenario();
  StepResult denied = ok_step(42);
  parse_step_output("rc=-1 errno=1 pid=42", denied);
  const std::vector<json> deny = {open_event("kernel", 42, s.marker, "deny")};
  EXPECT_EQ(classify(s, "kernel", "deny", denied, deny).result, "blocked");
  // Failed, but the event does not say deny.
  const Cell no_event = classify(s, "kernel", "deny", denied, {open_event("kernel", 42, s.marker)});
  EXPECT_EQ(no_event.result, "not_blocked");
  EXPECT_NE(no_event.cause.find("no deny event"), std::string::npos);
  // The event says deny but the open succeeded.
  const Cell through = classify(s, "kernel", "deny", ok_step(42), deny);
  EXPECT_EQ(through.result, "not_blocked");
  EXPECT_EQ(through.cause, "unexpected: the operation succeeded");
  // An unexpected errno is not a block.
  StepResult other = ok_step(42);
  parse_step_output("rc=-1 errno=2 pid=42", other);
  EXPECT_EQ(classify(s, "kernel", "deny", other, deny).result, "not_blocked");
}

TEST(LabClassify, KilledExecIsBlockedAndAFailedStepIsAnError) {
  Scenario s = open_scenario();
  s.category = "process";
  s.action = "exec";
  s.identify.clear();
  s.args_contain = "marker-1";
  s.exec_replaces = true;
  json ev = {{"event", {{"category", "process"}, {"action", "exec"}}},
             {"process", {{"pid", 7}, {"args", {"/bin/x", "marker-1"}}}},
             {"ringside", {{"level", "kernel"}, {"verdict", "deny"}}}};
  StepResult killed;
  killed.started = true;
  killed.pid = 7;
  killed.term_signal = SIGKILL;
  EXPECT_EQ(classify(s, "kernel", "deny", killed, {ev}).result, "blocked");
  StepResult lost;
  lost.started = true;
  lost.exit_code = 123;
  EXPECT_EQ(classify(s, "kernel", "monitor", lost, {ev}).result, "error");
}

TEST(LabClassify, TypedTextIsPutTogetherFromTheLevelsKeyEvents) {
  Scenario s;
  s.id = "keyboard.x11_typing";
  s.area = s.category = "keyboard";
  s.action = "key_down";
  s.marker = "abc";
  s.exec_replaces = true;
  s.miss_cause["kernel"] = "XTEST";
  auto key = [](const std::string& level, const std::string& text) {
    return json{{"event", {{"category", "keyboard"}, {"action", "key_down"}}},
                {"key", {{"text", text}}},
                {"ringside", {{"level", level}}}};
  };
  StepResult ran;
  ran.started = true;
  ran.exit_code = 0;
  const std::vector<json> events = {key("user", "a"), key("kernel", "x"), key("user", "b"),
                                    key("user", "c")};
  EXPECT_EQ(classify(s, "user", "monitor", ran, events).result, "seen");
  const Cell k = classify(s, "kernel", "monitor", ran, events);
  EXPECT_EQ(k.result, "missed");
  EXPECT_EQ(k.cause, "XTEST");
}

TEST(LabCorrelate, SamePidAndActionBecomeOneRecordSeenByBoth) {
  const std::vector<json> events = {open_event("user", 42, "/m"), open_event("kernel", 42, "/m"),
                                    open_event("kernel", 43, "/m")};
  const auto recs = correlate("file.x", "/m", events);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].pid, 42);
  EXPECT_EQ(recs[0].seen_by, (std::vector<std::string>{"kernel", "user"}));
  EXPECT_EQ(recs[1].pid, 43);
  EXPECT_EQ(recs[1].seen_by, (std::vector<std::string>{"kernel"}));
  const json line = correlated_event(recs[0], events);
  EXPECT_EQ(line["ringside"]["seen_by"], json({"kernel", "user"}));
  EXPECT_FALSE(line["ringside"].contains("level"));
  LabReport r;
  r.correlated = recs;
  ASSERT_EQ(one_level_records(r).size(), 1u);
  EXPECT_EQ(one_level_records(r)[0].pid, 43);
}

TEST(LabCorrelate, EventWithoutPidJoinsTheChildOfTheSameParent) {
  json spawn = open_event("user", 0, "/m");
  spawn["process"].erase("pid");
  spawn["process"]["parent"]["pid"] = 9;
  json child = open_event("kernel", 10, "/m");
  child["process"]["parent"]["pid"] = 9;
  const auto recs = correlate("process.posix_spawn", "/m", {spawn, child});
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].pid, 10);
  EXPECT_EQ(recs[0].seen_by, (std::vector<std::string>{"kernel", "user"}));
}

LabReport sample_report() {
  LabReport r;
  r.run_id = "r1";
  r.levels = {"kernel", "user"};
  ScenarioRow a{"file.a", "file", "open <a>", "/m", {}};
  a.cells = {{"kernel", "monitor", "seen", "", "", {}, 1},
             {"kernel", "deny", "blocked", "", "", {}, 1},
             {"user", "monitor", "missed", "raw syscall", "", {}, 1},
             {"user", "deny", "not_blocked", "raw syscall", "", {}, 1}};
  ScenarioRow b{"file.b", "file", "open b", "/n", {}};
  b.cells = {{"kernel", "monitor", "seen", "", "", {}, 1},
             {"kernel", "deny", "blocked", "", "", {}, 1},
             {"user", "monitor", "seen", "", "", {}, 1},
             {"user", "deny", "skipped", "", "", {}, 0}};
  r.rows = {a, b};
  r.correlated = {{"file.a", "file.open", 5, "/m", {"kernel"}},
                  {"file.b", "file.open", 6, "/n", {"kernel", "user"}}};
  r.noise = {"one trial"};
  return r;
}

// ringside's levels next to each available peer: battery scenarios in the matrix's order, a
// peer's own step after them, "" where a peer was not shown a scenario.
TEST(LabReport, SideBySidePutsTheLevelsNextToThePeers) {
  LabReport r = sample_report();
  r.peers.push_back({"fatrace", true, "", {{"file.b", true, false}, {"file.a", false, false}}});
  r.peers.push_back({"fapolicyd", true, "", {{"process.own", true, true}}});
  r.peers.push_back({"snoopy", false, "not installed", {}});
  const SideBySide t = side_by_side(r);
  EXPECT_EQ(t.columns,
            (std::vector<std::string>{"ringside kernel", "ringside user", "fatrace", "fapolicyd"}));
  ASSERT_EQ(t.rows.size(), 3U);
  EXPECT_EQ(t.rows[0].first, "file.a");
  EXPECT_EQ(t.rows[0].second, (std::vector<std::string>{"seen", "missed", "missed", ""}));
  EXPECT_EQ(t.rows[1].first, "file.b");
  EXPECT_EQ(t.rows[1].second, (std::vector<std::string>{"seen", "seen", "seen", ""}));
  EXPECT_EQ(t.rows[2].first, "process.own");
  EXPECT_EQ(t.rows[2].second, (std::vector<std::string>{"", "", "", "blocked"}));
  EXPECT_NE(render_markdown(r).find("| `file.a` | seen | **missed** | **missed** | — |"),
            std::string::npos)
      << render_markdown(r);
}

TEST(LabReport, SummaryCountsOnlyCellsThatRan) {
  const LabReport r = sample_report();
  const AreaSummary k = summarize(r, "file", "kernel");
  EXPECT_DOUBLE_EQ(k.coverage_pct(), 100.0);
  EXPECT_DOUBLE_EQ(k.block_pct(), 100.0);
  const AreaSummary u = summarize(r, "file", "user");
  EXPECT_EQ(u.seen, 1);
  EXPECT_EQ(u.monitor_runs, 2);
  EXPECT_EQ(u.deny_runs, 1);  // the skipped cell does not count
  EXPECT_EQ(u.blocked, 0);
  ASSERT_EQ(u.misses.size(), 2u);
  EXPECT_EQ(u.misses[0], "file.a: raw syscall");
}

TEST(LabReport, JsonCarriesMatrixSummaryAndEmptySectionsMarked) {
  const json j = json::parse(render_json(sample_report()));
  EXPECT_EQ(j["run"]["id"], "r1");
  EXPECT_EQ(j["scenarios"].size(), 2u);
  EXPECT_EQ(j["scenarios"][0]["cells"][2]["cause"], "raw syscall");
  EXPECT_EQ(j["bypasses"].size(), 1u);
  EXPECT_EQ(j["correlated"][1]["ringside"]["seen_by"], json({"kernel", "user"}));
  EXPECT_FALSE(j["overhead"]["measured"].get<bool>());
  EXPECT_FALSE(j["peers"]["measured"].get<bool>());
  bool found = false;
  for (const auto& s : j["summary"]) {
    if (s["area"] == "file" && s["level"] == "user") {
      EXPECT_DOUBLE_EQ(s["coverage_pct"].get<double>(), 50.0);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(LabReport, MarkdownAndHtmlRenderEveryPartAndEscape) {
  LabReport r = sample_report();
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("| file | user | 50 % (1/2) | 0 % (0/1) |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Overhead\n\nNot measured in this run."), std::string::npos);
  EXPECT_NE(md.find("`file.a` file.open pid 5 seen by kernel only"), std::string::npos);
  std::string html = render_html(r);
  EXPECT_NE(html.find("open &lt;a&gt;"), std::string::npos);
  EXPECT_EQ(html.find("open <a>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external URL
  EXPECT_EQ(html.find("<script"), std::string::npos);
  r.overhead.push_back({"file", "kernel", 1.25, 3.5, 40, 4, "open+close"});
  r.peers.push_back({"fatrace", false, "not installed", {}});
  html = render_html(r);
  EXPECT_NE(html.find("1.250"), std::string::npos);
  EXPECT_NE(html.find("no: not installed"), std::string::npos);
  EXPECT_NE(render_markdown(r).find("×1.25, 3.5 µs CPU/op"), std::string::npos);
}

}  // namespace
}  // namespace ringside::lab
