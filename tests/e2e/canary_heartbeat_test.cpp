// The canary heartbeat against the real kernel: `ringside run` with settings.canary every
// second, every kernel- and user-level sensor of the process, file and network areas live.
// With every sensor working, each heartbeat's marked exec, open and connect are reported by
// every sensor that should see them and no alert fires. With one sensor stopped behind the
// agent's back (--fault-stop-sensor: its programs detached, its state still "live"), the
// canary names it in a ringside.alert within two intervals.
//
// The socket programs are attached to a child cgroup this test creates (no process is moved
// into it), and NFQUEUE is off, so nothing is added to the host's firewall.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "e2e_util.hpp"
#include "scratch_cgroup.hpp"
#include "sensors/kernel/network_ebpf.hpp"

namespace ringside::e2e {
namespace {

constexpr auto kInterval = 1000ms;

std::string policy_yaml(const std::string& cgroup, const std::string& interval) {
  return "settings:\n"
         "  canary: {interval: " +
         interval +
         "}\n"
         "  network: {nfqueue: off, dns: false, cgroup: " +
         cgroup +
         "}\n"
         "rules: []\n";
}

bool is_alert(const json& ev) {
  return str_field(ev, "event.category") == "ringside" && str_field(ev, "event.action") == "alert";
}

// The helper's marked exec (argv[1] "ringside-canary-<agent pid>-<round>") at `level`.
bool is_marked_exec(const json& ev, const std::string& level, int round) {
  if (str_field(ev, "event.action") != "exec" || str_field(ev, "ringside.level") != level) {
    return false;
  }
  const json* args = field(ev, "process.args");
  if (args == nullptr || !args->is_array() || args->size() < 2) return false;
  const std::string a1 = (*args)[1].get<std::string>();
  const std::string suffix = "-" + std::to_string(round);
  return a1.rfind("ringside-canary-", 0) == 0 && a1.size() > suffix.size() &&
         a1.compare(a1.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         (str_field(ev, "process.executable") == "/bin/true" ||
          str_field(ev, "process.executable") == "/usr/bin/true");
}

std::unique_ptr<AgentProcess> start_agent(const ScratchCgroup& cg, std::vector<std::string> extra,
                                          const std::string& interval = "1s") {
  AgentProcess::Options o;
  o.policy_yaml = policy_yaml(cg.path(), interval);
  o.levels = "kernel,user";
  o.domains = "process,file,network";
  o.extra_args = std::move(extra);
  std::string err;
  auto agent = AgentProcess::start(o, &err);
  EXPECT_NE(agent, nullptr) << err;
  return agent;
}

TEST(Canary, EverySensorSeesTheHeartbeatAndNoAlertFires) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"canary"};
  ASSERT_FALSE(cg.path().empty()) << "cannot create a child cgroup";
  // A 2 s interval gives each round's events 1 s to arrive: no false alert on a loaded machine
  // (or in the sanitizer build), where 0.5 s is sometimes short.
  auto agent = start_agent(cg, {}, "2s");
  ASSERT_NE(agent, nullptr);
  // Three heartbeats, seen at both levels.
  for (const char* level : {"kernel", "user"}) {
    ASSERT_TRUE(agent->wait_for([&](const json& ev) { return is_marked_exec(ev, level, 3); }, 15s))
        << level << " level never reported the third heartbeat's exec\n"
        << agent->log();
  }
  std::this_thread::sleep_for(2 * kInterval);  // the third round's verdict
  const auto events = agent->events();
  int64_t helper_pid = -1;
  for (const auto& ev : events) {
    EXPECT_FALSE(is_alert(ev)) << "alert with every sensor live: " << ev.dump();
    if (is_marked_exec(ev, "kernel", 2)) helper_pid = int_field(ev, "process.pid");
  }
  ASSERT_GT(helper_pid, 0);
  // What the second heartbeat's helper did, as each sensor reported it.
  bool kernel_open = false, kernel_create = false, kernel_connect = false;
  bool user_exec = false, user_open = false, user_connect = false;
  for (const auto& ev : events) {
    if (int_field(ev, "process.pid") != helper_pid) continue;
    const std::string level = str_field(ev, "ringside.level");
    const std::string sensor = str_field(ev, "ringside.sensor");
    const std::string action = str_field(ev, "event.action");
    const bool canary_file =
        str_field(ev, "file.path").find("/canary/ringside-canary-") != std::string::npos;
    if (level == "kernel" && sensor == "ebpf" && action == "open" && canary_file) {
      kernel_open = true;
    }
    if (level == "kernel" && sensor == "fanotify" && action == "create" && canary_file) {
      kernel_create = true;
    }
    const bool loopback = str_field(ev, "destination.ip") == "127.0.0.1";
    if (level == "kernel" && sensor == "ebpf" && action == "connect" && loopback) {
      kernel_connect = true;
    }
    if (level == "user" && action == "exec" &&
        str_field(ev, "process.executable").ends_with("/true")) {
      user_exec = true;
    }
    if (level == "user" && action == "open" && canary_file) user_open = true;
    if (level == "user" && action == "connect" && loopback) user_connect = true;
  }
  EXPECT_TRUE(kernel_open);
  EXPECT_TRUE(kernel_create);
  EXPECT_TRUE(kernel_connect);
  EXPECT_TRUE(user_exec);
  EXPECT_TRUE(user_open);
  EXPECT_TRUE(user_connect);
  EXPECT_EQ(agent->stop(), 0);
  EXPECT_EQ(agent->log().find("canary: sensor"), std::string::npos) << agent->log();
}

TEST(Canary, StoppedSensorIsNamedWithinTwoIntervals) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"canary"};
  ASSERT_FALSE(cg.path().empty()) << "cannot create a child cgroup";
  auto agent = start_agent(cg, {"--fault-stop-sensor", "file_ebpf", "--fault-after-ms", "2500"});
  ASSERT_NE(agent, nullptr);
  // The moment the sensor starts going blind, as the agent logs it (before stopping it).
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  auto fault_at = std::chrono::steady_clock::time_point{};
  while (std::chrono::steady_clock::now() < deadline) {
    if (agent->log().find("fault injection: stopping sensor file_ebpf") != std::string::npos) {
      fault_at = std::chrono::steady_clock::now();
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(fault_at, std::chrono::steady_clock::time_point{}) << agent->log();
  // Heartbeats before the fault: no alert.
  for (const auto& ev : agent->events()) {
    EXPECT_FALSE(is_alert(ev)) << "alert before the fault: " << ev.dump();
  }
  auto alert = agent->wait_for(
      [](const json& ev) {
        return is_alert(ev) && str_field(ev, "ringside.canary.sensor") == "file_ebpf";
      },
      4 * kInterval);
  const auto latency = std::chrono::steady_clock::now() - fault_at;
  ASSERT_TRUE(alert) << agent->log();
  EXPECT_LE(latency, 2 * kInterval + 200ms)  // the sink writes at least every 100 ms
      << "alert after " << std::chrono::duration_cast<std::chrono::milliseconds>(latency).count()
      << " ms";
  std::printf("canary alert %lld ms after the fault\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(latency).count()));
  EXPECT_EQ(str_field(*alert, "ringside.canary.operation"), "open");
  EXPECT_EQ(str_field(*alert, "event.outcome"), "failure");
  EXPECT_EQ(str_field(*alert, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*alert, "ringside.sensor"), "canary");
  EXPECT_NE(str_field(*alert, "ringside.message").find("file_ebpf"), std::string::npos);
  // Only the stopped sensor is named.
  for (const auto& ev : agent->events()) {
    if (is_alert(ev)) {
      EXPECT_EQ(str_field(ev, "ringside.canary.sensor"), "file_ebpf") << ev.dump();
    }
  }
  EXPECT_EQ(agent->stop(), 0);
}

}  // namespace
}  // namespace ringside::e2e
