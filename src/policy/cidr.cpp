#include "policy/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ringside::policy {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  if (inet_pton(AF_INET, buf, ip.bytes.data()) == 1) return ip;
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes.data(), kMapped, sizeof kMapped) == 0) {
      std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
      std::memset(ip.bytes.data() + 4, 0, 12);
      return ip;
    }
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return Error{"'" + std::string(text) + "' is not an IPv4 or IPv6 address or CIDR block"};
  Cidr c;
  c.net_ = *ip;
  // An IPv4-mapped block (::ffff:a.b.c.d/n, n >= 96) is the IPv4 block /n-96.
  const bool mapped = !ip->v6 && text.substr(0, slash).find(':') != std::string_view::npos;
  const int max_bits = ip->v6 || mapped ? 128 : 32;
  c.bits_ = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    int bits = -1;
    auto r = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (r.ec != std::errc() || r.ptr != len.data() + len.size() || bits < 0 || bits > max_bits) {
      return Error{"'" + std::string(text) + "': prefix length must be 0.." +
                   std::to_string(max_bits)};
    }
    c.bits_ = bits;
  }
  if (mapped) {
    if (c.bits_ < 96) {
      return Error{"'" + std::string(text) + "': an IPv4-mapped block needs a prefix of 96..128"};
    }
    c.bits_ -= 96;
  }
  // Clear host bits so that comparison is a plain masked compare.
  for (int i = 0; i < 16; ++i) {
    const int keep = std::max(0, std::min(8, c.bits_ - i * 8));
    c.net_.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : (0xFF << (8 - keep)) & 0xFF);
  }
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.v6 != net_.v6) return false;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::max(0, std::min(8, bits_ - i * 8));
    if (keep == 0) break;
    const auto mask = static_cast<uint8_t>((0xFF << (8 - keep)) & 0xFF);
    if ((ip.bytes[i] & mask) != net_.bytes[i]) return false;
  }
  return true;
}

bool Cidr::contains(std::string_view ip_text) const {
  auto ip = IpAddress::parse(ip_text);
  return ip && contains(*ip);
}

}  // namespace ringside::policy
