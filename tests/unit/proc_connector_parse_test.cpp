// Parsing of proc connector datagrams, and the (pid, start time) check behind every late kill.

#include <gtest/gtest.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "sensors/kernel/late_kill.hpp"
#include "sensors/kernel/proc_connector.hpp"

namespace ringside {
namespace {

using proc_connector::Message;

// Appends one netlink message carrying `ev` (with connector id `idx`) to `out`.
void append(std::vector<uint8_t>& out, const proc_event& ev, uint32_t idx = CN_IDX_PROC,
            size_t event_len = sizeof(proc_event), uint32_t seq = 0) {
  const size_t len = NLMSG_LENGTH(sizeof(cn_msg) + event_len);
  std::vector<uint8_t> msg(NLMSG_ALIGN(len), 0);
  nlmsghdr nl{};
  nl.nlmsg_len = static_cast<uint32_t>(len);
  nl.nlmsg_type = NLMSG_DONE;
  cn_msg cn{};
  cn.id.idx = idx;
  cn.id.val = CN_VAL_PROC;
  cn.len = static_cast<uint16_t>(event_len);
  cn.seq = seq;
  std::memcpy(msg.data(), &nl, sizeof nl);
  std::memcpy(msg.data() + NLMSG_HDRLEN, &cn, sizeof cn);
  std::memcpy(msg.data() + NLMSG_HDRLEN + sizeof cn, &ev, std::min(event_len, sizeof ev));
  out.insert(out.end(), msg.begin(), msg.end());
}

proc_event make(decltype(proc_event::what) what) {
  proc_event ev{};
  ev.what = what;
  ev.timestamp_ns = 123456789;
  return ev;
}

TEST(ProcConnectorParse, ForkExecExitInOneDatagram) {
  std::vector<uint8_t> d;
  proc_event fork = make(proc_event::PROC_EVENT_FORK);
  fork.event_data.fork = {100, 100, 200, 200};
  append(d, fork);
  proc_event exec = make(proc_event::PROC_EVENT_EXEC);
  exec.event_data.exec = {200, 200};
  append(d, exec);
  proc_event exit = make(proc_event::PROC_EVENT_EXIT);
  exit.event_data.exit.process_pid = 200;
  exit.event_data.exit.process_tgid = 200;
  exit.event_data.exit.exit_code = 5 << 8;
  append(d, exit);
  append(d, make(proc_event::PROC_EVENT_COMM));

  std::vector<Message> out;
  EXPECT_EQ(proc_connector::parse(d.data(), d.size(), out), 0u);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].kind, Message::Kind::kFork);
  EXPECT_EQ(out[0].tgid, 200);
  EXPECT_EQ(out[0].parent_tgid, 100);
  EXPECT_EQ(out[0].timestamp_ns, 123456789u);
  EXPECT_EQ(out[1].kind, Message::Kind::kExec);
  EXPECT_EQ(out[1].pid, 200);
  EXPECT_EQ(out[2].kind, Message::Kind::kExit);
  EXPECT_EQ(out[2].exit_status, 5u << 8);
  EXPECT_EQ(out[3].kind, Message::Kind::kOther);
}

// Each message carries the CPU and the number the kernel gave it there; a jump in one CPU's
// numbers is what the socket lost.
TEST(ProcConnectorParse, PerCpuNumbersCountMissedMessages) {
  std::vector<uint8_t> d;
  proc_event exec = make(proc_event::PROC_EVENT_EXEC);
  exec.cpu = 3;
  append(d, exec, CN_IDX_PROC, sizeof(proc_event), 41);
  std::vector<Message> out;
  ASSERT_EQ(proc_connector::parse(d.data(), d.size(), out), 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].cpu, 3);
  EXPECT_EQ(out[0].seq, 41u);

  proc_connector::SeqTracker t;
  EXPECT_EQ(t.missed(0, 100), 0u);  // the first from a CPU: nothing known before it
  EXPECT_EQ(t.missed(1, 7), 0u);
  EXPECT_EQ(t.missed(0, 101), 0u);
  EXPECT_EQ(t.missed(0, 105), 3u);  // 102, 103, 104
  EXPECT_EQ(t.missed(1, 8), 0u);    // CPUs count apart
  EXPECT_EQ(t.missed(1, 10), 1u);
  EXPECT_EQ(t.missed(5, 0xFFFFFFFFu), 0u);
  EXPECT_EQ(t.missed(5, 1), 1u);   // across the wrap: 0 was missed
  EXPECT_EQ(t.missed(0, 50), 0u);  // backwards: a new start, not four billion losses
  EXPECT_EQ(t.missed(0, 52), 1u);
  EXPECT_EQ(t.missed(-1, 9), 0u);  // no CPU
  EXPECT_EQ(t.missed(1 << 20, 9), 0u);
}

TEST(ProcConnectorParse, CountsMalformedMessages) {
  std::vector<uint8_t> d;
  proc_event exec = make(proc_event::PROC_EVENT_EXEC);
  exec.event_data.exec = {7, 7};
  append(d, exec, CN_IDX_PROC + 1);  // another connector
  append(d, exec, CN_IDX_PROC, 8);   // too short to be an event
  append(d, exec);                   // fine
  std::vector<Message> out;
  EXPECT_EQ(proc_connector::parse(d.data(), d.size(), out), 2u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tgid, 7);

  // A length beyond the datagram ends parsing.
  std::vector<uint8_t> cut;
  append(cut, exec);
  out.clear();
  EXPECT_EQ(proc_connector::parse(cut.data(), cut.size() - 4, out), 1u);
  EXPECT_TRUE(out.empty());
}

TEST(LateKill, ReadsStartTimeDespiteOddNames) {
  const auto root =
      std::filesystem::temp_directory_path() / ("rs-fake-proc-" + std::to_string(getpid()));
  std::filesystem::create_directories(root / "77");
  std::ofstream(root / "77" / "stat")
      << "77 (a) b (c) S 1 77 77 0 -1 4194560 10 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10\n";
  const auto s = proc_start(77, root.string());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->start_ticks, 98765);
  EXPECT_FALSE(s->zombie);
  EXPECT_FALSE(proc_start(78, root.string()));
  std::filesystem::remove_all(root);
}

TEST(LateKill, KillsOnlyTheProcessThatStartedThen) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  const auto s = proc_start(child);
  ASSERT_TRUE(s);
  // Another start time: a different process with the same pid; left alone.
  EXPECT_EQ(late_kill(child, s->start_ticks + 1).outcome, LateKillOutcome::kGone);
  EXPECT_EQ(kill(child, 0), 0);
  EXPECT_EQ(late_kill(child, s->start_ticks).outcome, LateKillOutcome::kKilled);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(late_kill(child, s->start_ticks).outcome, LateKillOutcome::kGone);
  EXPECT_EQ(enforcement_of(LateKillOutcome::kKilled), "late_kill");
  EXPECT_EQ(enforcement_of(LateKillOutcome::kGone), "none");
}

}  // namespace
}  // namespace ringside
