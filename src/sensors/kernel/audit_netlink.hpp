// Thin facade over the kernel audit netlink socket: one method per request. Used by the TTY
// audit sensor (a read-only multicast reader) and by `ringside tty-session`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace ringside {

struct AuditStatus {
  uint32_t enabled = 0;  // 0 off, 1 on, 2 on and locked
  uint32_t pid = 0;      // registered audit daemon, 0 when none
  uint32_t lost = 0;     // records the kernel dropped
  uint32_t backlog = 0;
};

class AuditNetlink {
 public:
  // A NETLINK_AUDIT socket for requests (AUDIT_GET, AUDIT_SET, AUDIT_TTY_SET).
  static Result<AuditNetlink> open();
  // A socket bound to AUDIT_NLGRP_READLOG: a copy of every record, without displacing a
  // running audit daemon (needs CAP_AUDIT_READ).
  static Result<AuditNetlink> open_readlog(int receive_buffer_bytes);

  AuditNetlink(AuditNetlink&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  AuditNetlink& operator=(AuditNetlink&& o) noexcept;
  AuditNetlink(const AuditNetlink&) = delete;
  AuditNetlink& operator=(const AuditNetlink&) = delete;
  ~AuditNetlink();

  Result<AuditStatus> get_status();
  // AUDIT_SET with AUDIT_STATUS_ENABLED.
  Result<void> set_enabled(uint32_t enabled);
  // AUDIT_TTY_SET for the calling process (inherited by its children), as pam_tty_audit does.
  Result<void> set_tty(bool enabled, bool log_passwd);
  // One datagram (MSG_DONTWAIT); 0 bytes when nothing is queued, ENOBUFS as an error.
  Result<size_t> receive(std::vector<uint8_t>& buf);
  int fd() const { return fd_; }

 private:
  explicit AuditNetlink(int fd) : fd_(fd) {}
  Result<void> request(uint16_t type, const void* payload, size_t size, std::string* reply);
  int fd_ = -1;
  uint32_t seq_ = 0;
};

}  // namespace ringside
