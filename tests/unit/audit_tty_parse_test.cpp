// AUDIT_TTY records: hex data, untrusted comm, device names, malformed records and datagrams.

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/netlink.h>

#include <cstring>

#include "sensors/kernel/audit_tty.hpp"

namespace ringside::audit_tty {
namespace {

// A record as this kernel wrote it (captured from the multicast group).
constexpr std::string_view kRecord =
    "audit(1795474332.538:29): tty pid=690 uid=0 auid=4294967295 ses=4294967295 major=136 "
    "minor=0 comm=\"bash\" data=6563686F206D61726B65722D3132330A";

TEST(AuditTtyParse, RealRecord) {
  std::string why;
  auto r = parse_record(kRecord, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->time_ns, 1795474332538000000LL);
  EXPECT_EQ(r->serial, 29u);
  EXPECT_EQ(r->pid, 690);
  EXPECT_EQ(r->uid, 0u);
  EXPECT_EQ(r->auid, 4294967295u);
  EXPECT_EQ(r->major, 136);
  EXPECT_EQ(r->minor, 0);
  EXPECT_EQ(r->comm, "bash");
  EXPECT_EQ(r->data, "echo marker-123\n");
  EXPECT_EQ(tty_name(r->major, r->minor), "pts/0");
}

TEST(AuditTtyParse, HexEncodedCommAndControlBytes) {
  std::string why;
  // comm "a b" needs encoding (a space), the data holds a backspace and an escape sequence.
  auto r = parse_record(
      "audit(1.5:7): tty pid=12 uid=1000 auid=1000 ses=3 major=4 minor=65 comm=612062 "
      "data=6C737F1B5B410D",
      &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->comm, "a b");
  EXPECT_EQ(r->data, std::string("ls\x7f\x1b[A\r"));
  EXPECT_EQ(r->time_ns, 1005000000LL);
  EXPECT_EQ(tty_name(r->major, r->minor), "ttyS1");
  EXPECT_EQ(tty_name(4, 2), "tty2");
  EXPECT_EQ(tty_name(137, 3), "pts/259");
  EXPECT_EQ(tty_name(188, 0), "188:0");
}

TEST(AuditTtyParse, MalformedRecordsAreRejectedWithAReason) {
  std::string why;
  EXPECT_FALSE(parse_record("tty pid=1", &why));
  EXPECT_EQ(why, "record does not start with audit(");
  EXPECT_FALSE(parse_record("audit(12:3): tty pid=1", &why));
  EXPECT_EQ(why, "malformed audit(time:serial) header");
  EXPECT_FALSE(parse_record("audit(1.0:3): tty pid=1 uid=0 major=4 minor=1", &why));
  EXPECT_EQ(why, "record has no data=");
  EXPECT_FALSE(parse_record("audit(1.0:3): tty pid=x uid=0 major=4 minor=1 data=41", &why));
  EXPECT_EQ(why, "non-numeric pid, uid, major or minor");
  EXPECT_FALSE(parse_record("audit(1.0:3): tty pid=1 uid=0 major=4 minor=1 data=4", &why));
  EXPECT_EQ(why, "data= is not hex");
  EXPECT_FALSE(parse_record("audit(1.0:3): tty pid=1 uid=0 major=4 minor=1 data=4G", &why));
  // "auid=" must not be taken for "uid=".
  EXPECT_FALSE(parse_record("audit(1.0:3): tty pid=1 auid=0 major=4 minor=1 data=41", &why));
  EXPECT_EQ(why, "record has no uid=");
}

TEST(AuditTtyParse, HexDecoding) {
  EXPECT_EQ(decode_hex(""), std::string());
  EXPECT_EQ(decode_hex("00ff41"), std::string("\0\xff"
                                              "A",
                                              3));
  EXPECT_FALSE(decode_hex("abc"));
  EXPECT_EQ(decode_untrusted("\"x y\""), "x y");
  EXPECT_EQ(decode_untrusted("(null)"), "");
}

std::vector<uint8_t> datagram(const std::vector<std::pair<uint16_t, std::string>>& msgs) {
  std::vector<uint8_t> out;
  for (const auto& [type, text] : msgs) {
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(text.size()));
    h.nlmsg_type = type;
    const size_t at = out.size();
    out.resize(at + NLMSG_SPACE(text.size()), 0);
    std::memcpy(out.data() + at, &h, sizeof h);
    std::memcpy(out.data() + at + NLMSG_HDRLEN, text.data(), text.size());
  }
  return out;
}

TEST(AuditTtyParse, DatagramSplitting) {
  auto d = datagram({{AUDIT_SYSCALL, "audit(1.0:1): arch=c000003e"},
                     {AUDIT_TTY, std::string(kRecord) + std::string(1, '\0')}});
  std::vector<Message> out;
  EXPECT_EQ(split_datagram(d.data(), d.size(), out), 0u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, AUDIT_SYSCALL);
  EXPECT_EQ(out[1].type, AUDIT_TTY);
  EXPECT_EQ(out[1].text, kRecord);  // trailing NUL dropped

  // A length past the end, and trailing garbage shorter than a header: counted, no crash.
  auto bad = d;
  nlmsghdr h{};
  std::memcpy(&h, bad.data(), sizeof h);
  h.nlmsg_len = 100000;
  std::memcpy(bad.data(), &h, sizeof h);
  out.clear();
  EXPECT_EQ(split_datagram(bad.data(), bad.size(), out), 1u);
  EXPECT_TRUE(out.empty());
  // As the kernel sends it: one record, its length not a multiple of 4, no padding.
  auto unpadded = datagram({{AUDIT_TTY, "audit(1.0:2): tty pid=1 uid=0 major=4 minor=1 data=41"}});
  unpadded.resize(NLMSG_HDRLEN + 53);
  out.clear();
  EXPECT_EQ(split_datagram(unpadded.data(), unpadded.size(), out), 0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text.size(), 53u);
  auto tail = d;
  tail.push_back(7);
  out.clear();
  EXPECT_EQ(split_datagram(tail.data(), tail.size(), out), 1u);
  EXPECT_EQ(out.size(), 2u);
}

}  // namespace
}  // namespace ringside::audit_tty
