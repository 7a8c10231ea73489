// Loss accounting under overload for NFQUEUE (overload_test.cpp has the other channels): the
// agent is stopped while ten times more new connections than the kernel queue holds are made
// in a network namespace of the test's own.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"
#include "overload_util.hpp"
#include "scoped_netns.hpp"
#include "sensors/kernel/nfqueue_socket.hpp"

namespace ringside::e2e {
namespace {

// NFQUEUE while the agent is stopped, in a network namespace of the test's own: ten times more
// new connections than the kernel queue holds (4096 packets). Fail-closed: packets that found
// the queue full are dropped and counted by the kernel (queue_dropped), which the agent reports.
// Fail-open: the kernel lets them through and counts them nowhere; the agent counts them from
// its NFQUEUE rules' counters (nfqueue.bypass). Either way every packet the kernel gave an id
// reached the agent or is counted as a gap, and delivered + lost == packets the rules queued.
void nfqueue_overload(bool fail_open) {
  const uint16_t queue = fail_open ? 44 : 43;
  constexpr int kQueueMax = 4096;  // the queue length the agent configures (nfqueue_socket.cpp)
  constexpr int kConnects = 10 * kQueueMax;
  ScopedNetns ns;
  ASSERT_TRUE(ns.ok()) << ns.error();
  if (run({"iptables", "-w", "-S"}).exit_code != 0) GTEST_SKIP() << "iptables does not work";
  AgentProcess::Options o;
  o.levels = "kernel";
  o.domains = "network";
  o.policy_yaml = std::string("settings:\n  fail_mode: ") + (fail_open ? "open" : "closed") +
                  "\n  network: {nfqueue: all, queue: " + std::to_string(queue) + "}\nrules: []\n";
  auto agent = start_agent(o);
  ASSERT_TRUE(agent);
  int made = 0;
  ASSERT_TRUE(stop_all_threads(agent->pid()));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // nothing listens: an accepted SYN gets a reset
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kConnects; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    // The SYN is on its way (queued, dropped or let through at a full queue); closing a
    // connecting socket sends nothing more, so every connection is exactly one packet.
    (void)connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    close(fd);
    ++made;
  }
  ASSERT_EQ(kill(agent->pid(), SIGCONT), 0);
  ASSERT_EQ(made, kConnects);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the once-a-second report
  std::stringstream table;
  table << std::ifstream("/proc/net/netfilter/nfnetlink_queue").rdbuf();
  const auto kernel = parse_queue_drops(table.str(), queue);
  ASSERT_TRUE(kernel) << table.str();
  ASSERT_EQ(agent->stop(), 0) << agent->log();
  const auto events = agent->events();
  int64_t delivered = 0;
  for (const json& ev : events) {
    // One event per packet the agent decided (connect on the way out, accept on the way in).
    delivered +=
        str_field(ev, "ringside.sensor") == "nfqueue" && int_field(ev, "destination.port") == 9;
  }
  const auto lost = losses_by_channel(events);
  auto lost_on = [&](const char* channel) -> int64_t {
    return lost.count(channel) ? lost.at(channel).count : 0;
  };
  const int64_t dropped = lost_on("nfqueue.kernel");
  const int64_t gaps = lost_on("nfqueue.socket");
  const int64_t work = lost_on("nfqueue.work_queue");
  const int64_t bypass = lost_on("nfqueue.bypass");
  std::printf(
      "nfqueue (fail-%s): %d connects; kernel: %llu queued (ids) + %llu dropped (queue full), "
      "%llu user_dropped; agent: delivered %lld, lost nfqueue.kernel %lld, nfqueue.bypass %lld, "
      "nfqueue.socket %lld, nfqueue.work_queue %lld\n",
      fail_open ? "open" : "closed", made, static_cast<unsigned long long>(kernel->id_sequence),
      static_cast<unsigned long long>(kernel->queue_dropped),
      static_cast<unsigned long long>(kernel->user_dropped), static_cast<long long>(delivered),
      static_cast<long long>(dropped), static_cast<long long>(bypass), static_cast<long long>(gaps),
      static_cast<long long>(work));
  EXPECT_EQ(dropped, static_cast<int64_t>(kernel->queue_dropped));
  const int64_t taken = static_cast<int64_t>(kernel->id_sequence + kernel->queue_dropped);
  if (fail_open) {
    EXPECT_EQ(dropped, 0) << "fail-open drops nothing";
    EXPECT_EQ(delivered + gaps + work + bypass, kConnects)
        << "delivered + counted-lost != packets the queue rule saw";
    EXPECT_EQ(bypass, kConnects - taken);
    EXPECT_GE(bypass + gaps, 9 * kQueueMax) << "not a 10x overload";
  } else {
    EXPECT_GE(taken, kConnects) << "every first SYN passes the queue rule";
    EXPECT_EQ(bypass, 0) << "fail-closed lets nothing through";
    EXPECT_EQ(delivered + dropped + gaps + work, taken)
        << "delivered + counted-lost != packets the queue rule saw";
    EXPECT_GE(dropped + gaps, 9 * kQueueMax) << "not a 10x overload";
  }
}

TEST(OverloadSlow, NfqueueWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (network namespace, iptables)";
  nfqueue_overload(false);
}

TEST(OverloadSlow, NfqueueFailOpenWhileAgentStopped) {
  if (!is_root()) GTEST_SKIP() << "needs root (network namespace, iptables)";
  nfqueue_overload(true);
}

}  // namespace
}  // namespace ringside::e2e
