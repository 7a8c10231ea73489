// Parsing of the IP packets NFQUEUE hands over: IPv4 or IPv6 header (with IPv6 extension
// headers), then the TCP or UDP header. Pure functions over bytes: every length is checked
// against the buffer, so a truncated or hostile packet yields an error, never a read past it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/result.hpp"
#include "sensors/kernel/flow.hpp"

namespace ringside {

struct PacketInfo {
  Flow flow;              // addresses and ports in host byte order
  bool fragment = false;  // a non-first fragment: no transport header, no ports
  bool tcp_syn = false, tcp_ack = false, tcp_rst = false, tcp_fin = false;
  std::span<const uint8_t> payload;  // the transport payload inside `packet`
};

// `packet` starts with the IP header (what NFQUEUE's payload attribute carries).
// Errors name what was wrong ("truncated IPv4 header", "unsupported protocol 1", ...).
Result<PacketInfo> parse_ip_packet(std::span<const uint8_t> packet);

// Text form of one address of a flow: dotted quad for IPv4, RFC 5952 for IPv6.
std::string flow_address(const Flow& flow, bool source);

}  // namespace ringside
