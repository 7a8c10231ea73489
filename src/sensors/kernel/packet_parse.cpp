#include "sensors/kernel/packet_parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace ringside {

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// IPv6 extension headers walked before giving up (a hostile chain cannot loop us).
constexpr int kMaxExtensionHeaders = 8;

bool is_v4_mapped(const uint8_t* a) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kPrefix, sizeof kPrefix) == 0;
}

Result<void> parse_transport(uint8_t proto, std::span<const uint8_t> seg, PacketInfo& out) {
  out.flow.protocol = proto;
  if (proto == IPPROTO_TCP) {
    if (seg.size() < 20) return Error{"truncated TCP header"};
    const size_t doff = static_cast<size_t>(seg[12] >> 4) * 4;
    if (doff < 20 || doff > seg.size()) return Error{"bad TCP data offset"};
    out.flow.sport = be16(&seg[0]);
    out.flow.dport = be16(&seg[2]);
    const uint8_t flags = seg[13];
    out.tcp_fin = (flags & 0x01) != 0;
    out.tcp_syn = (flags & 0x02) != 0;
    out.tcp_rst = (flags & 0x04) != 0;
    out.tcp_ack = (flags & 0x10) != 0;
    out.payload = seg.subspan(doff);
    return ok();
  }
  if (proto == IPPROTO_UDP) {
    if (seg.size() < 8) return Error{"truncated UDP header"};
    out.flow.sport = be16(&seg[0]);
    out.flow.dport = be16(&seg[2]);
    const size_t len = be16(&seg[4]);
    if (len < 8) return Error{"bad UDP length"};
    out.payload = seg.subspan(8, std::min(len, seg.size()) - 8);
    return ok();
  }
  return Error{"unsupported protocol " + std::to_string(proto)};
}

Result<PacketInfo> parse_v4(std::span<const uint8_t> p) {
  PacketInfo out;
  if (p.size() < 20) return Error{"truncated IPv4 header"};
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > p.size()) return Error{"bad IPv4 header length"};
  const size_t total = be16(&p[2]);
  if (total < ihl) return Error{"bad IPv4 total length"};
  const size_t end = std::min(total, p.size());
  std::memcpy(out.flow.saddr.data(), &p[12], 4);
  std::memcpy(out.flow.daddr.data(), &p[16], 4);
  const uint16_t frag = be16(&p[6]);
  if ((frag & 0x1fff) != 0) {
    out.fragment = true;
    out.flow.protocol = p[9];
    return out;
  }
  auto r = parse_transport(p[9], p.subspan(ihl, end - ihl), out);
  if (!r) return std::move(r).error();
  return out;
}

Result<PacketInfo> parse_v6(std::span<const uint8_t> p) {
  PacketInfo out;
  if (p.size() < 40) return Error{"truncated IPv6 header"};
  const size_t end = std::min<size_t>(40 + be16(&p[4]), p.size());
  const uint8_t* src = &p[8];
  const uint8_t* dst = &p[24];
  if (is_v4_mapped(src) && is_v4_mapped(dst)) {
    std::memcpy(out.flow.saddr.data(), src + 12, 4);
    std::memcpy(out.flow.daddr.data(), dst + 12, 4);
  } else {
    out.flow.v6 = true;
    std::memcpy(out.flow.saddr.data(), src, 16);
    std::memcpy(out.flow.daddr.data(), dst, 16);
  }
  uint8_t next = p[6];
  size_t off = 40;
  for (int i = 0;; ++i) {
    if (next == IPPROTO_TCP || next == IPPROTO_UDP) break;
    if (i >= kMaxExtensionHeaders) return Error{"too many IPv6 extension headers"};
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
      if (off + 2 > end) return Error{"truncated IPv6 extension header"};
      const size_t len = (static_cast<size_t>(p[off + 1]) + 1) * 8;
      if (off + len > end) return Error{"truncated IPv6 extension header"};
      next = p[off];
      off += len;
      continue;
    }
    if (next == IPPROTO_FRAGMENT) {
      if (off + 8 > end) return Error{"truncated IPv6 fragment header"};
      const uint16_t frag = be16(&p[off + 2]);
      next = p[off];
      off += 8;
      if ((frag & 0xfff8) != 0) {
        out.fragment = true;
        out.flow.protocol = next;
        return out;
      }
      continue;
    }
    return Error{"unsupported protocol " + std::to_string(next)};
  }
  auto r = parse_transport(next, p.subspan(off, end - off), out);
  if (!r) return std::move(r).error();
  return out;
}

}  // namespace

Result<PacketInfo> parse_ip_packet(std::span<const uint8_t> packet) {
  if (packet.empty()) return Error{"empty packet"};
  switch (packet[0] >> 4) {
    case 4:
      return parse_v4(packet);
    case 6:
      return parse_v6(packet);
    default:
      return Error{"not an IP packet (version " + std::to_string(packet[0] >> 4) + ")"};
  }
}

std::string flow_address(const Flow& flow, bool source) {
  const auto& a = source ? flow.saddr : flow.daddr;
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(flow.v6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
  return buf;
}

}  // namespace ringside
