// Kernel-level keyboard sensor for terminals: AUDIT_TTY records, read from the audit netlink
// multicast group AUDIT_NLGRP_READLOG (a read-only copy, so a running auditd keeps its place).
// The kernel writes one record per line a process with TTY auditing enabled read (canonical
// mode), or per buffer of raw-mode input (readline) when the mode changes or the process ends.
// TTY auditing is switched on per session by pam_tty_audit or `ringside tty-session`; the
// sensor switches audit itself on if it is off, and back off when it stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sensors/sensor.hpp"

namespace ringside {

namespace audit_tty {

// One AUDIT_TTY record: "audit(SEC.MSEC:SERIAL): tty pid=.. uid=.. auid=.. ses=.. major=..
// minor=.. comm=.. data=HEX".
struct Record {
  int64_t time_ns = 0;  // the record's own time stamp (realtime, ms resolution)
  uint64_t serial = 0;
  int32_t pid = 0;
  uint32_t uid = 0, auid = 0, ses = 0;
  int major = 0, minor = 0;
  std::string comm;
  std::string data;  // decoded bytes as the process read them
};

// Parses the text of an AUDIT_TTY record; nullopt with `why` set when malformed.
std::optional<Record> parse_record(std::string_view text, std::string* why);

// "6869" -> "hi"; nullopt on odd length or a non-hex digit.
std::optional<std::string> decode_hex(std::string_view hex);

// A quoted value ("bash") or the kernel's hex form of an untrusted string.
std::optional<std::string> decode_untrusted(std::string_view value);

// Terminal name from the record's device numbers: pts/N, ttyN, ttySN, or MAJ:MIN.
std::string tty_name(int major, int minor);

struct Message {
  uint16_t type = 0;
  std::string_view text;
};
// Splits one audit netlink datagram into messages; returns how many were malformed.
size_t split_datagram(const uint8_t* data, size_t size, std::vector<Message>& out);

}  // namespace audit_tty

class AuditTtySensor final : public Sensor {
 public:
  AuditTtySensor();
  ~AuditTtySensor() override;

  std::string_view name() const override { return "keyboard_audit_tty"; }
  std::string_view mechanism() const override { return "audit_tty"; }
  Level level() const override { return Level::kKernel; }
  Domain domain() const override { return Domain::kKeyboard; }
  Result<void> start(SensorContext& ctx) override;
  void stop() override;
  SensorStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringside
