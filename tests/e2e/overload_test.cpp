// Loss accounting under overload: each channel is driven far past its capacity (a small queue
// or ring, a stalled agent, a slow sink) and the test checks that every record it generated was
// either delivered or counted lost, and that each loss was reported in a ringside.lost event
// naming the channel. Where the kernel only gives a bound, the test asserts the bound.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"
#include "overload_util.hpp"
#include "scratch_mount.hpp"

extern char** environ;  // NOLINT

namespace ringside::e2e {
namespace {

// A slow sink (2 ms per event) behind a 64-event queue, fed by ~600 short-lived processes:
// every event gets a sequence number when it is emitted, so delivered + dropped must account
// for every number exactly.
TEST(OverloadSlow, EventQueueBehindSlowSink) {
  if (!is_root()) GTEST_SKIP() << "needs root (eBPF process sensor)";
  constexpr int kQueue = 64;
  constexpr int kChildren = 600;
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "process";
  o.extra_args = {"--queue-capacity", std::to_string(kQueue), "--sink-delay-us", "2000"};
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = 0;
    char arg0[] = "/bin/true";
    char* argv[] = {arg0, nullptr};
    ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
  }
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  std::set<int64_t> seen;
  int64_t max_seq = 0;
  for (const json& ev : events) {
    const int64_t seq = int_field(ev, "event.sequence");
    ASSERT_GT(seq, 0) << ev.dump();
    EXPECT_TRUE(seen.insert(seq).second) << "sequence " << seq << " twice";
    max_seq = std::max(max_seq, seq);
  }
  const auto lost = losses_by_channel(events);
  ASSERT_TRUE(lost.count("event_queue")) << "no ringside.lost for the event queue";
  const Losses& q = lost.at("event_queue");
  const int64_t delivered = static_cast<int64_t>(seen.size());
  const int64_t missing = max_seq - delivered;
  std::printf(
      "event_queue: generated %lld events (sequence numbers), delivered %lld, "
      "dropped %lld in %d ringside.lost events (queue %d, %d processes)\n",
      static_cast<long long>(max_seq), static_cast<long long>(delivered),
      static_cast<long long>(q.count), q.events, kQueue, kChildren);
  EXPECT_EQ(delivered + q.count, max_seq) << "delivered + counted-dropped != generated";
  EXPECT_EQ(missing, q.count);
  EXPECT_EQ(q.total, q.count);
  EXPECT_EQ(q.accuracy, "exact");
  EXPECT_GE(q.count, 10 * kQueue) << "not a 10x overload";
  EXPECT_GE(max_seq, 3 * kChildren);  // fork, exec and exit of each child at least
  const json stats = agent->stats();
  EXPECT_EQ(stats["queue"]["dropped"].get<int64_t>(), q.count) << stats.dump();
  EXPECT_EQ(stats["lost"]["event_queue"]["total"].get<int64_t>(), q.count) << stats.dump();
}

// Fork and exit events of `children` reported by `sensor`.
int64_t fork_exit_events(const std::vector<json>& events, const std::string& sensor,
                         const std::set<int64_t>& children) {
  int64_t n = 0;
  for (const json& ev : events) {
    const std::string action = str_field(ev, "event.action");
    if (str_field(ev, "ringside.sensor") != sensor) continue;
    if ((action == "fork" || action == "exit") && children.count(int_field(ev, "process.pid"))) {
      ++n;
    }
  }
  return n;
}

// The process ring buffer at its smallest (4 KiB) while the agent is stopped (SIGSTOP): the
// BPF programs keep writing, every failed bpf_ringbuf_reserve is counted in the per-CPU
// counters map. The ring is shared by every process on the host, so for the test's own
// children the check is delivered + dropped >= generated (the drop count includes other
// processes' records), and the reported losses equal the sensor's drop counter exactly.
TEST(OverloadSlow, ProcessRingWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (eBPF process sensor)";
  constexpr int kChildren = 400;
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "process";
  o.extra_args = {"--ring-bytes", "4096"};
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  std::set<int64_t> children;
  ASSERT_TRUE(stop_all_threads(agent->pid()));
  for (int i = 0; i < kChildren; ++i) {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) break;
    children.insert(pid);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  ASSERT_EQ(kill(agent->pid(), SIGCONT), 0);
  ASSERT_EQ(static_cast<int>(children.size()), kChildren);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  const int64_t delivered = fork_exit_events(events, "ebpf", children);
  const auto lost = losses_by_channel(events);
  ASSERT_TRUE(lost.count("process_ebpf.ring")) << "no ringside.lost for the ring buffer";
  const Losses& r = lost.at("process_ebpf.ring");
  const int64_t generated = 2LL * kChildren;  // a fork and an exit record per child
  std::printf(
      "process_ebpf.ring: generated %lld records (this test's children), delivered "
      "%lld, dropped %lld host-wide in %d ringside.lost events (ring 4096 bytes)\n",
      static_cast<long long>(generated), static_cast<long long>(delivered),
      static_cast<long long>(r.count), r.events);
  EXPECT_LT(delivered, generated);
  EXPECT_GE(delivered + r.count, generated) << "records neither delivered nor counted";
  EXPECT_GE(r.count, generated - 150) << "a 4 KiB ring holds well under 150 records";
  EXPECT_EQ(r.total, r.count);
  EXPECT_EQ(r.accuracy, "exact");
  const json stats = agent->stats();
  EXPECT_EQ(stats["sensors"]["process_ebpf"]["dropped"].get<int64_t>(), r.count) << stats.dump();
  EXPECT_EQ(stats["queue"]["dropped"].get<int64_t>(), 0);
}

// The proc connector (the fallback process feed) while the agent is stopped: its netlink
// socket's queue fills and the kernel drops messages for it. The kernel numbers the messages it
// sends on each CPU, so the agent counts every one it missed. Like the rings the feed is
// host-wide: delivered + lost >= generated for the test's own children, and the reported losses
// equal the sensor's drop counter.
TEST(OverloadSlow, ProcConnectorWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (proc connector)";
  constexpr int kChildren = 2000;  // 4000 messages; a 64 KiB socket buffer holds ~100
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "process";
  o.force_fallback = true;
  o.extra_args = {"--ring-bytes", "65536"};
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  std::set<int64_t> children;
  int made = 0;
  ASSERT_TRUE(stop_all_threads(agent->pid()));
  for (int i = 0; i < kChildren; ++i) {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) break;
    ++made;
    children.insert(pid);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  ASSERT_EQ(kill(agent->pid(), SIGCONT), 0);
  ASSERT_EQ(made, kChildren);
  // A message on every CPU after the flood: the first number the agent reads from a CPU after
  // its gap tells how many were missed there (a fork is numbered on the parent's CPU). One sent
  // while the agent is still draining its full socket is dropped too and tells nothing, so
  // again every 300 ms until the losses account for the flood (or 20 s).
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  const auto poke_every_cpu = [&all] {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &all)) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (sched_setaffinity(0, sizeof one, &one) != 0) continue;
      const pid_t pid = fork();
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(pid, nullptr, 0);
    }
    sched_setaffinity(0, sizeof all, &all);
  };
  const int64_t generated = 2LL * made;  // a fork and an exit message per child
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    poke_every_cpu();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto so_far = agent->events();
    const auto l = losses_by_channel(so_far);
    const int64_t counted =
        l.count("proc_connector.socket") ? l.at("proc_connector.socket").count : 0;
    if (fork_exit_events(so_far, "proc_connector", children) + counted >= generated) break;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // reported, stats written
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  const int64_t delivered = fork_exit_events(events, "proc_connector", children);
  const auto lost = losses_by_channel(events);
  ASSERT_TRUE(lost.count("proc_connector.socket")) << "no ringside.lost for the proc connector";
  const Losses& r = lost.at("proc_connector.socket");
  std::printf(
      "proc_connector.socket: generated %lld messages (this test's children), delivered %lld, "
      "lost %lld host-wide in %d ringside.lost events\n",
      static_cast<long long>(generated), static_cast<long long>(delivered),
      static_cast<long long>(r.count), r.events);
  EXPECT_LT(delivered, generated);
  EXPECT_GE(delivered + r.count, generated) << "messages neither delivered nor counted";
  EXPECT_GE(10 * r.count, 9 * generated) << "not a 10x overload";
  EXPECT_EQ(r.total, r.count);
  EXPECT_EQ(r.accuracy, "exact");
  const json stats = agent->stats();
  EXPECT_EQ(stats["sensors"]["process_proc_connector"]["dropped"].get<int64_t>(), r.count)
      << stats.dump();
}

// The file and network eBPF rings at their smallest (4 KiB) while the agent is stopped: the
// test's own operations are generated, its delivered events counted; like the process ring,
// these rings are host-wide, so delivered + dropped >= generated, and the reported losses equal
// the sensor's drop counter exactly.
struct RingRun {
  std::string channel, sensor;
  int64_t generated = 0, delivered = 0;
  Losses lost;
  json stats;
};

RingRun ring_while_stopped(const std::string& domain, const std::string& policy, int ops,
                           const std::function<void()>& op,
                           const std::function<bool(const json&)>& mine) {
  RingRun r;
  r.sensor = domain + "_ebpf";
  r.channel = r.sensor + ".ring";
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = domain;
  o.policy_yaml = policy;
  o.extra_args = {"--ring-bytes", "4096"};
  auto agent = start_agent(o);
  if (!agent) return r;
  if (!stop_all_threads(agent->pid())) {
    ADD_FAILURE() << "the agent did not stop";
    return r;
  }
  for (int i = 0; i < ops; ++i) op();
  r.generated = ops;
  kill(agent->pid(), SIGCONT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  for (const json& ev : events) r.delivered += mine(ev) ? 1 : 0;
  const auto lost = losses_by_channel(events);
  if (lost.count(r.channel) != 0) r.lost = lost.at(r.channel);
  r.stats = agent->stats();
  std::printf(
      "%s: generated %lld records (this test's operations), delivered %lld, dropped %lld "
      "host-wide in %d ringside.lost events (ring 4096 bytes)\n",
      r.channel.c_str(), static_cast<long long>(r.generated), static_cast<long long>(r.delivered),
      static_cast<long long>(r.lost.count), r.lost.events);
  return r;
}

void expect_ring_accounting(const RingRun& r) {
  ASSERT_GT(r.lost.events, 0) << "no ringside.lost for " << r.channel;
  EXPECT_LT(r.delivered, r.generated);
  EXPECT_GE(r.delivered + r.lost.count, r.generated) << "records neither delivered nor counted";
  EXPECT_GE(r.lost.count, r.generated - 150) << "a 4 KiB ring holds well under 150 records";
  EXPECT_EQ(r.lost.total, r.lost.count);
  EXPECT_EQ(r.lost.accuracy, "exact");
  EXPECT_EQ(r.stats["sensors"][r.sensor]["dropped"].get<int64_t>(), r.lost.count) << r.stats.dump();
}

TEST(OverloadSlow, FileRingWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (eBPF file sensor)";
  ScratchDir dir("overload-file");
  const std::string file = std::filesystem::canonical(dir.path()).string() + "/f";
  std::ofstream(file) << "x";
  const auto r = ring_while_stopped(
      "file", "settings: {file: {opens: all, watch: [" + dir.path() + "]}}\nrules: []\n", 2000,
      [&] {
        const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close(fd);
      },
      [&](const json& ev) {
        return str_field(ev, "event.action") == "open" && str_field(ev, "file.path") == file &&
               int_field(ev, "process.pid") == getpid();
      });
  expect_ring_accounting(r);
}

TEST(OverloadSlow, NetworkRingWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (eBPF network sensor)";
  // Connects to a loopback port nobody listens on: refused at once, one record each.
  const int probe = listen_tcp(0, 1);
  ASSERT_GE(probe, 0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(probe);
  const int port = ntohs(a.sin_port);
  const auto r = ring_while_stopped(
      "network", "settings: {network: {nfqueue: off, dns: false}}\nrules: []\n", 2000,
      [&] {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return;
        (void)connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
        close(fd);
      },
      [&](const json& ev) {
        return str_field(ev, "event.action") == "connect" &&
               int_field(ev, "destination.port") == port &&
               int_field(ev, "process.pid") == getpid();
      });
  expect_ring_accounting(r);
}

// The hook socket while the agent is stopped: one hooked shell opens files for writing until
// its socket to the agent is full; every report it cannot send is counted in the process and
// told to the agent on its next report that goes through (`final_report`: one more open after
// the agent resumed) or, without one, in its last words at exit: from the _exit hook (dash leaves
// by _exit) or the library's destructor (python3 leaves by exit). Only this process reports to
// this agent, so the count is exact: delivered + lost = generated.
void hook_socket_overload(bool final_report, bool python = false) {
  constexpr int kOpens = 3000;
  ScratchDir dir("overload-hook");
  const std::string root = std::filesystem::canonical(dir.path()).string();
  AgentProcess::Options o;
  o.levels = "user";
  o.domains = "file";
  o.policy_yaml = "settings: {file: {opens: writes}}\nrules: []\n";
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  // Builtins only: a forked child would report on its own connection.
  const std::string script = "cd " + root + " || exit 3; i=0; while [ $i -lt " +
                             std::to_string(kOpens) +
                             " ]; do : > f$i; i=$((i+1)); done; "
                             "while [ ! -e go ]; do :; done;" +
                             (final_report ? " : > last" : "");
  ASSERT_TRUE(stop_all_threads(agent->pid()));
  std::vector<std::string> env_strings = agent->hook_env();
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string py_script =
      "import os\nos.chdir('" + root + "')\nfor i in range(" + std::to_string(kOpens) +
      "):\n  open('f%d' % i, 'w').close()\nwhile not os.path.exists('go'):\n  pass\n";
  std::string sh = python ? "/usr/bin/python3" : "/bin/sh", dash_c = "-c",
              body = python ? py_script : script;
  char* argv[] = {sh.data(), dash_c.data(), body.data(), nullptr};
  pid_t shell = 0;
  ASSERT_EQ(posix_spawn(&shell, sh.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  const std::string last_written = root + "/f" + std::to_string(kOpens - 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(last_written) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(kill(agent->pid(), SIGCONT), 0);
  ASSERT_TRUE(std::filesystem::exists(last_written)) << "the shell did not finish its opens";
  // Each failed send made the interposer try a fresh connection, so the listen backlog is full:
  // give the agent time to accept and drain it, or the count finds no room either.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  { std::ofstream(root + "/go") << "go"; }
  int status = 0;
  ASSERT_EQ(waitpid(shell, &status, 0), shell);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  if (final_report) {
    ASSERT_TRUE(agent->wait_for([&](const json& ev) {
      return str_field(ev, "file.path") == root + "/last";
    })) << agent->events().size()
        << " events; stats " << agent->stats().dump() << "\n"
        << agent->log();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the once-a-second report
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  int64_t delivered = 0;
  for (const json& ev : events) {
    const std::string path = str_field(ev, "file.path");
    if (str_field(ev, "ringside.sensor") == "preload" && str_field(ev, "event.action") == "open" &&
        path.rfind(root + "/", 0) == 0 && path != root + "/go") {
      ++delivered;
    }
  }
  const auto lost = losses_by_channel(events);
  ASSERT_TRUE(lost.count("hook_socket")) << "no ringside.lost for the hook socket";
  const Losses& h = lost.at("hook_socket");
  const int64_t generated = kOpens + (final_report ? 1 : 0);
  std::printf(
      "hook_socket (%s): generated %lld reports, delivered %lld, lost %lld in %d "
      "ringside.lost events\n",
      final_report ? "told by the next report"
      : python     ? "told at exit()"
                   : "told at _exit()",
      static_cast<long long>(generated), static_cast<long long>(delivered),
      static_cast<long long>(h.count), h.events);
  EXPECT_EQ(delivered + h.count, generated) << "delivered + counted-lost != generated";
  EXPECT_EQ(h.accuracy, "exact");
  EXPECT_GE(10 * h.count, 8 * generated) << "the socket was not overloaded";
  EXPECT_EQ(agent->stats()["lost"]["hook_socket"]["total"].get<int64_t>(), h.count);
}

TEST(OverloadSlow, HookSocketWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (the agent's hook socket under /run)";
  hook_socket_overload(true);
}

TEST(OverloadSlow, HookSocketCountToldAtUnderscoreExit) {
  if (!is_root()) GTEST_SKIP() << "needs root (the agent's hook socket under /run)";
  hook_socket_overload(false);
}

TEST(OverloadSlow, HookSocketCountToldAtExitByTheDestructor) {
  if (!is_root()) GTEST_SKIP() << "needs root (the agent's hook socket under /run)";
  hook_socket_overload(false, true);
}

// The fanotify file sensor while the agent is stopped: a scratch tmpfs (marked whole, so only
// this test's operations reach the group) gets 50000 file creations. The group's kernel queue is
// unlimited, so the kernel keeps them all (no FAN_Q_OVERFLOW); when the agent resumes, its
// drainer thread reads them into a 64 KiB buffer (--ring-bytes) far faster than the handler
// empties it, and every record that finds it full is counted: delivered + lost == generated.
TEST(OverloadSlow, FanotifyWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (fanotify, tmpfs mount)";
  constexpr int64_t kCreates = 50000;
  ScratchMount mnt("256m");
  ASSERT_TRUE(mnt.ok()) << mnt.error();
  const std::string dir = mnt.path() + "/many";
  ASSERT_TRUE(std::filesystem::create_directory(dir));
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "file";
  o.policy_yaml = "settings:\n  file:\n    watch: [{path: " + mnt.path() +
                  ", mark: filesystem}]\n    opens: none\nrules: []\n";
  o.extra_args = {"--ring-bytes", "65536"};
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  ASSERT_TRUE(stop_all_threads(agent->pid()));
  int64_t made = 0;
  for (int64_t i = 0; i < kCreates; ++i) {
    const std::string path = dir + "/f" + std::to_string(i);
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) break;
    close(fd);
    ++made;
  }
  ASSERT_EQ(kill(agent->pid(), SIGCONT), 0);
  ASSERT_EQ(made, kCreates);
  const auto lost_event = agent->wait_for(
      [](const json& ev) {
        return str_field(ev, "ringside.lost.channel") == "file_fanotify.buffer";
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(lost_event) << agent->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // handled, reported
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  int64_t delivered = 0;
  const std::string prefix = dir + "/f";
  const auto events = agent->events();
  for (const json& ev : events) {
    if (str_field(ev, "ringside.sensor") == "fanotify" &&
        str_field(ev, "event.action") == "create" &&
        str_field(ev, "file.path").rfind(prefix, 0) == 0) {
      ++delivered;
    }
  }
  const auto lost = losses_by_channel(events);
  const Losses& b = lost.at("file_fanotify.buffer");
  const int64_t overflowed =
      lost.count("file_fanotify.queue") ? lost.at("file_fanotify.queue").count : 0;
  const int64_t queue_lost = lost.count("event_queue") ? lost.at("event_queue").count : 0;
  std::printf(
      "file_fanotify.buffer: generated %lld creations, delivered %lld, lost %lld in %d "
      "ringside.lost events (buffer 64 KiB); kernel overflows %lld, event queue lost %lld\n",
      static_cast<long long>(made), static_cast<long long>(delivered),
      static_cast<long long>(b.count), b.events, static_cast<long long>(overflowed),
      static_cast<long long>(queue_lost));
  EXPECT_EQ(overflowed, 0) << "the unlimited kernel queue overflowed";
  EXPECT_EQ(queue_lost, 0);
  EXPECT_EQ(b.accuracy, "exact");
  EXPECT_EQ(delivered + b.count, made) << "delivered + counted-lost != generated";
  // How much the buffer sheds depends on how fast this machine drains it; most of it, always.
  EXPECT_GE(2 * b.count, made) << "the buffer was not overloaded";
  EXPECT_EQ(agent->stats()["lost"]["file_fanotify.buffer"]["total"].get<int64_t>(), b.count);
}

}  // namespace
}  // namespace ringside::e2e
