// End to end: the agent SIGKILLed while processes wait on its deny decisions, trial after
// trial, per blocking mechanism — fanotify exec permission (100 kills) and open permission on
// a scratch tmpfs, NFQUEUE in a network namespace this test creates and the cgroup connect
// program on a child cgroup it creates. Each trial starts the agent, checks that it restored
// its marks, maps and firewall chain (denials work, a dead agent's chain is not duplicated),
// stops it, starts callers that wait on it, kills it, and checks that every caller finishes
// within a bound and that no cgroup program outlives the agent. RINGSIDE_KILL_TRIALS,
// _OPEN and _NET change the counts (agent start-up, mostly BPF verification, is the cost).

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "e2e_util.hpp"
#include "scoped_netns.hpp"
#include "scratch_cgroup.hpp"
#include "scratch_mount.hpp"
#include "sensors/kernel/network_ebpf.hpp"
#include "waiters.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kNfqDenied = 9999;     // denied through NFQUEUE (a process condition)
constexpr uint16_t kCgroupDenied = 9997;  // denied by the cgroup connect program
constexpr uint16_t kAllowed = 9998;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// connect4 programs attached to the cgroup itself (bpftool lists links and legacy
// BPF_PROG_ATTACH attachments alike).
size_t cgroup_programs(const std::string& cgroup) {
  return count_of(run({"bpftool", "cgroup", "show", cgroup}).out, "connect4");
}

class KillTrialsSlow : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    ns_ = std::make_unique<ScopedNetns>();
    ASSERT_TRUE(ns_->ok()) << "cannot enter a new network namespace";
    if (run({"iptables", "-w", "-S"}).exit_code != 0) GTEST_SKIP() << "iptables does not work";
    if (run({"bpftool", "version"}).exit_code != 0) GTEST_SKIP() << "bpftool is not installed";
    cg_ = std::make_unique<ScratchCgroup>("killtrials");
    ASSERT_FALSE(cg_->path().empty()) << "cannot create a child cgroup";
    mnt_ = std::make_unique<ScratchMount>();
    ASSERT_TRUE(mnt_->ok()) << mnt_->error();
    std::ofstream(mnt_->file("secret")) << "secret";
    std::ofstream(mnt_->file("other")) << "other";
    ASSERT_EQ(mkdir(mnt_->file("stage").c_str(), 0755), 0);
    forbidden_ = copy_program("/bin/true", mnt_->file("forbidden"));
    allowed_ = copy_program("/bin/true", mnt_->file("allowed"));
    for (uint16_t p : {kNfqDenied, kCgroupDenied, kAllowed}) {
      listeners_.push_back(listen_tcp(p, 512));
      ASSERT_GE(listeners_.back(), 0);
    }
  }
  void TearDown() override {
    if (agent_) agent_->kill9();  // before the unmount and the cgroup's removal
    agent_.reset();
    for (int fd : listeners_) close(fd);
    mnt_.reset();
    cg_.reset();
    ns_.reset();
  }

  std::string policy() const {
    const std::string self = std::filesystem::canonical("/proc/self/exe").filename().string();
    return "settings:\n  decision_deadline_ms: 2000\n  file:\n    watch: [{path: " + mnt_->path() +
           "}]\n    opens: none\n  network: {cgroup: " + cg_->path() +
           ", nfqueue: rules, queue: 43, dns: false}\nrules:\n"
           "  - {name: no-secret, on: file.open, match: {file.path: " +
           mnt_->file("secret") +
           "}, action: deny}\n"
           "  - {name: no-forbidden, on: process.exec, match: {process.executable: " +
           forbidden_ +
           "}, action: deny}\n"
           "  - {name: cg-no-9997, on: network.connect, match: {destination.port: 9997}, "
           "action: deny}\n"
           "  - {name: nfq-no-9999, on: network.connect, match: {destination.port: 9999, "
           "process.name: {glob: \"" +
           self + "*\"}}, action: deny}\n";
  }

  void start_agent(const std::string& domains) {
    AgentProcess::Options o;
    o.policy_yaml = policy();
    o.levels = "kernel";
    o.domains = domains;
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
  }

  // One mechanism's trials: start the agent, `check` what it restored (denials work, nothing
  // duplicated), stop it, start the `waiting` callers, SIGKILL it, and check every caller
  // finishes (successfully: the kernel allows what a dead agent left pending) within 8 s;
  // then `after_kill` checks what the dead agent left. Prints the longest wait after a kill.
  void trials(const std::string& domains, int count, const std::function<void(int)>& check,
              const std::function<std::vector<Waiter>(int)>& waiting,
              const std::function<void()>& after_kill, std::chrono::milliseconds bound) {
    std::chrono::milliseconds longest{0};
    std::string longest_what;
    const auto t0 = Clock::now();
    for (int t = 0; t < count; ++t) {
      SCOPED_TRACE("trial " + std::to_string(t));
      ASSERT_NO_FATAL_FAILURE(start_agent(domains));
      ASSERT_NO_FATAL_FAILURE(check(t));
      ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
      std::vector<Waiter> ws = waiting(t);
      std::this_thread::sleep_for(30ms);  // callers are inside their system call
      for (auto& w : ws) {                // and none got through without the agent
        if (waitpid(w.pid, &w.status, WNOHANG) == w.pid) {
          w.finished = true;
          ADD_FAILURE() << w.what << " did not wait for the stopped agent";
        }
      }
      agent_->kill9();
      const auto killed = Clock::now();
      reap_waiters(ws, 8s);
      for (const auto& w : ws) {
        ASSERT_TRUE(w.finished) << w.what << " still blocked 8 s after the agent died";
        EXPECT_EQ(WEXITSTATUS(w.status), 0) << w.what;
        const auto after =
            std::chrono::duration_cast<std::chrono::milliseconds>(w.started + w.waited - killed);
        if (after > longest) {
          longest = after;
          longest_what = w.what;
        }
      }
      ASSERT_NO_FATAL_FAILURE(after_kill());
      agent_.reset();
    }
    const auto total = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0);
    std::cout << count << " SIGKILL trials (" << domains << ", " << total.count()
              << " s): longest wait after the kill " << longest.count() << " ms (" << longest_what
              << ")\n";
    EXPECT_LE(longest, bound);
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::unique_ptr<ScratchCgroup> cg_;
  std::unique_ptr<ScratchMount> mnt_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<int> listeners_;
  std::string forbidden_, allowed_;
};

int trials_from_env(const char* name, int fallback) {
  const char* v = std::getenv(name);  // NOLINT
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

void expect_status(const std::vector<Waiter>& ws, size_t i, int code, const char* what) {
  ASSERT_LT(i, ws.size());
  ASSERT_TRUE(ws[i].finished) << ws[i].what;
  EXPECT_EQ(WEXITSTATUS(ws[i].status), code) << what;
}

// Exec permission (fanotify FAN_OPEN_EXEC_PERM): 100 kills with execs waiting.
TEST_F(KillTrialsSlow, ExecPermission100) {
  trials(
      "process", trials_from_env("RINGSIDE_KILL_TRIALS", 100),
      [&](int) {
        std::vector<Waiter> ws{start_exec_waiter(forbidden_), start_exec_waiter(allowed_)};
        reap_waiters(ws, 5s);
        expect_status(ws, 0, 127, "exec of the denied program worked");
        expect_status(ws, 1, 0, "exec of an allowed program failed");
      },
      [&](int) {
        return std::vector<Waiter>{start_exec_waiter(allowed_), start_exec_waiter(allowed_)};
      },
      [] {}, 1000ms);
}

// Open permission (fanotify FAN_OPEN_PERM) next to the file notification group.
TEST_F(KillTrialsSlow, OpenPermission) {
  trials(
      "file", trials_from_env("RINGSIDE_KILL_TRIALS_OPEN", 20),
      [&](int t) {
        std::vector<Waiter> ws{start_open_waiter(mnt_->file("secret")),
                               start_open_waiter(mnt_->file("other"))};
        reap_waiters(ws, 5s);
        expect_status(ws, 0, 1, "open of the denied file worked");
        expect_status(ws, 1, 0, "open of an allowed file failed");
        // The callers below use files no agent has seen (an allowed open is cached in an
        // ignore mark), made outside the marked directory and renamed in: no open there.
        const std::string w = "w" + std::to_string(t), x = "x" + std::to_string(t);
        std::ofstream(mnt_->file("stage/" + w)) << "w";
        copy_program("/bin/true", mnt_->file("stage/" + x));
        ASSERT_EQ(rename(mnt_->file("stage/" + w).c_str(), mnt_->file(w).c_str()), 0);
        ASSERT_EQ(rename(mnt_->file("stage/" + x).c_str(), mnt_->file(x).c_str()), 0);
      },
      [&](int t) {
        return std::vector<Waiter>{start_open_waiter(mnt_->file("w" + std::to_string(t))),
                                   start_exec_waiter(mnt_->file("x" + std::to_string(t)))};
      },
      [] {}, 1000ms);
}

// NFQUEUE (chain in this test's network namespace) and the cgroup connect program (on this
// test's child cgroup): the chain is installed once however many agents died before, the
// program is attached once, and it goes with the agent (a BPF link, not BPF_PROG_ATTACH).
TEST_F(KillTrialsSlow, NetworkQueueAndCgroup) {
  trials(
      "network", trials_from_env("RINGSIDE_KILL_TRIALS_NET", 20),
      [&](int) {
        const std::string rules = run({"iptables", "-w", "-S", "OUTPUT"}).out;
        ASSERT_EQ(count_of(rules, "-j RINGSIDE-OUT"), 1U) << rules;
        ASSERT_EQ(cgroup_programs(cg_->path()), 1U)
            << run({"bpftool", "cgroup", "show", cg_->path()}).out;
        std::vector<Waiter> ws{start_connect_waiter(kCgroupDenied, cg_->path()),
                               start_connect_waiter(kNfqDenied), start_connect_waiter(kAllowed)};
        reap_waiters(ws, 6s);
        expect_status(ws, 0, EPERM, "the cgroup program did not deny");
        expect_status(ws, 1, ECONNREFUSED, "NFQUEUE did not deny");
        expect_status(ws, 2, 0, "an allowed connect failed");
      },
      [&](int) { return std::vector<Waiter>{start_connect_waiter(kAllowed)}; },
      [&] {
        EXPECT_EQ(cgroup_programs(cg_->path()), 0U)
            << run({"bpftool", "cgroup", "show", cg_->path()}).out;
      },
      // A SYN queued when the agent died is dropped with the queue; TCP sends it again after
      // its initial retransmission timeout (1 s), and the queue is then bypassed.
      2500ms);
}

}  // namespace
}  // namespace ringside::e2e
