// The IP/TCP/UDP parser on crafted packets, including truncated and hostile ones.
#include "sensors/kernel/packet_parse.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>
#include <vector>

namespace ringside {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes ipv4(uint8_t proto, const Bytes& l4, uint16_t frag = 0) {
  Bytes b = {0x45,
             0,
             0,
             0,
             0,
             1,
             static_cast<uint8_t>(frag >> 8),
             static_cast<uint8_t>(frag),
             64,
             proto,
             0,
             0,
             127,
             0,
             0,
             1,
             10,
             0,
             0,
             2};
  const size_t total = b.size() + l4.size();
  b[2] = static_cast<uint8_t>(total >> 8);
  b[3] = static_cast<uint8_t>(total);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& data = {}) {
  Bytes b = {static_cast<uint8_t>(sport >> 8),
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
             flags,
             0,
             0,
             0,
             0,
             0,
             0};
  b.insert(b.end(), data.begin(), data.end());
  return b;
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

TEST(PacketParse, Ipv4TcpSyn) {
  auto p = parse_ip_packet(ipv4(IPPROTO_TCP, tcp(40000, 9999, 0x02)));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->flow.protocol, IPPROTO_TCP);
  EXPECT_FALSE(p->flow.v6);
  EXPECT_EQ(flow_address(p->flow, true), "127.0.0.1");
  EXPECT_EQ(flow_address(p->flow, false), "10.0.0.2");
  EXPECT_EQ(p->flow.sport, 40000);
  EXPECT_EQ(p->flow.dport, 9999);
  EXPECT_TRUE(p->tcp_syn);
  EXPECT_FALSE(p->tcp_ack);
  EXPECT_TRUE(p->payload.empty());
}

TEST(PacketParse, Ipv4UdpPayload) {
  const Bytes packet = ipv4(IPPROTO_UDP, udp(5353, 53, {1, 2, 3}));  // the payload views it
  auto p = parse_ip_packet(packet);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->flow.dport, 53);
  ASSERT_EQ(p->payload.size(), 3U);
  EXPECT_EQ(p->payload[2], 3);
}

TEST(PacketParse, Ipv6WithExtensionHeaderAndMappedAddresses) {
  Bytes l4 = udp(1000, 53, {9});
  Bytes b(40, 0);
  b[0] = 0x60;
  const size_t plen = 8 + l4.size();
  b[4] = static_cast<uint8_t>(plen >> 8);
  b[5] = static_cast<uint8_t>(plen);
  b[6] = IPPROTO_HOPOPTS;
  b[8 + 15] = 1;  // src ::1
  b[24] = 0x20;   // dst 2001:db8::2
  b[25] = 0x01;
  b[26] = 0x0d;
  b[27] = 0xb8;
  b[39] = 2;
  Bytes hop = {IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 0};
  b.insert(b.end(), hop.begin(), hop.end());
  b.insert(b.end(), l4.begin(), l4.end());
  auto p = parse_ip_packet(b);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->flow.v6);
  EXPECT_EQ(flow_address(p->flow, true), "::1");
  EXPECT_EQ(flow_address(p->flow, false), "2001:db8::2");
  EXPECT_EQ(p->payload.size(), 1U);

  // ::ffff:127.0.0.1 on both ends is reported as IPv4.
  Bytes m = b;
  for (int i = 8; i < 40; ++i) m[i] = 0;
  m[18] = m[19] = m[34] = m[35] = 0xff;
  m[20] = 127;
  m[23] = 1;
  m[36] = 127;
  m[39] = 2;
  p = parse_ip_packet(m);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->flow.v6);
  EXPECT_EQ(flow_address(p->flow, false), "127.0.0.2");
}

TEST(PacketParse, ExtensionHeaderLoopIsBounded) {
  Bytes b(40, 0);
  b[0] = 0x60;
  b[6] = IPPROTO_DSTOPTS;
  for (int i = 0; i < 20; ++i) b.insert(b.end(), {IPPROTO_DSTOPTS, 0, 0, 0, 0, 0, 0, 0});
  b[5] = static_cast<uint8_t>(b.size() - 40);
  auto p = parse_ip_packet(b);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("extension"), std::string::npos);
}

TEST(PacketParse, FragmentsHaveNoPorts) {
  auto p = parse_ip_packet(ipv4(IPPROTO_UDP, {1, 2, 3}, 0x0010));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->fragment);
  EXPECT_EQ(p->flow.sport, 0);
}

TEST(PacketParse, Malformed) {
  EXPECT_FALSE(parse_ip_packet({}));
  EXPECT_FALSE(parse_ip_packet(Bytes{0x75, 0, 0}));
  Bytes bad_ihl = ipv4(IPPROTO_TCP, tcp(1, 2, 2));
  bad_ihl[0] = 0x4f;  // 60-byte header in a 40-byte packet
  EXPECT_FALSE(parse_ip_packet(bad_ihl));
  Bytes bad_doff = ipv4(IPPROTO_TCP, tcp(1, 2, 2));
  bad_doff[20 + 12] = 0xf0;
  EXPECT_FALSE(parse_ip_packet(bad_doff));
  auto icmp = parse_ip_packet(ipv4(IPPROTO_ICMP, {8, 0, 0, 0}));
  ASSERT_FALSE(icmp);
  EXPECT_NE(icmp.error().message.find("protocol 1"), std::string::npos);
  const Bytes full = ipv4(IPPROTO_TCP, tcp(1, 2, 2, {1, 2}));
  for (size_t n = 0; n < 40; ++n) {
    EXPECT_FALSE(parse_ip_packet(std::span<const uint8_t>(full.data(), n))) << n;
  }
}

TEST(PacketParse, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 120);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (!b.empty()) b[0] = static_cast<uint8_t>((rng() % 2 ? 0x40 : 0x60) | (b[0] & 0x0f));
    (void)parse_ip_packet(b);
  }
}

}  // namespace
}  // namespace ringside
