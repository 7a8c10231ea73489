#include "sensors/kernel/dns_parse.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace ringside {

namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void append_label(std::string& out, const uint8_t* p, size_t len) {
  if (!out.empty()) out.push_back('.');
  for (size_t i = 0; i < len; ++i) {
    const uint8_t c = p[i];
    if (c == '.' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x21 || c > 0x7e) {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", c);
      out += esc;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

// Reads the name at `off`; on success `off` is just past the name where it started (after the
// first pointer, if any).
Result<std::string> read_name(std::span<const uint8_t> m, size_t& off) {
  std::string out;
  size_t pos = off;
  size_t wire_len = 1;  // the root label
  int jumps = 0;
  bool jumped = false;
  while (true) {
    if (pos >= m.size()) return Error{"truncated name"};
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= m.size()) return Error{"truncated compression pointer"};
      const size_t target = (static_cast<size_t>(len & 0x3f) << 8) | m[pos + 1];
      // Only strictly backwards: every jump makes progress towards the start, so no loop.
      if (target >= pos) return Error{"compression pointer does not point backwards"};
      if (++jumps > kMaxPointerJumps) return Error{"too many compression pointers"};
      if (!jumped) off = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) return Error{"unsupported label type"};
    if (len == 0) {
      if (!jumped) off = pos + 1;
      break;
    }
    if (pos + 1 + len > m.size()) return Error{"truncated label"};
    wire_len += 1 + len;
    if (wire_len > kMaxDnsName) return Error{"name longer than 255 bytes"};
    append_label(out, &m[pos + 1], len);
    pos += 1 + len;
  }
  if (out.empty()) out = ".";
  return out;
}

}  // namespace

std::string dns_type_name(uint16_t type) {
  switch (type) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return "TYPE" + std::to_string(type);
  }
}

Result<DnsMessage> parse_dns(std::span<const uint8_t> m) {
  if (m.size() < kHeader) return Error{"truncated DNS header"};
  DnsMessage out;
  out.id = be16(&m[0]);
  const uint16_t flags = be16(&m[2]);
  out.response = (flags & 0x8000) != 0;
  out.opcode = static_cast<uint8_t>((flags >> 11) & 0x0f);
  out.truncated = (flags & 0x0200) != 0;
  out.rcode = static_cast<uint8_t>(flags & 0x0f);
  const uint16_t qd = be16(&m[4]);
  const uint16_t an = be16(&m[6]);
  if (qd > kMaxDnsQuestions) return Error{"too many questions (" + std::to_string(qd) + ")"};
  size_t off = kHeader;
  for (uint16_t i = 0; i < qd; ++i) {
    auto name = read_name(m, off);
    if (!name) return std::move(name).error();
    if (off + 4 > m.size()) return Error{"truncated question"};
    out.questions.push_back({std::move(name).value(), be16(&m[off]), be16(&m[off + 2])});
    off += 4;
  }
  if (!out.response) return out;
  const uint16_t answers = an < kMaxDnsAnswers ? an : kMaxDnsAnswers;
  for (uint16_t i = 0; i < answers; ++i) {
    auto name = read_name(m, off);
    if (!name) return std::move(name).error();
    if (off + 10 > m.size()) return Error{"truncated resource record"};
    const uint16_t type = be16(&m[off]);
    const uint16_t cls = be16(&m[off + 2]);
    const size_t rdlen = be16(&m[off + 8]);
    off += 10;
    if (off + rdlen > m.size()) return Error{"truncated record data"};
    if (cls == 1 && type == kTypeA && rdlen == 4) {
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &m[off], buf, sizeof buf);
      out.addresses.emplace_back(buf);
    } else if (cls == 1 && type == kTypeAaaa && rdlen == 16) {
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &m[off], buf, sizeof buf);
      out.addresses.emplace_back(buf);
    } else if (type == kTypeCname) {
      size_t target_off = off;
      auto target = read_name(m.first(off + rdlen), target_off);
      if (!target) return std::move(target).error();
      out.cnames.push_back(std::move(target).value());
    } else if ((type == kTypeA || type == kTypeAaaa) && cls == 1) {
      return Error{"bad address length " + std::to_string(rdlen)};
    }
    off += rdlen;
  }
  return out;
}

Result<DnsMessage> parse_dns_tcp(std::span<const uint8_t> segment) {
  if (segment.size() < 2) return Error{"incomplete DNS-over-TCP message"};
  const size_t len = be16(segment.data());
  if (segment.size() < 2 + len) return Error{"incomplete DNS-over-TCP message"};
  return parse_dns(segment.subspan(2, len));
}

}  // namespace ringside
