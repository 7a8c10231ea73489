#include "sensors/kernel/audit_netlink.hpp"

#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace ringside {

namespace {

constexpr int kReplyTimeoutMs = 2000;

}  // namespace

Result<AuditNetlink> AuditNetlink::open() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
  if (fd < 0) return errno_error("socket(NETLINK_AUDIT)");
  return AuditNetlink(fd);
}

Result<AuditNetlink> AuditNetlink::open_readlog(int receive_buffer_bytes) {
  auto s = open();
  if (!s) return s;
  const int bytes = receive_buffer_bytes;
  if (::setsockopt(s->fd_, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(s->fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1U << (AUDIT_NLGRP_READLOG - 1);
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("bind to the audit multicast group AUDIT_NLGRP_READLOG");
  }
  return s;
}

AuditNetlink& AuditNetlink::operator=(AuditNetlink&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

AuditNetlink::~AuditNetlink() {
  if (fd_ >= 0) ::close(fd_);
}

// Sends one request with NLM_F_ACK and reads until its ack; a reply of the request's own type
// (AUDIT_GET's status) is kept in `reply`.
Result<void> AuditNetlink::request(uint16_t type, const void* payload, size_t size,
                                   std::string* reply) {
  std::vector<uint8_t> msg(NLMSG_SPACE(size), 0);
  auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
  h->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(size));
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = ++seq_;
  if (size > 0) std::memcpy(NLMSG_DATA(h), payload, size);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, msg.data(), h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return errno_error("audit netlink send");
  }
  bool acked = false;
  bool replied = reply == nullptr;
  std::vector<uint8_t> buf(16384);
  while (!acked || !replied) {
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, kReplyTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"audit netlink: no answer from the kernel", ETIMEDOUT};
    const ssize_t got = ::recv(fd_, buf.data(), buf.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno_error("audit netlink receive");
    }
    size_t off = 0;
    while (static_cast<size_t>(got) - off >= sizeof(nlmsghdr)) {
      nlmsghdr r{};
      std::memcpy(&r, buf.data() + off, sizeof r);
      if (r.nlmsg_len < sizeof r || r.nlmsg_len > static_cast<size_t>(got) - off) break;
      const uint8_t* data = buf.data() + off + NLMSG_HDRLEN;
      const size_t len = r.nlmsg_len - NLMSG_HDRLEN;
      off += NLMSG_ALIGN(r.nlmsg_len);
      if (r.nlmsg_seq != seq_) continue;
      if (r.nlmsg_type == NLMSG_ERROR && len >= sizeof(int)) {
        int err = 0;
        std::memcpy(&err, data, sizeof err);
        if (err != 0) return Error{"audit netlink: " + errno_text(-err), -err};
        acked = true;
      } else if (r.nlmsg_type == type && reply != nullptr) {
        reply->assign(reinterpret_cast<const char*>(data), len);
        replied = true;
      }
    }
  }
  return ok();
}

Result<AuditStatus> AuditNetlink::get_status() {
  std::string reply;
  if (auto r = request(AUDIT_GET, nullptr, 0, &reply); !r) return std::move(r).error();
  audit_status st{};
  std::memcpy(&st, reply.data(), std::min(reply.size(), sizeof st));
  if (reply.size() < offsetof(audit_status, backlog) + sizeof st.backlog) {
    return Error{"AUDIT_GET: short status reply (" + std::to_string(reply.size()) + " bytes)"};
  }
  return AuditStatus{st.enabled, st.pid, st.lost, st.backlog};
}

Result<void> AuditNetlink::set_enabled(uint32_t enabled) {
  audit_status st{};
  st.mask = AUDIT_STATUS_ENABLED;
  st.enabled = enabled;
  return request(AUDIT_SET, &st, sizeof st, nullptr);
}

Result<void> AuditNetlink::set_tty(bool enabled, bool log_passwd) {
  audit_tty_status st{};
  st.enabled = enabled ? 1 : 0;
  st.log_passwd = log_passwd ? 1 : 0;
  return request(AUDIT_TTY_SET, &st, sizeof st, nullptr);
}

Result<size_t> AuditNetlink::receive(std::vector<uint8_t>& buf) {
  const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return size_t{0};
    return errno_error("audit netlink receive");
  }
  return static_cast<size_t>(n);
}

}  // namespace ringside
