// Kernel TTY audit sensor (see audit_tty.hpp).
#include "sensors/kernel/audit_tty.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <thread>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/audit_netlink.hpp"

namespace ringside {

namespace audit_tty {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value after "key=" up to the next space; empty view when the key is absent.
std::optional<std::string_view> value_of(std::string_view body, std::string_view key) {
  size_t at = 0;
  while (at < body.size()) {
    const size_t found = body.find(key, at);
    if (found == std::string_view::npos) return std::nullopt;
    const bool starts_word = found == 0 || body[found - 1] == ' ';
    const size_t v = found + key.size();
    if (starts_word && v < body.size() && body[v] == '=') {
      size_t end = v + 1;
      if (end < body.size() && body[end] == '"') {
        end = body.find('"', end + 1);
        if (end == std::string_view::npos) return std::nullopt;
        ++end;
      } else {
        end = body.find(' ', end);
        if (end == std::string_view::npos) end = body.size();
      }
      return body.substr(v + 1, end - v - 1);
    }
    at = found + 1;
  }
  return std::nullopt;
}

template <class T>
bool to_number(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

std::optional<std::string> decode_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]);
    const int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::optional<std::string> decode_untrusted(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return std::string(value.substr(1, value.size() - 2));
  }
  if (value == "(null)") return std::string();
  return decode_hex(value);
}

std::optional<Record> parse_record(std::string_view text, std::string* why) {
  // audit(1795474332.538:29): tty pid=...
  Record r;
  if (text.substr(0, 6) != "audit(") {
    *why = "record does not start with audit(";
    return std::nullopt;
  }
  const size_t close = text.find("): ");
  const size_t dot = text.find('.');
  const size_t colon = text.find(':');
  if (close == std::string_view::npos || dot > close || colon > close || dot > colon) {
    *why = "malformed audit(time:serial) header";
    return std::nullopt;
  }
  int64_t sec = 0, msec = 0;
  if (!to_number(text.substr(6, dot - 6), sec) ||
      !to_number(text.substr(dot + 1, colon - dot - 1), msec) ||
      !to_number(text.substr(colon + 1, close - colon - 1), r.serial)) {
    *why = "malformed audit(time:serial) header";
    return std::nullopt;
  }
  r.time_ns = sec * 1000000000LL + msec * 1000000LL;
  const std::string_view body = text.substr(close + 3);
  auto need = [&](std::string_view key) -> std::optional<std::string_view> {
    auto v = value_of(body, key);
    if (!v) *why = "record has no " + std::string(key) + "=";
    return v;
  };
  auto pid = need("pid");
  auto uid = pid ? need("uid") : std::nullopt;
  auto major = uid ? need("major") : std::nullopt;
  auto minor = major ? need("minor") : std::nullopt;
  auto data = minor ? need("data") : std::nullopt;
  if (!data) return std::nullopt;
  if (!to_number(*pid, r.pid) || !to_number(*uid, r.uid) || !to_number(*major, r.major) ||
      !to_number(*minor, r.minor)) {
    *why = "non-numeric pid, uid, major or minor";
    return std::nullopt;
  }
  if (auto a = value_of(body, "auid")) (void)to_number(*a, r.auid);
  if (auto s = value_of(body, "ses")) (void)to_number(*s, r.ses);
  if (auto c = value_of(body, "comm")) {
    if (auto decoded = decode_untrusted(*c)) r.comm = std::move(*decoded);
  }
  auto bytes = decode_hex(*data);
  if (!bytes) {
    *why = "data= is not hex";
    return std::nullopt;
  }
  r.data = std::move(*bytes);
  return r;
}

std::string tty_name(int major, int minor) {
  if (major >= 136 && major <= 143) return "pts/" + std::to_string((major - 136) * 256 + minor);
  if (major == 4 && minor < 64) return "tty" + std::to_string(minor);
  if (major == 4) return "ttyS" + std::to_string(minor - 64);
  if (major == 5 && minor == 0) return "tty";
  if (major == 5 && minor == 1) return "console";
  return std::to_string(major) + ":" + std::to_string(minor);
}

size_t split_datagram(const uint8_t* data, size_t size, std::vector<Message>& out) {
  size_t malformed = 0;
  size_t off = 0;
  while (size - off >= sizeof(nlmsghdr)) {
    nlmsghdr h{};
    std::memcpy(&h, data + off, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > size - off) {
      ++malformed;
      break;
    }
    const auto* text = reinterpret_cast<const char*>(data + off + NLMSG_HDRLEN);
    size_t len = h.nlmsg_len - NLMSG_HDRLEN;
    while (len > 0 && text[len - 1] == '\0') --len;  // audit text may carry a trailing NUL
    out.push_back({h.nlmsg_type, std::string_view(text, len)});
    // The kernel sends audit records unpadded: the last one may end before its aligned size.
    off = std::min(size, off + NLMSG_ALIGN(h.nlmsg_len));
  }
  if (off < size && size - off < sizeof(nlmsghdr)) ++malformed;
  return malformed;
}

}  // namespace audit_tty

namespace {

constexpr int kReceiveBufferBytes = 1 << 20;
constexpr size_t kDatagramBytes = 64 * 1024;  // more than MAX_AUDIT_MESSAGE_LENGTH

// Whether the terminal currently reads lines with echo off (a password prompt). Only pts and
// tty devices are opened, read-only, without becoming their controlling terminal.
bool echo_off_now(const std::string& tty) {
  if (tty.find(':') != std::string::npos) return false;
  const std::string path = "/dev/" + tty;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  termios t{};
  const bool got = ::tcgetattr(fd, &t) == 0;
  ::close(fd);
  return got && (t.c_lflag & ECHO) == 0 && (t.c_lflag & ICANON) != 0;
}

}  // namespace

struct AuditTtySensor::Impl {
  Result<void> start(SensorContext& c);
  void stop();
  void run();
  void handle(std::string_view text);

  SensorContext* ctx = nullptr;
  SensorCounters counters;
  std::optional<AuditNetlink> reader_sock;
  int wake = -1;
  std::thread reader;
  bool running = false;
  bool restore_disabled = false;  // audit was off before the sensor switched it on
  std::atomic<bool> stopping{false};
  uint64_t lines = 0;
};

Result<void> AuditTtySensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  ctx = &c;
  auto control = AuditNetlink::open();
  if (!control) return Error{"audit: " + control.error().message, control.error().code};
  auto st = control->get_status();
  if (!st) return Error{"audit: AUDIT_GET: " + st.error().message, st.error().code};
  auto sock = AuditNetlink::open_readlog(kReceiveBufferBytes);
  if (!sock) return Error{"audit: " + sock.error().message, sock.error().code};
  if (st->enabled == 0) {
    // TTY records are only written while audit is enabled.
    if (auto r = control->set_enabled(1); !r) {
      return Error{"audit: cannot enable audit (AUDIT_SET): " + r.error().message, r.error().code};
    }
    restore_disabled = true;
    log().info("audit: enabled kernel audit for TTY records; it is switched off again at stop");
  }
  reader_sock.emplace(std::move(sock).value());
  wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    auto e = errno_error("audit: eventfd");
    stop();
    return e;
  }
  stopping = false;
  running = true;
  reader = std::thread([this] { run(); });
  name_thread(reader, "rs-audit-tty");
  return ok();
}

void AuditTtySensor::Impl::run() {
  std::vector<uint8_t> buf(kDatagramBytes);
  std::vector<audit_tty::Message> messages;
  while (!stopping.load(std::memory_order_relaxed)) {
    pollfd fds[2] = {{reader_sock->fd(), POLLIN, 0}, {wake, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("audit: poll failed: {}", errno_text(errno));
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) break;
    while (true) {
      auto n = reader_sock->receive(buf);
      if (!n) {
        if (n.error().code == ENOBUFS) {
          counters.dropped.fetch_add(1, std::memory_order_relaxed);
          log().warn("audit: multicast socket overrun (ENOBUFS): records lost");
          continue;
        }
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        log().error("{}", n.error().message);
        break;
      }
      if (*n == 0) break;
      messages.clear();
      counters.errors.fetch_add(audit_tty::split_datagram(buf.data(), *n, messages),
                                std::memory_order_relaxed);
      for (const auto& m : messages) {
        if (m.type == AUDIT_TTY) handle(m.text);
      }
    }
  }
}

void AuditTtySensor::Impl::handle(std::string_view text) {
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  std::string why;
  auto rec = audit_tty::parse_record(text, &why);
  if (!rec) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    log().warn("audit: skipped a malformed TTY record ({}): {:.120}", why, text);
    return;
  }
  const auto pol = ctx->policy();
  const auto& ks = pol->settings().keyboard;
  Event ev(EventType::kKeyboardTtyInput, rec->time_ns);
  ev.set_origin(Level::kKernel, "audit_tty");
  ev.set(Field::kEventOutcome, "success");
  ev.set(Field::kProcessPid, static_cast<int64_t>(rec->pid));
  ev.set(Field::kUserId, static_cast<int64_t>(rec->uid));
  if (!rec->comm.empty()) ev.set(Field::kProcessName, rec->comm);
  const std::string tty = audit_tty::tty_name(rec->major, rec->minor);
  ev.set(Field::kTtyName, tty);
  ++lines;
  if (ks.record == policy::KeyRecording::kMetadata) {
    ev.set(Field::kRingsideKeyRedacted, "metadata");
    ev.set(Field::kRingsideKeyCount, static_cast<int64_t>(rec->data.size()));
  } else if (ks.redact_echo_off && echo_off_now(tty)) {
    ev.set(Field::kRingsideKeyRedacted, "echo_off");
  } else {
    ev.set(Field::kKeyText, rec->data);
  }
  ctx->decide(ev);
  ctx->emit(std::move(ev));
}

void AuditTtySensor::Impl::stop() {
  if (running) {
    running = false;
    stopping = true;
    const uint64_t one = 1;
    if (::write(wake, &one, sizeof one) < 0) {
      log().warn("audit: cannot wake the reader: {}", errno_text(errno));
    }
    if (reader.joinable()) reader.join();
  }
  if (wake >= 0) ::close(wake);
  wake = -1;
  reader_sock.reset();
  if (restore_disabled) {
    restore_disabled = false;
    auto control = AuditNetlink::open();
    Result<void> r = control ? control->set_enabled(0) : Result<void>(control.error());
    if (r) {
      log().info("audit: switched kernel audit off again (it was off at start)");
    } else {
      log().error("audit: could not switch audit off again: {}", r.error().message);
    }
  }
}

AuditTtySensor::AuditTtySensor() : impl_(std::make_unique<Impl>()) {}

AuditTtySensor::~AuditTtySensor() { stop(); }

Result<void> AuditTtySensor::start(SensorContext& ctx) { return impl_->start(ctx); }

void AuditTtySensor::stop() { impl_->stop(); }

SensorStats AuditTtySensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
