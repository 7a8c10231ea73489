// DNS message parsing (RFC 1035) for the packets seen on port 53. Built for hostile input:
// every read is bounds-checked, compression pointers may only point backwards (so they cannot
// loop) and are followed at most kMaxPointerJumps times, names longer than 255 bytes or labels
// longer than 63 are rejected, and record counts are capped. Errors say what was wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace ringside {

struct DnsQuestion {
  std::string name;  // presentation form without the final dot; "." for the root
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  bool truncated = false;  // the TC bit
  uint8_t opcode = 0;
  uint8_t rcode = 0;
  std::vector<DnsQuestion> questions;
  std::vector<std::string> addresses;  // A and AAAA answers, in order (text form)
  std::vector<std::string> cnames;     // CNAME targets in the answer section
};

inline constexpr int kMaxPointerJumps = 16;
inline constexpr size_t kMaxDnsName = 255;
inline constexpr uint16_t kMaxDnsQuestions = 4;
inline constexpr uint16_t kMaxDnsAnswers = 64;

// One DNS message as carried over UDP.
Result<DnsMessage> parse_dns(std::span<const uint8_t> msg);

// A TCP segment's payload: a 2-byte length prefix, then the message. A segment that does not
// hold the whole message yields an error ("incomplete").
Result<DnsMessage> parse_dns_tcp(std::span<const uint8_t> segment);

// "A", "AAAA", "MX", ... or "TYPE<n>" (RFC 3597).
std::string dns_type_name(uint16_t type);

}  // namespace ringside
