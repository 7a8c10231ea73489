#include "sinks/syslog_sink.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/log.hpp"

namespace ringside {

namespace {

constexpr int64_t kBackoffMinNs = 100LL * 1000 * 1000;
constexpr int64_t kBackoffMaxNs = 30LL * 1000 * 1000 * 1000;
constexpr size_t kMaxDatagram = 65507;

// PRINTUSASCII (33..126), at most `max` characters; "-" when empty.
void append_header_field(std::string& out, std::string_view s, size_t max) {
  size_t n = 0;
  for (char c : s) {
    if (n == max) break;
    if (c >= 33 && c <= 126) {
      out += c;
      ++n;
    }
  }
  if (n == 0) out += '-';
}

}  // namespace

Result<SyslogTarget> parse_syslog_url(std::string_view url) {
  SyslogTarget t;
  if (url.substr(0, 6) == "tcp://") {
    t.tcp = true;
  } else if (url.substr(0, 6) != "udp://") {
    return Error{"syslog: '" + std::string(url) + "' is not tcp://HOST:PORT or udp://HOST:PORT"};
  }
  std::string_view rest = url.substr(6);
  size_t colon;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return Error{"syslog: bad address in '" + std::string(url) + "'"};
    }
    t.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error{"syslog: '" + std::string(url) + "' needs HOST:PORT"};
    }
    t.host = std::string(rest.substr(0, colon));
  }
  const std::string_view port = rest.substr(colon + 1);
  unsigned long v = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (v = std::stoul(std::string(port))) == 0 || v > 65535) {
    return Error{"syslog: bad port in '" + std::string(url) + "'"};
  }
  t.port = static_cast<uint16_t>(v);
  return t;
}

int syslog_severity(const Event& ev) {
  if (ev.type() == EventType::kRingsideLost) return 3;
  const auto v = ev.get_str(Field::kRingsideVerdict);
  if (v == "deny") return 4;
  if (v == "alert" || ev.type() == EventType::kRingsideAlert) return 5;
  return 6;
}

std::string format_rfc5424(const Event& ev, std::string_view hostname, std::string_view app,
                           int procid, std::string_view json) {
  std::string out;
  out.reserve(json.size() + 128);
  out += '<';
  out += std::to_string(kSyslogFacility * 8 + syslog_severity(ev));
  out += ">1 ";
  const int64_t ns = ev.timestamp_ns();
  const time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((ns % 1000000000) / 1000));
  out += ts;
  append_header_field(out, hostname, 255);
  out += ' ';
  append_header_field(out, app, 48);
  out += ' ';
  append_header_field(out, std::to_string(procid), 128);
  out += ' ';
  std::string msgid(ev.category());
  msgid += '.';
  msgid += ev.action();
  append_header_field(out, msgid, 32);
  out += " - ";
  if (!json.empty() && json.back() == '\n') json.remove_suffix(1);
  out += json;
  return out;
}

void append_octet_frame(std::string& out, std::string_view msg) {
  out += std::to_string(msg.size());
  out += ' ';
  out += msg;
}

SyslogSink::SyslogSink(SyslogTarget target, std::string hostname)
    : target_(std::move(target)), hostname_(std::move(hostname)), pid_(getpid()) {}

Result<std::unique_ptr<SyslogSink>> SyslogSink::open(const std::string& url) {
  auto target = parse_syslog_url(url);
  if (!target) return std::move(target).error();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::unique_ptr<SyslogSink> sink(new SyslogSink(std::move(target).value(), host));
  if (auto r = sink->resolve(); !r) return std::move(r).error();
  sink->try_connect();
  return sink;
}

SyslogSink::~SyslogSink() {
  // Give a TCP collector up to two seconds to take what is buffered.
  const int64_t deadline = clock::monotonic_ns() + 2000000000LL;
  while (target_.tcp && !ends_.empty() && state_ != State::kDown &&
         clock::monotonic_ns() < deadline) {
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, 100);
    if (state_ == State::kConnecting) check_connecting();
    if (state_ == State::kUp) pump();
  }
  if (!ends_.empty()) {
    st_.failed += ends_.size();
    log().warn("syslog: {} messages undelivered at exit", ends_.size());
  }
  if (fd_ >= 0) close(fd_);
}

Result<void> SyslogSink::resolve() {
  addrinfo hints{};
  hints.ai_socktype = target_.tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(target_.port);
  const int rc = getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Error{"syslog: cannot resolve " + target_.host + ": " + gai_strerror(rc)};
  }
  std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
  addr_len_ = res->ai_addrlen;
  freeaddrinfo(res);
  return ok();
}

void SyslogSink::try_connect() {
  const int64_t now = clock::monotonic_ns();
  if (now < next_attempt_ns_) return;
  fd_ = socket(addr_.ss_family,
               (target_.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    drop_connection("socket: " + errno_text(errno));
    return;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) == 0) {
    state_ = State::kUp;
    ++st_.connects;
    backoff_ns_ = 0;
  } else if (errno == EINPROGRESS) {
    state_ = State::kConnecting;
  } else {
    drop_connection("connect: " + errno_text(errno));
  }
}

void SyslogSink::check_connecting() {
  pollfd p{fd_, POLLOUT, 0};
  if (::poll(&p, 1, 0) <= 0) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    drop_connection("connect: " + errno_text(err));
    return;
  }
  state_ = State::kUp;
  ++st_.connects;
  backoff_ns_ = 0;
  log().info("syslog: connected to {}:{}", target_.host, target_.port);
}

void SyslogSink::drop_connection(const std::string& why) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (state_ == State::kUp) ++st_.disconnects;
  state_ = State::kDown;
  // What was buffered for this connection is lost: a partly sent message cannot be resumed on
  // another connection.
  st_.failed += ends_.size();
  const size_t lost = ends_.size();
  ends_.clear();
  out_.clear();
  sent_ = 0;
  backoff_ns_ = backoff_ns_ == 0 ? kBackoffMinNs : std::min(backoff_ns_ * 2, kBackoffMaxNs);
  next_attempt_ns_ = clock::monotonic_ns() + backoff_ns_;
  if (warnings_++ < 5 || warnings_ % 100 == 0) {
    log().warn("syslog: {}:{}: {}; {} buffered messages lost; retrying in {} ms", target_.host,
               target_.port, why, lost, backoff_ns_ / 1000000);
  }
}

void SyslogSink::pump() {
  while (sent_ < out_.size()) {
    const ssize_t n =
        ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      drop_connection("send: " + errno_text(errno));
      return;
    }
    sent_ += static_cast<size_t>(n);
    while (!ends_.empty() && ends_.front() <= sent_) {
      ends_.pop_front();
      ++st_.written;
    }
  }
  if (sent_ == out_.size()) {
    out_.clear();
    sent_ = 0;
  } else if (sent_ > (1u << 20)) {
    out_.erase(0, sent_);
    for (size_t& e : ends_) e -= sent_;
    sent_ = 0;
  }
}

void SyslogSink::write(const Event& ev) {
  json_.clear();
  append_event_json(json_, ev);
  msg_ = format_rfc5424(ev, hostname_, "ringside", pid_, json_);
  if (state_ == State::kDown) try_connect();
  if (state_ == State::kDown) {
    ++st_.failed;
    return;
  }
  if (!target_.tcp) {
    if (msg_.size() > kMaxDatagram) msg_.resize(kMaxDatagram);
    const ssize_t n = ::send(fd_, msg_.data(), msg_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(msg_.size())) {
      ++st_.written;
    } else {
      ++st_.failed;
      if (warnings_++ < 5 || warnings_ % 1000 == 0) {
        log().warn("syslog: udp send to {}:{} failed: {} (total failed {})", target_.host,
                   target_.port, errno_text(errno), st_.failed);
      }
    }
    return;
  }
  if (out_.size() - sent_ + msg_.size() > kMaxBuffered) {
    ++st_.failed;  // the collector is not keeping up
    return;
  }
  append_octet_frame(out_, msg_);
  ends_.push_back(out_.size());
  if (state_ == State::kUp && out_.size() - sent_ >= 64 * 1024) pump();
}

void SyslogSink::flush() {
  if (!target_.tcp) return;
  if (state_ == State::kDown) try_connect();
  if (state_ == State::kConnecting) check_connecting();
  if (state_ == State::kUp) pump();
}

}  // namespace ringside
