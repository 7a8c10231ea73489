// syslog export: each event as one RFC 5424 message whose MSG is the event's JSON object, to a
// collector over UDP (one datagram per message) or TCP (RFC 6587 octet-counting framing:
// "LEN SP MSG"). TCP reconnects with exponential backoff; every message that could not be
// handed to the collector (down, refused, buffer full, connection lost) is counted as failed.
// All socket work is non-blocking: a slow collector never holds up the sink thread for long.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "sinks/sink.hpp"

namespace ringside {

struct SyslogTarget {
  bool tcp = false;
  std::string host;
  uint16_t port = 0;
};

// "tcp://HOST:PORT" or "udp://HOST:PORT" (HOST may be [v6]).
Result<SyslogTarget> parse_syslog_url(std::string_view url);

// RFC 5424 severity for an event: deny -> warning, alert -> notice, lost -> error, else info.
int syslog_severity(const Event& ev);
inline constexpr int kSyslogFacility = 13;  // log audit

// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG": TIMESTAMP is RFC 3339 UTC with microseconds,
// MSGID "category.action"; header fields are cut to their RFC lengths and stripped to
// printable US-ASCII. `json` is the event's JSON object (a trailing newline is dropped).
std::string format_rfc5424(const Event& ev, std::string_view hostname, std::string_view app,
                           int procid, std::string_view json);
// RFC 6587 octet counting: "<length> <msg>".
void append_octet_frame(std::string& out, std::string_view msg);

struct SyslogStats {
  uint64_t written = 0, failed = 0, connects = 0, disconnects = 0;
};

class SyslogSink final : public Sink {
 public:
  static Result<std::unique_ptr<SyslogSink>> open(const std::string& url);
  ~SyslogSink() override;

  std::string_view name() const override { return "syslog"; }
  void write(const Event& ev) override;
  void flush() override;
  SinkStats stats() const override { return {st_.written, st_.failed}; }
  const SyslogStats& detailed_stats() const { return st_; }

  static constexpr size_t kMaxBuffered = 4u << 20;  // bytes waiting for a slow TCP collector

 private:
  SyslogSink(SyslogTarget target, std::string hostname);
  Result<void> resolve();
  void try_connect();
  void check_connecting();
  void pump();
  void drop_connection(const std::string& why);

  SyslogTarget target_;
  std::string hostname_;
  int pid_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int fd_ = -1;
  enum class State { kDown, kConnecting, kUp } state_ = State::kDown;
  int64_t next_attempt_ns_ = 0;
  int64_t backoff_ns_ = 0;
  std::string json_, msg_;
  std::string out_;          // framed messages not yet sent (TCP)
  size_t sent_ = 0;          // bytes of out_ already sent
  std::deque<size_t> ends_;  // end offset in out_ of each buffered message
  uint64_t warnings_ = 0;
  SyslogStats st_;
};

}  // namespace ringside
