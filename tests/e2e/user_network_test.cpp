// The interposer's socket hooks end to end: the real agent (`ringside run --levels user
// --domains network`), the real libringside-preload.so, and tests/e2e/programs/net_caller,
// which moves itself into a network namespace of its own (loopback only) and a mount namespace
// whose /etc/hosts the test writes, then connects, binds, accepts, sends and resolves. Nothing
// touches the host's network.
#include <netdb.h>

#include <gtest/gtest.h>

#include <regex>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

int64_t number_after(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("(^|\\s)" + key + "=(-?[0-9]+)"))) return -1;
  return std::stoll(m[2].str());
}

class UserNetwork : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    dir_ = std::make_unique<ScratchDir>("user-network");
    hosts_ = dir_->write("hosts",
                         "127.0.0.1 localhost\n127.0.0.1 four.ringside.test\n"
                         "::1 six.ringside.test\n");
  }

  void start_agent(const std::string& policy = "rules: []\n") {
    AgentProcess::Options o;
    o.levels = "user";
    o.domains = "network";
    o.policy_yaml = policy;
    std::string error;
    agent_ = AgentProcess::start(o, &error);
    ASSERT_NE(agent_, nullptr) << error;
  }

  RunResult call(std::vector<std::string> args) const {
    args.insert(args.begin(), hosts_);
    args.insert(args.begin(), programs() + "/net_caller");
    return run(args, agent_->hook_env());
  }

  std::optional<json> event(const std::string& action, const std::string& hook, int64_t pid,
                            std::chrono::milliseconds timeout = 10s) const {
    return agent_->wait_for(
        [&](const json& ev) {
          return str_field(ev, "ringside.sensor") == "preload" &&
                 str_field(ev, "event.action") == action &&
                 str_field(ev, "ringside.hook") == hook && int_field(ev, "process.pid") == pid;
        },
        timeout);
  }

  void expect_common(const json& ev) const {
    EXPECT_EQ(str_field(ev, "event.category"), "network");
    EXPECT_EQ(str_field(ev, "ringside.level"), "user");
    EXPECT_EQ(str_field(ev, "process.executable"), programs() + "/net_caller");
    EXPECT_EQ(int_field(ev, "user.id"), 0);
  }

  std::unique_ptr<ScratchDir> dir_;
  std::string hosts_;
  std::unique_ptr<AgentProcess> agent_;
};

using user_network = UserNetwork;

struct TcpCase {
  const char* scenario;
  const char* ip;
  const char* type;
};

TEST_F(user_network, TcpBindConnectAcceptOverIpv4AndIpv6) {
  start_agent();
  for (const TcpCase& c : {TcpCase{"tcp4", "127.0.0.1", "ipv4"}, TcpCase{"tcp6", "::1", "ipv6"}}) {
    const RunResult r = call({c.scenario, "4711"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const int64_t pid = number_after(r.out, "caller pid");
    const int64_t client_port = number_after(r.out, "client_port");
    ASSERT_GT(client_port, 0) << r.out;

    auto bind = event("bind", "bind", pid);
    ASSERT_TRUE(bind) << c.scenario << agent_->log();
    expect_common(*bind);
    EXPECT_EQ(str_field(*bind, "source.ip"), c.ip);
    EXPECT_EQ(int_field(*bind, "source.port"), 4711);
    EXPECT_EQ(str_field(*bind, "network.transport"), "tcp");
    EXPECT_EQ(str_field(*bind, "network.type"), c.type);

    auto conn = event("connect", "connect", pid);
    ASSERT_TRUE(conn) << c.scenario << agent_->log();
    expect_common(*conn);
    EXPECT_EQ(str_field(*conn, "destination.ip"), c.ip);
    EXPECT_EQ(int_field(*conn, "destination.port"), 4711);
    EXPECT_EQ(str_field(*conn, "network.transport"), "tcp");
    EXPECT_EQ(str_field(*conn, "network.type"), c.type);
    EXPECT_EQ(str_field(*conn, "event.outcome"), "unknown");  // reported before it happens

    auto acc = event("accept", "accept", pid);
    ASSERT_TRUE(acc) << c.scenario << agent_->log();
    expect_common(*acc);
    // source: the peer that connected; destination: the listening end.
    EXPECT_EQ(str_field(*acc, "source.ip"), c.ip);
    EXPECT_EQ(int_field(*acc, "source.port"), client_port);
    EXPECT_EQ(str_field(*acc, "destination.ip"), c.ip);
    EXPECT_EQ(int_field(*acc, "destination.port"), 4711);
    EXPECT_EQ(str_field(*acc, "network.transport"), "tcp");
  }
}

TEST_F(user_network, UdpSendtoOverIpv4AndIpv6) {
  start_agent();
  for (const TcpCase& c : {TcpCase{"udp4", "127.0.0.1", "ipv4"}, TcpCase{"udp6", "::1", "ipv6"}}) {
    const RunResult r = call({c.scenario, "5353"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const int64_t pid = number_after(r.out, "caller pid");
    auto send = event("send", "sendto", pid);
    ASSERT_TRUE(send) << c.scenario << agent_->log();
    expect_common(*send);
    EXPECT_EQ(str_field(*send, "destination.ip"), c.ip);
    EXPECT_EQ(int_field(*send, "destination.port"), 5353);
    EXPECT_EQ(str_field(*send, "network.transport"), "udp");
    EXPECT_EQ(str_field(*send, "network.type"), c.type);
    auto bind = event("bind", "bind", pid);
    ASSERT_TRUE(bind) << agent_->log();
    EXPECT_EQ(str_field(*bind, "network.transport"), "udp");
  }
}

TEST_F(user_network, LookupNameIsCarriedOntoTheConnect) {
  start_agent();
  for (const auto& [name, ip] :
       {std::pair{"four.ringside.test", "127.0.0.1"}, std::pair{"six.ringside.test", "::1"}}) {
    const RunResult r = call({"resolve", name, "4712"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const int64_t pid = number_after(r.out, "caller pid");
    auto dns = event("dns", "getaddrinfo", pid);
    ASSERT_TRUE(dns) << agent_->log();
    expect_common(*dns);
    EXPECT_EQ(str_field(*dns, "dns.question.name"), name);
    EXPECT_EQ(str_field(*dns, "dns.type"), "answer");
    const json* answers = field(*dns, "dns.resolved_ip");
    ASSERT_NE(answers, nullptr) << dns->dump();
    EXPECT_EQ(*answers, json::array({ip}));
    auto conn = event("connect", "connect", pid);
    ASSERT_TRUE(conn) << agent_->log();
    EXPECT_EQ(str_field(*conn, "dns.question.name"), name);
    EXPECT_EQ(str_field(*conn, "destination.ip"), ip);
  }
  const RunResult g = call({"gethostbyname", "four.ringside.test"});
  ASSERT_EQ(g.exit_code, 0) << g.out << g.err;
  auto ev = event("dns", "gethostbyname", number_after(g.out, "caller pid"));
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "dns.question.name"), "four.ringside.test");
  const json* answers = field(*ev, "dns.resolved_ip");
  ASSERT_NE(answers, nullptr) << ev->dump();
  EXPECT_EQ(*answers, json::array({"127.0.0.1"}));
}

TEST_F(user_network, DenyConnectAndLookup) {
  start_agent(R"(
rules:
  - name: no-port-9999
    on: network.connect
    levels: [user]
    match:
      destination.port: 9999
    action: deny
  - name: no-forbidden-name
    on: network.dns
    levels: [user]
    match:
      dns.question.name: {suffix: ".forbidden.test"}
    action: deny
)");
  const RunResult r = call({"connect", "127.0.0.1", "9999"});
  EXPECT_EQ(number_after(r.out, "connect_errno"), EACCES) << r.out << r.err;
  auto ev = event("connect", "connect", number_after(r.out, "caller pid"));
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(str_field(*ev, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "no-port-9999");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "blocked");

  // Allowed traffic still flows.
  const RunResult ok = call({"tcp4", "4713"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  const RunResult g = call({"resolve", "x.forbidden.test", "4714"});
  EXPECT_EQ(number_after(g.out, "getaddrinfo"), EAI_FAIL) << g.out << g.err;
  auto dns = event("dns", "getaddrinfo", number_after(g.out, "caller pid"));
  ASSERT_TRUE(dns) << agent_->log();
  EXPECT_EQ(str_field(*dns, "ringside.rule"), "no-forbidden-name");
  EXPECT_EQ(str_field(*dns, "dns.type"), "query");  // decided before the lookup was made
  const RunResult h = call({"gethostbyname", "y.forbidden.test"});
  EXPECT_EQ(number_after(h.out, "gethostbyname"), -1) << h.out;
  EXPECT_EQ(number_after(h.out, "h_errno"), NO_RECOVERY) << h.out;
}

TEST_F(user_network, RedirectRewritesTheDestination) {
  start_agent(R"(
rules:
  - name: to-inspector
    on: network.connect
    levels: [user]
    match:
      destination.port: 8080
    action: redirect
    redirect: 127.0.0.1:4715
)");
  const RunResult r = call({"redirect", "127.0.0.1", "8080", "4715"});
  EXPECT_EQ(number_after(r.out, "connect"), 0) << r.out << r.err;
  EXPECT_EQ(number_after(r.out, "redirected"), 1) << r.out;
  auto ev = event("connect", "connect", number_after(r.out, "caller pid"));
  ASSERT_TRUE(ev) << agent_->log();
  EXPECT_EQ(int_field(*ev, "destination.port"), 8080);  // what the program asked for
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "to-inspector");
  EXPECT_EQ(str_field(*ev, "ringside.enforcement"), "redirected");

  // An IPv6 socket: the IPv4-mapped destination is reported as IPv4, and the IPv4 redirect
  // target is reached through its IPv4-mapped form.
  const RunResult six = call({"redirect", "::ffff:127.0.0.1", "8080", "4715"});
  EXPECT_EQ(number_after(six.out, "connect"), 0) << six.out << six.err;
  EXPECT_EQ(number_after(six.out, "redirected"), 1) << six.out;
  auto mapped = event("connect", "connect", number_after(six.out, "caller pid"));
  ASSERT_TRUE(mapped) << agent_->log();
  EXPECT_EQ(str_field(*mapped, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(str_field(*mapped, "network.type"), "ipv4");
}

}  // namespace
}  // namespace ringside::e2e
