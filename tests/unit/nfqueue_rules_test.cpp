// What NFQUEUE queues for a policy, the iptables rules for it, and how they are installed and
// cleaned up, through a fake command runner.
#include "sensors/kernel/nfqueue_rules.hpp"

#include <gtest/gtest.h>

#include <set>

namespace ringside {
namespace {

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "test.yaml", &errors);
  EXPECT_TRUE(p) << (errors.empty() ? p.error().message : errors[0].to_string());
  return p ? *p : nullptr;
}

TEST(NfqueuePlan, RulesModeQueuesOnlyForRulesTheSocketProgramsCannotDecide) {
  auto decidable = load(R"(
rules:
  - {name: a, on: network.connect, match: {destination.port: 9999}, action: deny}
)");
  EXPECT_TRUE(socket_program_decidable(decidable->rules()[0]));
  QueuePlan p = plan_queue(*decidable);
  EXPECT_FALSE(p.outgoing);
  EXPECT_FALSE(p.incoming);
  EXPECT_TRUE(p.dns);  // settings.network.dns defaults to true

  auto needs = load(R"(
settings: {fail_mode: closed, network: {queue: 7, dns: false}}
rules:
  - {name: b, on: network.connect, match: {process.name: {glob: "cur*"}}, action: deny}
)");
  EXPECT_FALSE(socket_program_decidable(needs->rules()[0]));
  p = plan_queue(*needs);
  EXPECT_TRUE(p.outgoing);
  EXPECT_FALSE(p.incoming);
  EXPECT_FALSE(p.dns);
  EXPECT_FALSE(p.bypass);
  EXPECT_EQ(p.queue, 7);

  auto alert_only = load(R"(
rules:
  - {name: c, on: network.connect, match: {process.name: {glob: "cur*"}}, action: alert}
  - {name: d, on: network.accept, match: {destination.port: 22}, action: deny, levels: [user]}
)");
  p = plan_queue(*alert_only);
  EXPECT_FALSE(p.outgoing);
  EXPECT_FALSE(p.incoming);
}

TEST(NfqueuePlan, DenyAfterAnUndecidableAllowIsQueued) {
  auto p = load(R"(
rules:
  - {name: ok-tools, on: network.connect, match: {process.name: {prefix: tool}}, action: allow}
  - {name: no-9999, on: network.connect, match: {destination.port: 9999}, action: deny}
)");
  EXPECT_TRUE(socket_program_decidable(p->rules()[1]));
  EXPECT_TRUE(plan_queue(*p).outgoing);
  auto cidr = load(R"(
rules:
  - name: no-net
    on: network.connect
    match: {destination.ip: {cidr: 10.0.0.0/8}, destination.port: {not: {in: [22, 443]}}}
    action: deny
)");
  EXPECT_TRUE(socket_program_decidable(cidr->rules()[0]));
  EXPECT_FALSE(plan_queue(*cidr).outgoing);
  auto long_list = load(R"(
rules:
  - {name: many, on: network.connect, match: {destination.port: [1, 2, 3, 4, 5, 6, 7, 8, 9]}, action: deny}
)");
  EXPECT_FALSE(socket_program_decidable(long_list->rules()[0]));
  EXPECT_TRUE(plan_queue(*long_list).outgoing);
}

TEST(NfqueuePlan, AllOffAndDnsRules) {
  auto all = load("settings: {network: {nfqueue: all}}\nrules: []\n");
  QueuePlan p = plan_queue(*all);
  EXPECT_TRUE(p.outgoing && p.incoming && p.dns && p.bypass && p.dns_bypass);
  auto off = load(R"(
settings: {fail_mode: closed, network: {nfqueue: off, dns: false}}
rules:
  - {name: e, on: network.connect, match: {process.name: x}, action: deny}
  - {name: f, on: network.dns, match: {dns.question.name: {suffix: .evil}}, action: deny}
)");
  p = plan_queue(*off);
  EXPECT_FALSE(p.outgoing);
  EXPECT_TRUE(p.dns);          // a DNS deny rule needs the queue even with dns: false
  EXPECT_FALSE(p.dns_bypass);  // and fail-closed keeps DNS blocked without a listener
}

TEST(NfqueueScript, ChainsRejectMarkedPacketsAndQueueNewConnections) {
  QueuePlan plan;
  plan.queue = 3;
  plan.outgoing = true;
  plan.dns = true;
  plan.bypass = false;
  const std::string s = chain_script(plan, false);
  EXPECT_EQ(s.rfind("*filter\n:RINGSIDE-OUT - [0:0]\n:RINGSIDE-IN - [0:0]\n", 0), 0U);
  EXPECT_NE(s.find("-A RINGSIDE-OUT -p tcp -m mark --mark 0x40000000/0x40000000 -j REJECT "
                   "--reject-with tcp-reset\n"),
            std::string::npos);
  EXPECT_NE(s.find("--reject-with icmp-port-unreachable"), std::string::npos);
  EXPECT_NE(s.find("-A RINGSIDE-OUT -p udp --dport 53 -j NFQUEUE --queue-num 3 --queue-bypass\n"),
            std::string::npos);
  EXPECT_NE(s.find("-A RINGSIDE-IN -p udp --sport 53 -j NFQUEUE --queue-num 3 --queue-bypass\n"),
            std::string::npos);
  EXPECT_NE(s.find("-A RINGSIDE-OUT -p tcp --syn -m conntrack --ctstate NEW -j NFQUEUE "
                   "--queue-num 3\n"),
            std::string::npos);
  EXPECT_EQ(s.find("! -i lo"), std::string::npos);  // no incoming rules in this plan
  EXPECT_EQ(s.substr(s.size() - 7), "COMMIT\n");
  const std::string v6 = chain_script(plan, true);
  EXPECT_NE(v6.find("icmp6-port-unreachable"), std::string::npos);
}

class FakeRunner final : public CommandRunner {
 public:
  Result<std::string> run(const std::vector<std::string>& argv, std::string_view input) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    calls.push_back(line);
    inputs.emplace_back(input);
    if (argv.size() > 3 && argv[2] == "-D") {
      // Two stale jumps in OUTPUT of iptables, none elsewhere.
      if (argv[0] == "iptables" && argv[3] == "OUTPUT" && stale_jumps > 0) {
        --stale_jumps;
        return std::string();
      }
      return Error{"iptables: Bad rule (does a matching rule exist in that chain?)."};
    }
    if (argv.size() > 2 && argv[2] == "-C") {
      if (present.count(argv[0] + " " + argv[3])) return std::string();
      return Error{"iptables: Bad rule"};
    }
    if (fail_restore && argv[0] == "ip6tables-restore") return Error{"no IPv6"};
    return std::string();
  }
  std::vector<std::string> calls, inputs;
  int stale_jumps = 2;
  std::set<std::string> present;
  bool fail_restore = false;
};

TEST(NfqueueRules, CleanupRemovesEveryStaleJumpAndBothChains) {
  FakeRunner r;
  QueueRules rules(r);
  rules.cleanup();
  int deletes = 0;
  for (const auto& c : r.calls) {
    if (c == "iptables -w -D OUTPUT -j RINGSIDE-OUT") ++deletes;
  }
  EXPECT_EQ(deletes, 3);  // two succeed, the third says there is none left
  for (const char* c :
       {"iptables -w -F RINGSIDE-OUT", "iptables -w -X RINGSIDE-OUT", "iptables -w -X RINGSIDE-IN",
        "ip6tables -w -X RINGSIDE-OUT", "ip6tables -w -X RINGSIDE-IN"}) {
    EXPECT_NE(std::find(r.calls.begin(), r.calls.end(), c), r.calls.end()) << c;
  }
}

TEST(NfqueueRules, InstallFillsChainsAndAddsMissingJumpsOnce) {
  FakeRunner r;
  r.present.insert("iptables INPUT");
  QueueRules rules(r);
  QueuePlan plan;
  plan.dns = true;
  ASSERT_TRUE(rules.install(plan));
  EXPECT_EQ(r.calls[0], "iptables-restore -w --noflush");
  EXPECT_EQ(r.inputs[0], chain_script(plan, false));
  auto has = [&](const std::string& c) {
    return std::find(r.calls.begin(), r.calls.end(), c) != r.calls.end();
  };
  EXPECT_TRUE(has("iptables -w -I OUTPUT 1 -j RINGSIDE-OUT"));
  EXPECT_FALSE(has("iptables -w -I INPUT 1 -j RINGSIDE-IN"));  // already there
  EXPECT_TRUE(has("ip6tables -w -I INPUT 1 -j RINGSIDE-IN"));

  FakeRunner broken;
  broken.fail_restore = true;
  QueueRules r2(broken);
  auto res = r2.install(plan);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("ip6tables-restore: no IPv6"), std::string::npos);
}

TEST(NfqueueRules, EmptyPlanRemovesEverything) {
  FakeRunner r;
  QueueRules rules(r);
  ASSERT_TRUE(rules.install(QueuePlan{}));
  EXPECT_NE(std::find(r.calls.begin(), r.calls.end(), "iptables -w -X RINGSIDE-OUT"),
            r.calls.end());
  for (const auto& c : r.calls) EXPECT_EQ(c.find("restore"), std::string::npos);
}

// What the NFQUEUE rules sent to the queue, from iptables-save -c: only ringside's chains, only
// rules that jump to NFQUEUE, both families summed; anything else on the lines is ignored.
TEST(NfqueueRules, QueuedPacketsAreTheQueueRulesCounters) {
  const std::string v4 =
      "# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [12:3400]\n"
      ":RINGSIDE-OUT - [0:0]\n[90:5400] -A OUTPUT -j RINGSIDE-OUT\n"
      "[3:180] -A RINGSIDE-OUT -p tcp -m mark --mark 0x40000000/0x40000000 -j REJECT "
      "--reject-with tcp-reset\n"
      "[40960:2457600] -A RINGSIDE-OUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack "
      "--ctstate NEW -j NFQUEUE --queue-num 43 --queue-bypass\n"
      "[7:420] -A RINGSIDE-IN ! -i lo -p udp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 43\n"
      "[5:300] -A OTHER-CHAIN -j NFQUEUE --queue-num 43\n"
      "[x:1] -A RINGSIDE-OUT -j NFQUEUE --queue-num 43\n"
      "[99999999999999999999999:1] -A RINGSIDE-OUT -j NFQUEUE --queue-num 43\nCOMMIT";
  EXPECT_EQ(queue_rule_packets(v4), 40967u);
  EXPECT_EQ(queue_rule_packets(""), 0u);
  EXPECT_EQ(queue_rule_packets("[1:2] -A RINGSIDE-OUTER -j NFQUEUE"), 0u);

  class SaveRunner final : public CommandRunner {
   public:
    Result<std::string> run(const std::vector<std::string>& argv, std::string_view) override {
      calls.push_back(argv[0]);
      if (argv[0] == "ip6tables-save") return std::string("[2:1] -A RINGSIDE-IN -j NFQUEUE\n");
      return std::string("[5:1] -A RINGSIDE-OUT -j NFQUEUE\n");
    }
    std::vector<std::string> calls;
  } r;
  QueueRules rules(r);
  auto n = rules.queued_packets();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 7u);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"iptables-save", "ip6tables-save"}));
}

}  // namespace
}  // namespace ringside
