// What the NFQUEUE sensor parses from packets anyone on the network can shape: the IP header
// (IPv4, IPv6 with extension headers), the TCP/UDP header, and DNS on port 53 over UDP and TCP.
// A packet is either rejected with a reason or parsed into values that stay inside it: the
// payload is a sub-span of the packet, names respect the DNS limits, counts their caps.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sensors/kernel/dns_parse.hpp"
#include "sensors/kernel/packet_parse.hpp"

namespace {

void check_dns(const ringside::Result<ringside::DnsMessage>& m) {
  if (!m) {
    if (m.error().message.empty()) std::abort();
    return;
  }
  if (m->questions.size() > ringside::kMaxDnsQuestions) std::abort();
  if (m->addresses.size() > ringside::kMaxDnsAnswers) std::abort();
  // The limit is on the wire form; the text form escapes a byte as at most four characters.
  for (const auto& q : m->questions) {
    if (q.name.empty() || q.name.size() > 4 * ringside::kMaxDnsName) std::abort();
  }
  for (const auto& a : m->addresses) {
    if (a.empty() || a.size() > 45) std::abort();  // longest IPv6 text form
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> packet(data, size);
  auto info = ringside::parse_ip_packet(packet);
  if (!info) {
    if (info.error().message.empty()) std::abort();
  } else {
    const auto& p = info->payload;
    if (!p.empty() && (p.data() < data || p.data() + p.size() > data + size)) std::abort();
    // A non-first fragment has no transport header: its protocol is whatever IP says.
    if (!info->fragment && info->flow.protocol != 6 && info->flow.protocol != 17) std::abort();
    if (info->fragment && (info->flow.sport != 0 || info->flow.dport != 0)) std::abort();
    if (ringside::flow_address(info->flow, true).empty()) std::abort();
    if (ringside::flow_address(info->flow, false).empty()) std::abort();
    check_dns(info->flow.protocol == 17 ? ringside::parse_dns(p) : ringside::parse_dns_tcp(p));
  }
  // The same bytes as a DNS message by itself, both framings.
  check_dns(ringside::parse_dns(packet));
  check_dns(ringside::parse_dns_tcp(packet));
  return 0;
}
