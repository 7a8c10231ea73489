// The DNS parser on crafted bytes: well-formed queries and answers, and hostile messages
// (compression loops, forward pointers, truncated records, overlong names and labels).
#include "sensors/kernel/dns_parse.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ringside {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v & 0xff));
}

Bytes header(uint16_t flags, uint16_t qd, uint16_t an) {
  Bytes b;
  put16(b, 0x1234);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, 0);
  put16(b, 0);
  return b;
}

void put_name(Bytes& b, const std::vector<std::string>& labels) {
  for (const auto& l : labels) {
    b.push_back(static_cast<uint8_t>(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
}

Bytes query(const std::vector<std::string>& labels, uint16_t qtype = 1) {
  Bytes b = header(0x0100, 1, 0);
  put_name(b, labels);
  put16(b, qtype);
  put16(b, 1);
  return b;
}

TEST(DnsParse, Query) {
  auto m = parse_dns(query({"marker", "example", "test"}, 28));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->response);
  EXPECT_EQ(m->id, 0x1234);
  ASSERT_EQ(m->questions.size(), 1U);
  EXPECT_EQ(m->questions[0].name, "marker.example.test");
  EXPECT_EQ(dns_type_name(m->questions[0].qtype), "AAAA");
}

TEST(DnsParse, AnswerWithCompressionAndCname) {
  Bytes b = header(0x8180, 1, 2);
  put_name(b, {"www", "example", "test"});  // at offset 12
  put16(b, 1);
  put16(b, 1);
  // CNAME www.example.test -> cdn.example.test (pointer to "example" at 16)
  b.insert(b.end(), {0xc0, 12});
  put16(b, 5);
  put16(b, 1);
  put16(b, 0);
  put16(b, 60);
  put16(b, 6);
  b.insert(b.end(), {3, 'c', 'd', 'n', 0xc0, 16});
  // A 10.1.2.3 and AAAA 2001:db8::1 for the name via pointer
  b.insert(b.end(), {0xc0, 12});
  put16(b, 1);
  put16(b, 1);
  put16(b, 0);
  put16(b, 60);
  put16(b, 4);
  b.insert(b.end(), {10, 1, 2, 3});
  auto m = parse_dns(b);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->response);
  ASSERT_EQ(m->cnames.size(), 1U);
  EXPECT_EQ(m->cnames[0], "cdn.example.test");
  ASSERT_EQ(m->addresses.size(), 1U);
  EXPECT_EQ(m->addresses[0], "10.1.2.3");

  b[7] = 3;  // one more answer: AAAA
  b.insert(b.end(), {0xc0, 12});
  put16(b, 28);
  put16(b, 1);
  put16(b, 0);
  put16(b, 60);
  put16(b, 16);
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  b.insert(b.end(), v6, v6 + 16);
  m = parse_dns(b);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->addresses.size(), 2U);
  EXPECT_EQ(m->addresses[1], "2001:db8::1");
}

TEST(DnsParse, CompressionLoopIsRejected) {
  Bytes b = header(0x0100, 1, 0);
  b.insert(b.end(), {0xc0, 12});  // points at itself
  put16(b, 1);
  put16(b, 1);
  auto m = parse_dns(b);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("backwards"), std::string::npos);

  // Two pointers pointing at each other: the second one points forward and is refused.
  Bytes c = header(0x0100, 1, 0);
  c.insert(c.end(), {0xc0, 14, 0xc0, 12});
  put16(c, 1);
  put16(c, 1);
  EXPECT_FALSE(parse_dns(c));
}

TEST(DnsParse, PointerChainIsBounded) {
  // Answer 1 carries, as TXT data, a chain of pointers each pointing at the one before it;
  // answer 2's name is a pointer to the end of that chain: more jumps than allowed.
  const int n = kMaxPointerJumps + 4;
  Bytes b = header(0x8180, 0, 2);
  put_name(b, {"a"});  // offset 12
  put16(b, 16);
  put16(b, 1);
  put16(b, 0);
  put16(b, 60);
  put16(b, static_cast<uint16_t>(2 * n));
  const size_t r0 = b.size();
  for (int i = 0; i < n; ++i) {
    const size_t target = i == 0 ? 12 : r0 + 2 * static_cast<size_t>(i - 1);
    b.push_back(static_cast<uint8_t>(0xc0 | (target >> 8)));
    b.push_back(static_cast<uint8_t>(target & 0xff));
  }
  const size_t last = r0 + 2 * static_cast<size_t>(n - 1);
  b.push_back(static_cast<uint8_t>(0xc0 | (last >> 8)));
  b.push_back(static_cast<uint8_t>(last & 0xff));
  put16(b, 1);
  put16(b, 1);
  put16(b, 0);
  put16(b, 60);
  put16(b, 4);
  b.insert(b.end(), {192, 0, 2, 7});
  auto m = parse_dns(b);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("too many compression pointers"), std::string::npos);
}

TEST(DnsParse, OverlongNameAndLabel) {
  std::vector<std::string> labels(5, std::string(60, 'x'));  // 5 * 61 + 1 > 255
  auto m = parse_dns(query(labels));
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("255"), std::string::npos);

  Bytes b = header(0x0100, 1, 0);
  b.push_back(64);  // label type bits 01: not a length
  b.insert(b.end(), 64, 'a');
  b.push_back(0);
  put16(b, 1);
  put16(b, 1);
  EXPECT_FALSE(parse_dns(b));
}

TEST(DnsParse, TruncationAtEveryByteNeverCrashes) {
  Bytes full = header(0x8180, 1, 1);
  put_name(full, {"a", "b"});
  put16(full, 1);
  put16(full, 1);
  full.insert(full.end(), {0xc0, 12});
  put16(full, 1);
  put16(full, 1);
  put16(full, 0);
  put16(full, 60);
  put16(full, 4);
  full.insert(full.end(), {192, 0, 2, 1});
  ASSERT_TRUE(parse_dns(full));
  for (size_t n = 0; n < full.size(); ++n) {
    auto m = parse_dns(std::span<const uint8_t>(full.data(), n));
    EXPECT_FALSE(m) << "prefix of " << n << " bytes parsed";
  }
}

TEST(DnsParse, BadCountsAndAddressLengths) {
  Bytes b = header(0x0100, 200, 0);
  EXPECT_FALSE(parse_dns(b));
  Bytes a = header(0x8180, 0, 1);
  put_name(a, {"x"});
  put16(a, 1);
  put16(a, 1);
  put16(a, 0);
  put16(a, 60);
  put16(a, 3);
  a.insert(a.end(), {1, 2, 3});
  EXPECT_FALSE(parse_dns(a));
}

TEST(DnsParse, EscapesUnprintableLabelBytes) {
  auto m = parse_dns(query({std::string("a.b\x01", 4), "c"}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->questions[0].name, "a\\.b\\001.c");
}

TEST(DnsParse, TcpFraming) {
  Bytes q = query({"tcp", "test"});
  Bytes framed;
  put16(framed, static_cast<uint16_t>(q.size()));
  framed.insert(framed.end(), q.begin(), q.end());
  auto m = parse_dns_tcp(framed);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->questions[0].name, "tcp.test");
  framed.pop_back();
  EXPECT_FALSE(parse_dns_tcp(framed));
}

TEST(DnsParse, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 300);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (b.size() > 5) {
      b[4] = 0;
      b[5] = static_cast<uint8_t>(rng() % 3);
    }
    (void)parse_dns(b);
    (void)parse_dns_tcp(b);
  }
}

}  // namespace
}  // namespace ringside
