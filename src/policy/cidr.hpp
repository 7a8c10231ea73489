// CIDR blocks and address normalisation. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
// treated as the IPv4 address they carry, on both sides of a comparison.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ringside::policy {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
};

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  static Result<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  bool contains(std::string_view ip_text) const;
  const IpAddress& network() const { return net_; }
  int prefix_length() const { return bits_; }

 private:
  IpAddress net_;
  int bits_ = 0;
};

}  // namespace ringside::policy
