// End to end: the real agent decides new connections and reads DNS through NFQUEUE, inside a
// network namespace this test creates (the test thread enters it; the agent, the clients and
// every iptables command start from that thread and live in it). Nothing touches the host's
// namespace; the namespace and any rule left in it go away with the last process in it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "e2e_util.hpp"
#include "scoped_netns.hpp"

namespace ringside::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kDeniedPort = 9999;
constexpr uint16_t kAllowedPort = 9998;

std::string self_name() { return std::filesystem::canonical("/proc/self/exe").filename().string(); }

struct ConnectResult {
  int err = 0;  // 0: connected
  std::chrono::milliseconds took{0};
  uint16_t local_port = 0;
};

// A blocking connect from this process, bounded by SO_SNDTIMEO.
ConnectResult connect_tcp(uint16_t port, std::chrono::seconds timeout = 5s) {
  ConnectResult r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Bind first so the local port is known even when the connect fails.
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  socklen_t len = sizeof local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  r.local_port = ntohs(local.sin_port);
  const auto t0 = Clock::now();
  r.err = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  close(fd);
  return r;
}

std::string iptables_rules() {
  auto r = run({"iptables", "-w", "-S"});
  auto r6 = run({"ip6tables", "-w", "-S"});
  return r.out + r6.out;
}

bool mentions_ringside(const std::string& rules) {
  return rules.find("RINGSIDE") != std::string::npos;
}

class Nfqueue : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    ns_ = std::make_unique<ScopedNetns>();
    ASSERT_TRUE(ns_->ok()) << ns_->error();
    if (run({"iptables", "-w", "-S"}).exit_code != 0) GTEST_SKIP() << "iptables does not work";
  }
  void TearDown() override {
    if (agent_) agent_->kill9();
    agent_.reset();
    ns_.reset();  // the namespace (and any rule in it) goes with its last process
  }

  void start_agent(const std::string& policy) {
    AgentProcess::Options o;
    o.policy_yaml = policy;
    o.levels = "kernel";
    o.domains = "network";
    std::string err;
    agent_ = AgentProcess::start(o, &err);
    ASSERT_NE(agent_, nullptr) << err;
    for (const auto& s : agent_->ready()["sensors"]) {
      if (s["name"] == "nfqueue") {
        ASSERT_EQ(s["state"], "live") << s.dump();
      }
    }
  }

  std::string ebpf_state() const {
    for (const auto& s : agent_->ready()["sensors"]) {
      if (s["name"] == "network_ebpf") return s.value("state", "") + " " + s.value("reason", "");
    }
    return "absent";
  }

  // A deny rule the socket programs cannot decide (a process field), so it goes to NFQUEUE.
  std::string deny_policy(const std::string& fail_mode = "open") const {
    return "settings:\n  fail_mode: " + fail_mode +
           "\n  network: {nfqueue: rules, queue: 41}\n"
           "rules:\n"
           "  - name: nfq-no-9999-from-test\n"
           "    on: network.connect\n"
           "    match:\n"
           "      destination.port: 9999\n"
           "      process.name: {glob: \"" +
           self_name() + "*\"}\n    action: deny\n";
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(Nfqueue, DeniedConnectFailsAtOnceAndAllowedTrafficFlows) {
  const int denied = listen_tcp(kDeniedPort, 64), allowed = listen_tcp(kAllowedPort, 64);
  ASSERT_GE(denied, 0);
  ASSERT_GE(allowed, 0);
  ASSERT_NO_FATAL_FAILURE(start_agent(deny_policy()));
  EXPECT_TRUE(mentions_ringside(iptables_rules()));

  const ConnectResult bad = connect_tcp(kDeniedPort);
  EXPECT_EQ(bad.err, ECONNREFUSED) << std::strerror(bad.err);
  EXPECT_LT(bad.took, 1000ms) << "the client should fail at once (reset), not time out";
  const ConnectResult good = connect_tcp(kAllowedPort);
  EXPECT_EQ(good.err, 0) << std::strerror(good.err);

  // The same port from another program is not this rule's business.
  auto other = run({"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9999 && echo connected"}, {}, 10s);
  EXPECT_EQ(other.out, "connected\n") << other.err;

  auto ev = agent_->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "connect" &&
           str_field(e, "ringside.sensor") == "nfqueue" &&
           int_field(e, "source.port") == bad.local_port;
  });
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "nfq-no-9999-from-test");
  EXPECT_EQ(str_field(*ev, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*ev, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(int_field(*ev, "destination.port"), kDeniedPort);
  EXPECT_EQ(str_field(*ev, "source.ip"), "127.0.0.1");
  EXPECT_EQ(str_field(*ev, "network.transport"), "tcp");
  EXPECT_EQ(str_field(*ev, "network.type"), "ipv4");
  EXPECT_EQ(int_field(*ev, "process.pid"), getpid())
      << "attribution (eBPF: " << ebpf_state() << ")";
  EXPECT_EQ(str_field(*ev, "process.name"), self_name());

  auto ok_ev = agent_->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "connect" &&
           int_field(e, "source.port") == good.local_port;
  });
  ASSERT_TRUE(ok_ev);
  EXPECT_EQ(str_field(*ok_ev, "ringside.verdict"), "allow");
  EXPECT_EQ(int_field(*ok_ev, "destination.port"), kAllowedPort);

  EXPECT_EQ(agent_->stop(), 0);
  const json st = agent_->stats();
  EXPECT_FALSE(mentions_ringside(iptables_rules())) << iptables_rules();
  close(denied);
  close(allowed);
  ASSERT_TRUE(st.contains("sensors") && st["sensors"].contains("nfqueue")) << st.dump();
  const json& s = st["sensors"]["nfqueue"];
  EXPECT_GE(s["seen"].get<int64_t>(), 3) << s.dump();
  EXPECT_GE(s["denied"].get<int64_t>(), 1) << s.dump();
  EXPECT_EQ(s["defaulted"].get<int64_t>(), 0) << s.dump();
  EXPECT_EQ(s["errors"].get<int64_t>(), 0) << s.dump();
}

TEST_F(Nfqueue, AttributionThroughTheEbpfFlowMap) {
  const int denied = listen_tcp(kDeniedPort, 64);
  ASSERT_GE(denied, 0);
  ASSERT_NO_FATAL_FAILURE(start_agent(deny_policy()));
  const std::string state = ebpf_state();
  if (state.rfind("live", 0) != 0) {
    close(denied);
    GTEST_SKIP() << "the eBPF network sensor is not running (" << state
                 << "); NFQUEUE attributed from /proc instead (checked by the other tests)";
  }
  const ConnectResult bad = connect_tcp(kDeniedPort);
  EXPECT_EQ(bad.err, ECONNREFUSED);
  auto ev = agent_->wait_for([&](const json& e) {
    return str_field(e, "ringside.sensor") == "nfqueue" &&
           int_field(e, "source.port") == bad.local_port;
  });
  ASSERT_TRUE(ev);
  EXPECT_EQ(int_field(*ev, "process.pid"), getpid());
  close(denied);
}

// A tiny DNS server on 127.0.0.1:53 in the namespace: answers one A query with 192.0.2.55.
class DnsResponder {
 public:
  DnsResponder() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    thread_ = std::thread([this] { serve(); });
  }
  ~DnsResponder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  bool ok() const { return thread_.joinable(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      uint8_t buf[512];
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 12) continue;
      std::vector<uint8_t> r(buf, buf + n);
      r[2] = 0x81;
      r[3] = 0x80;
      r[7] = 1;  // one answer
      r.insert(r.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 55});
      sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(Nfqueue, DnsQueryAndAnswerAreReported) {
  DnsResponder server;
  ASSERT_TRUE(server.ok());
  ASSERT_NO_FATAL_FAILURE(
      start_agent("settings:\n  network: {nfqueue: rules, queue: 42, dns: true}\nrules: []\n"));
  const std::string label = "nfq-marker-" + std::to_string(getpid());
  std::vector<uint8_t> q = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  q.push_back(static_cast<uint8_t>(label.size()));
  q.insert(q.end(), label.begin(), label.end());
  q.insert(q.end(), {4, 't', 'e', 's', 't', 0, 0, 1, 0, 1});
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  sockaddr_in local{};
  socklen_t ll = sizeof local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll);
  ASSERT_EQ(send(fd, q.data(), q.size(), 0), static_cast<ssize_t>(q.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 3000), 1) << "no DNS answer through the queue";
  uint8_t buf[512];
  EXPECT_GT(recv(fd, buf, sizeof buf, 0), 12);
  close(fd);

  const std::string name = label + ".test";
  auto query = agent_->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "dns" && str_field(e, "dns.type") == "query" &&
           str_field(e, "dns.question.name") == name;
  });
  ASSERT_TRUE(query) << agent_->log();
  EXPECT_EQ(str_field(*query, "ringside.sensor"), "nfqueue");
  EXPECT_EQ(str_field(*query, "dns.question.type"), "A");
  EXPECT_EQ(int_field(*query, "source.port"), ntohs(local.sin_port));
  EXPECT_EQ(int_field(*query, "destination.port"), 53);
  EXPECT_EQ(str_field(*query, "network.transport"), "udp");
  EXPECT_EQ(int_field(*query, "process.pid"), getpid());
  auto answer = agent_->wait_for([&](const json& e) {
    return str_field(e, "event.action") == "dns" && str_field(e, "dns.type") == "answer" &&
           str_field(e, "dns.question.name") == name;
  });
  ASSERT_TRUE(answer) << agent_->log();
  const json* ips = field(*answer, "dns.resolved_ip");
  ASSERT_NE(ips, nullptr);
  ASSERT_TRUE(ips->is_array());
  ASSERT_EQ(ips->size(), 1U);
  EXPECT_EQ((*ips)[0], "192.0.2.55");
  EXPECT_EQ(int_field(*answer, "process.pid"), getpid());
}

TEST_F(Nfqueue, KilledAgentLeavesTrafficFlowingAndTheNextStartCleansUp) {
  const int denied = listen_tcp(kDeniedPort, 64);
  ASSERT_GE(denied, 0);
  ASSERT_NO_FATAL_FAILURE(start_agent(deny_policy("open")));
  ASSERT_EQ(connect_tcp(kDeniedPort).err, ECONNREFUSED);

  // Freeze the agent so a SYN waits in the queue, then kill it with the packet queued.
  ASSERT_TRUE(stop_all_threads(agent_->pid())) << "the agent did not stop";
  std::atomic<int> queued_err{-1};
  std::atomic<int64_t> queued_ms{0};
  std::thread client([&] {
    const ConnectResult r = connect_tcp(kDeniedPort, 10s);
    queued_ms = r.took.count();
    queued_err = r.err;
  });
  std::this_thread::sleep_for(300ms);
  agent_->kill9();
  client.join();
  // The kernel drops what was queued when the listener dies; the SYN's retransmission passes
  // (--queue-bypass), so the connect completes instead of hanging.
  EXPECT_EQ(queued_err.load(), 0) << std::strerror(queued_err.load());
  EXPECT_LT(queued_ms.load(), 5000);
  const ConnectResult after = connect_tcp(kDeniedPort);
  EXPECT_EQ(after.err, 0) << "fail open: no listener, traffic flows";
  EXPECT_LT(after.took, 500ms);
  EXPECT_TRUE(mentions_ringside(iptables_rules())) << "a SIGKILLed agent cannot remove its chain";

  // The next start removes the stale chain before installing its own: one jump, not two.
  ASSERT_NO_FATAL_FAILURE(start_agent(deny_policy("open")));
  const std::string rules = run({"iptables", "-w", "-S"}).out;
  size_t jumps = 0;
  for (size_t at = rules.find("-A OUTPUT -j RINGSIDE-OUT"); at != std::string::npos;
       at = rules.find("-A OUTPUT -j RINGSIDE-OUT", at + 1)) {
    ++jumps;
  }
  EXPECT_EQ(jumps, 1U) << rules;
  EXPECT_EQ(connect_tcp(kDeniedPort).err, ECONNREFUSED);
  EXPECT_EQ(agent_->stop(), 0);
  EXPECT_FALSE(mentions_ringside(iptables_rules()));
  close(denied);
}

}  // namespace
}  // namespace ringside::e2e
