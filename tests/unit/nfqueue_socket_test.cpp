// The parser of what the kernel sends on an NFQUEUE socket, on messages built the way the
// kernel builds them (libmnl / libnetfilter_queue helpers), and on broken ones.
#include "sensors/kernel/nfqueue_socket.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_queue.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <vector>

namespace ringside {
namespace {

size_t put_packet(char* buf, uint32_t id, uint8_t hook, const std::vector<uint8_t>& payload,
                  bool with_ct) {
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_PACKET, 5);
  nfqnl_msg_packet_hdr hdr{};
  hdr.packet_id = htonl(id);
  hdr.hw_protocol = htons(0x0800);
  hdr.hook = hook;
  mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof hdr, &hdr);
  mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x11));
  mnl_attr_put_u32(nlh, NFQA_UID, htonl(1000));
  if (with_ct) mnl_attr_put_u32(nlh, NFQA_CT_INFO, htonl(kCtNew));
  mnl_attr_put(nlh, NFQA_PAYLOAD, payload.size(), payload.data());
  return nlh->nlmsg_len;
}

TEST(NfqueueSocket, ParsesPacketMessages) {
  alignas(nlmsghdr) char buf[4096] = {};
  size_t len = put_packet(buf, 77, kHookLocalOut, {0x45, 1, 2, 3}, true);
  len += put_packet(buf + MNL_ALIGN(len), 78, kHookLocalIn, {0x60}, false);
  auto r = parse_queue_datagram(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(buf), len));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2U);
  const QueuedPacket& p = (*r)[0];
  EXPECT_EQ(p.id, 77U);
  EXPECT_EQ(p.hook, kHookLocalOut);
  EXPECT_EQ(p.mark, 0x11U);
  EXPECT_EQ(p.uid, 1000U);
  EXPECT_FALSE(p.gid);
  EXPECT_EQ(p.ct_info, kCtNew);
  EXPECT_EQ(p.payload, (std::vector<uint8_t>{0x45, 1, 2, 3}));
  EXPECT_EQ((*r)[1].id, 78U);
  EXPECT_EQ((*r)[1].ct_info, -1);
}

TEST(NfqueueSocket, RejectsTruncatedAndHeaderlessMessages) {
  alignas(nlmsghdr) char buf[4096] = {};
  const size_t len = put_packet(buf, 1, kHookLocalOut, {1, 2, 3, 4, 5, 6, 7, 8}, true);
  for (size_t cut = 1; cut < len; cut += 3) {
    auto r =
        parse_queue_datagram(std::span<const uint8_t>(reinterpret_cast<uint8_t*>(buf), len - cut));
    EXPECT_FALSE(r && !r->empty()) << "cut " << cut;
  }
  alignas(nlmsghdr) char bare[256] = {};
  nlmsghdr* nlh = nfq_nlmsg_put(bare, NFQNL_MSG_PACKET, 5);
  auto r = parse_queue_datagram(
      std::span<const uint8_t>(reinterpret_cast<uint8_t*>(bare), nlh->nlmsg_len));
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace ringside
