#include "sensors/kernel/nfqueue_socket.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

namespace ringside {

namespace {

constexpr uint32_t kQueueMaxLen = 4096;
constexpr int kRecvBufferBytes = 8 << 20;

struct ParseState {
  std::vector<QueuedPacket>* out;
  bool bad = false;
};

int on_message(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<ParseState*>(data);
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
      NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET) {
    return MNL_CB_OK;
  }
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) {
    st->bad = true;
    return MNL_CB_OK;
  }
  if (mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(nfqnl_msg_packet_hdr)) {
    st->bad = true;
    return MNL_CB_OK;
  }
  nfqnl_msg_packet_hdr hdr{};
  std::memcpy(&hdr, mnl_attr_get_payload(attr[NFQA_PACKET_HDR]), sizeof hdr);
  QueuedPacket p;
  p.id = ntohl(hdr.packet_id);
  p.hook = hdr.hook;
  auto u32 = [&](int type) -> std::optional<uint32_t> {
    if (attr[type] == nullptr || mnl_attr_get_payload_len(attr[type]) < 4) return std::nullopt;
    return ntohl(mnl_attr_get_u32(attr[type]));
  };
  p.mark = u32(NFQA_MARK).value_or(0);
  p.uid = u32(NFQA_UID);
  p.gid = u32(NFQA_GID);
  if (auto ct = u32(NFQA_CT_INFO)) p.ct_info = static_cast<int>(*ct);
  if (attr[NFQA_PAYLOAD] != nullptr) {
    const auto* b = static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD]));
    p.payload.assign(b, b + mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
  }
  st->out->push_back(std::move(p));
  return MNL_CB_OK;
}

class RealNfqueue final : public NfqueueIo {
 public:
  RealNfqueue(mnl_socket* nl, uint16_t queue) : nl_(nl), queue_(queue) {}
  ~RealNfqueue() override { mnl_socket_close(nl_); }
  int fd() const override { return mnl_socket_get_fd(nl_); }

  Result<size_t> recv(std::span<uint8_t> buf) override {
    const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) return errno_error("nfqueue: recv");
    return static_cast<size_t>(n);
  }

  Result<void> verdict(uint32_t id, uint32_t verdict, std::optional<uint32_t> mark) override {
    alignas(nlmsghdr) char buf[256];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queue_);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), static_cast<int>(verdict));
    if (mark) nfq_nlmsg_verdict_put_mark(nlh, *mark);
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return errno_error("nfqueue: verdict");
    return ok();
  }

  // Sends a configuration message and waits for the kernel's acknowledgement.
  Result<void> configure(nlmsghdr* nlh, const char* what) {
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
      return errno_error(std::string("nfqueue: ") + what);
    }
    alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
    const ssize_t n = mnl_socket_recvfrom(nl_, buf, sizeof buf);
    if (n < 0) return errno_error(std::string("nfqueue: ") + what);
    if (mnl_cb_run(buf, static_cast<size_t>(n), seq_, mnl_socket_get_portid(nl_), nullptr,
                   nullptr) < 0) {
      return errno_error(std::string("nfqueue: ") + what);
    }
    return ok();
  }

 private:
  mnl_socket* nl_;
  uint16_t queue_;
  uint32_t seq_ = 0;
};

}  // namespace

Result<std::vector<QueuedPacket>> parse_queue_datagram(std::span<const uint8_t> data) {
  std::vector<QueuedPacket> out;
  ParseState st{&out};
  // Sequence 0 and port 0: the kernel's unsolicited packet messages are not checked against
  // either; an NLMSG_ERROR in the datagram makes this fail.
  const int r = mnl_cb_run(data.data(), data.size(), 0, 0, on_message, &st);
  if (r < 0) return errno_error("nfqueue: malformed netlink datagram");
  if (st.bad) return Error{"nfqueue: malformed packet message"};
  return out;
}

Result<std::unique_ptr<NfqueueIo>> open_nfqueue(uint16_t queue, bool fail_open) {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return errno_error("nfqueue: netlink socket");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    auto e = errno_error("nfqueue: netlink bind");
    mnl_socket_close(nl);
    return e;
  }
  auto q = std::make_unique<RealNfqueue>(nl, queue);
  const int rcvbuf = kRecvBufferBytes;
  setsockopt(q->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  if (auto r = q->configure(nlh, "bind queue"); !r) {
    if (r.error().code == EBUSY) {
      return Error{"nfqueue: queue " + std::to_string(queue) +
                       " is bound by another program (settings.network.queue)",
                   EBUSY};
    }
    return std::move(r).error();
  }
  // Conntrack state and socket owner are extras: a kernel built without the netlink glue for
  // them answers EOPNOTSUPP, and the queue then works without them.
  const uint32_t base = fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
  for (const uint32_t extra : {uint32_t{NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_UID_GID},
                               uint32_t{NFQA_CFG_F_UID_GID}, uint32_t{0}}) {
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, kQueueMaxLen);
    const uint32_t flags = base | extra;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
    auto r = q->configure(nlh, "queue parameters");
    if (r) return std::unique_ptr<NfqueueIo>(std::move(q));
    if (r.error().code != EOPNOTSUPP || extra == 0) return std::move(r).error();
  }
  return Error{"nfqueue: queue parameters refused"};
}

std::optional<QueueDropCounts> parse_queue_drops(std::string_view text, uint16_t queue) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    std::array<uint64_t, 8> v{};
    size_t n = 0;
    while (n < v.size()) {
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v[n]);
      if (ec != std::errc()) break;
      line.remove_prefix(static_cast<size_t>(end - line.data()));
      ++n;
    }
    if (n != v.size() || v[0] != queue) continue;
    return QueueDropCounts{v[5], v[6], v[7]};
  }
  return std::nullopt;
}

}  // namespace ringside
