// The NFQUEUE verdict logic without a queue: packets as the kernel hands them over, a fake
// context deciding with a real policy, and fake flow owners.
#include "sensors/kernel/nfqueue_decider.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

#include "fake_context.hpp"

namespace ringside {
namespace {

using Bytes = std::vector<uint8_t>;
using testing_fanotify::FakeContext;

Bytes ipv4(uint8_t proto, const char* src, const char* dst, const Bytes& l4) {
  Bytes b = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0};
  b.resize(20);
  inet_pton(AF_INET, src, &b[12]);
  inet_pton(AF_INET, dst, &b[16]);
  const size_t total = 20 + l4.size();
  b[2] = static_cast<uint8_t>(total >> 8);
  b[3] = static_cast<uint8_t>(total);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes tcp_syn(uint16_t sport, uint16_t dport) {
  return {static_cast<uint8_t>(sport >> 8),
          static_cast<uint8_t>(sport),
          static_cast<uint8_t>(dport >> 8),
          static_cast<uint8_t>(dport),
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0x50,
          0x02,
          0,
          0,
          0,
          0,
          0,
          0};
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& data) {
  const size_t len = 8 + data.size();
  Bytes b = {static_cast<uint8_t>(sport >> 8),
             static_cast<uint8_t>(sport),
             static_cast<uint8_t>(dport >> 8),
             static_cast<uint8_t>(dport),
             static_cast<uint8_t>(len >> 8),
             static_cast<uint8_t>(len),
             0,
             0};
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes dns_answer(const std::string& label, const uint8_t (&addr)[4]) {
  Bytes b = {0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  b.push_back(static_cast<uint8_t>(label.size()));
  b.insert(b.end(), label.begin(), label.end());
  b.insert(b.end(), {4, 't', 'e', 's', 't', 0, 0, 1, 0, 1});
  b.insert(b.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4});
  b.insert(b.end(), addr, addr + 4);
  return b;
}

Bytes dns_query(const std::string& label) {
  Bytes b = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  b.push_back(static_cast<uint8_t>(label.size()));
  b.insert(b.end(), label.begin(), label.end());
  b.insert(b.end(), {4, 't', 'e', 's', 't', 0, 0, 1, 0, 1});
  return b;
}

class FakeOwners final : public FlowOwners {
 public:
  std::optional<FlowOwner> owner(const Flow& f) const override {
    ++asked;
    last = f;
    if (f.sport == known_port) return FlowOwner{4242, 4243, 1000};
    return std::nullopt;
  }
  uint16_t known_port = 0;
  mutable int asked = 0;
  mutable Flow last;
};

std::shared_ptr<const policy::Policy> load(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "test.yaml", &errors);
  EXPECT_TRUE(p) << (errors.empty() ? p.error().message : errors[0].to_string());
  return p ? *p : nullptr;
}

class NfqueueDeciderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx.set_policy(load(R"(
settings:
  network: {nfqueue: all}
rules:
  - name: no-9999
    on: network.connect
    match: {destination.port: 9999}
    action: deny
  - name: no-evil-names
    on: network.dns
    match: {dns.question.name: {suffix: evil.test}}
    action: deny
)"));
    plan = plan_queue(*ctx.policy());
  }
  QueuedPacket packet(uint8_t hook, Bytes payload, int ct = kCtNew) {
    QueuedPacket p;
    p.id = 7;
    p.hook = hook;
    p.ct_info = ct;
    p.uid = 1234;
    p.payload = std::move(payload);
    return p;
  }
  FakeContext ctx;
  FakeOwners owners;
  SensorCounters counters;
  QueuePlan plan;
};

TEST_F(NfqueueDeciderTest, DeniedConnectNamesTheRuleAndTheProcess) {
  owners.known_port = 40000;
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(
      packet(kHookLocalOut, ipv4(IPPROTO_TCP, "127.0.0.1", "127.0.0.2", tcp_syn(40000, 9999))),
      plan);
  EXPECT_FALSE(out.allow);
  ASSERT_EQ(out.events.size(), 1U);
  const Event& ev = out.events[0];
  EXPECT_EQ(ev.type(), EventType::kNetworkConnect);
  EXPECT_EQ(*ev.get_str(Field::kRingsideRule), "no-9999");
  EXPECT_EQ(*ev.get_str(Field::kRingsideVerdict), "deny");
  EXPECT_EQ(*ev.get_str(Field::kRingsideSensor), "nfqueue");
  EXPECT_EQ(*ev.get_str(Field::kRingsideEnforcement), "blocked");
  EXPECT_EQ(*ev.get_str(Field::kSourceIp), "127.0.0.1");
  EXPECT_EQ(*ev.get_int(Field::kSourcePort), 40000);
  EXPECT_EQ(*ev.get_str(Field::kDestinationIp), "127.0.0.2");
  EXPECT_EQ(*ev.get_int(Field::kDestinationPort), 9999);
  EXPECT_EQ(*ev.get_str(Field::kNetworkTransport), "tcp");
  EXPECT_EQ(*ev.get_int(Field::kProcessPid), 4242);
  EXPECT_EQ(*ev.get_int(Field::kProcessThreadId), 4243);
  EXPECT_EQ(*ev.get_int(Field::kUserId), 1000);
}

TEST_F(NfqueueDeciderTest, AllowedConnectWithoutOwnerKeepsTheSocketUid) {
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(
      packet(kHookLocalOut, ipv4(IPPROTO_TCP, "10.0.0.1", "10.0.0.2", tcp_syn(40001, 80))), plan);
  EXPECT_TRUE(out.allow);
  ASSERT_EQ(out.events.size(), 1U);
  EXPECT_FALSE(out.events[0].has(Field::kProcessPid));
  EXPECT_EQ(*out.events[0].get_int(Field::kUserId), 1234);
  EXPECT_EQ(*out.events[0].get_str(Field::kRingsideVerdict), "allow");
}

TEST_F(NfqueueDeciderTest, ConnectionsAreOnlyReportedWhenThePlanQueuesThem) {
  plan.outgoing = false;
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(
      packet(kHookLocalOut, ipv4(IPPROTO_TCP, "127.0.0.1", "127.0.0.2", tcp_syn(40000, 9999))),
      plan);
  EXPECT_TRUE(out.allow);
  EXPECT_TRUE(out.events.empty());
}

TEST_F(NfqueueDeciderTest, IncomingSynIsAnAcceptSeenFromTheLocalEnd) {
  owners.known_port = 8080;
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(
      packet(kHookLocalIn, ipv4(IPPROTO_TCP, "192.0.2.9", "10.0.0.1", tcp_syn(50000, 8080))), plan);
  ASSERT_EQ(out.events.size(), 1U);
  const Event& ev = out.events[0];
  EXPECT_EQ(ev.type(), EventType::kNetworkAccept);
  EXPECT_EQ(*ev.get_str(Field::kSourceIp), "10.0.0.1");
  EXPECT_EQ(*ev.get_int(Field::kSourcePort), 8080);
  EXPECT_EQ(*ev.get_str(Field::kDestinationIp), "192.0.2.9");
  EXPECT_EQ(owners.last.sport, 8080);  // looked up by the local socket
  EXPECT_EQ(*ev.get_int(Field::kProcessPid), 4242);
}

TEST_F(NfqueueDeciderTest, DnsQueryOnANewFlowGivesConnectAndDnsEvents) {
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(packet(kHookLocalOut, ipv4(IPPROTO_UDP, "127.0.0.1", "127.0.0.53",
                                                 udp(33333, 53, dns_query("marker")))),
                      plan);
  EXPECT_TRUE(out.allow);
  ASSERT_EQ(out.events.size(), 2U);
  EXPECT_EQ(out.events[0].type(), EventType::kNetworkConnect);
  const Event& ev = out.events[1];
  EXPECT_EQ(ev.type(), EventType::kNetworkDns);
  EXPECT_EQ(*ev.get_str(Field::kDnsType), "query");
  EXPECT_EQ(*ev.get_str(Field::kDnsQuestionName), "marker.test");
  EXPECT_EQ(*ev.get_str(Field::kDnsQuestionType), "A");
  EXPECT_EQ(*ev.get_int(Field::kDestinationPort), 53);
}

TEST_F(NfqueueDeciderTest, DnsAnswerCarriesTheAddressesAndIsSeenFromTheClient) {
  owners.known_port = 33333;
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  const uint8_t addr[4] = {192, 0, 2, 44};
  auto out = d.decide(packet(kHookLocalIn,
                             ipv4(IPPROTO_UDP, "127.0.0.53", "127.0.0.1",
                                  udp(53, 33333, dns_answer("marker", addr))),
                             kCtIsReply),
                      plan);
  ASSERT_EQ(out.events.size(), 1U);
  const Event& ev = out.events[0];
  EXPECT_EQ(*ev.get_str(Field::kDnsType), "answer");
  EXPECT_EQ(*ev.get_str(Field::kDnsQuestionName), "marker.test");
  ASSERT_EQ(ev.get_list(Field::kDnsResolvedIp).size(), 1U);
  EXPECT_EQ(*ev.get_list(Field::kDnsResolvedIp).begin(), "192.0.2.44");
  EXPECT_EQ(*ev.get_int(Field::kSourcePort), 33333);
  EXPECT_EQ(*ev.get_int(Field::kProcessPid), 4242);
}

TEST_F(NfqueueDeciderTest, DeniedDnsNameIsRefused) {
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(
      packet(kHookLocalOut,
             ipv4(IPPROTO_UDP, "127.0.0.1", "127.0.0.53", udp(33334, 53, dns_query("very-evil"))),
             0),
      plan);
  EXPECT_FALSE(out.allow);
  ASSERT_EQ(out.events.size(), 1U);
  EXPECT_EQ(*out.events[0].get_str(Field::kRingsideRule), "no-evil-names");
}

TEST_F(NfqueueDeciderTest, MalformedPacketsAreCountedAndAccepted) {
  NfqueueDecider d(ctx, &owners, nullptr, counters);
  auto out = d.decide(packet(kHookLocalOut, {0x45, 0, 0}), plan);
  EXPECT_TRUE(out.allow);
  EXPECT_TRUE(out.events.empty());
  Bytes junk = {1, 2, 3, 4, 5};
  out = d.decide(
      packet(kHookLocalOut, ipv4(IPPROTO_UDP, "127.0.0.1", "127.0.0.53", udp(33335, 53, junk)), 0),
      plan);
  EXPECT_TRUE(out.allow);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(counters.errors.load(), 2U);
}

}  // namespace
}  // namespace ringside
