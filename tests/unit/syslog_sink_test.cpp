// The syslog sink without privileges: RFC 5424 header and MSG, RFC 6587 octet framing, URL
// parsing, delivery to a loopback TCP and UDP listener, and a collector that goes away (counted,
// then reconnected with backoff).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "core/json.hpp"
#include "sinks/syslog_sink.hpp"

namespace ringside {
namespace {

Event sample_event(std::string path) {
  Event ev(EventType::kFileOpen, 1700000000123456789);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, int64_t{4242});
  ev.set(Field::kFilePath, path);
  ev.set_verdict(Verdict::kDeny, "protect-secrets");
  return ev;
}

// RFC 5424: HEADER SP STRUCTURED-DATA SP MSG.
const std::regex kRfc5424(
    R"(^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) - (.*)$)");

TEST(Rfc5424, HeaderAndJsonPayload) {
  const Event ev = sample_event("/srv/secret/key");
  std::string json;
  append_event_json(json, ev);
  const std::string msg = format_rfc5424(ev, "host.example", "ringside", 77, json);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(msg, m, kRfc5424)) << msg;
  EXPECT_EQ(m[1], std::to_string(kSyslogFacility * 8 + 4));  // deny -> warning
  EXPECT_EQ(m[2], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(m[3], "host.example");
  EXPECT_EQ(m[4], "ringside");
  EXPECT_EQ(m[5], "77");
  EXPECT_EQ(m[6], "file.open");
  EXPECT_EQ(m[7].str() + "\n", json);
}

TEST(Rfc5424, HostileHostAndValues) {
  std::string hostile = "a\nb\"c\\d\xff\xfe" + std::string(4096, 'x');
  const Event ev = sample_event(hostile);
  std::string json;
  append_event_json(json, ev);
  const std::string msg = format_rfc5424(ev, "bad host\nname", "", 1, json);
  EXPECT_EQ(msg.find('\n'), std::string::npos);  // JSON escapes the newline
  std::smatch m;
  ASSERT_TRUE(std::regex_match(msg, m, kRfc5424)) << msg.substr(0, 200);
  EXPECT_EQ(m[3], "badhostname");
  EXPECT_EQ(m[4], "-");
  EXPECT_EQ(m[7].str() + "\n", json);
}

TEST(Rfc6587, OctetCounting) {
  std::string out;
  append_octet_frame(out, "hello");
  append_octet_frame(out, "");
  append_octet_frame(out, "été");
  EXPECT_EQ(out, "5 hello0 5 été");
}

TEST(SyslogUrl, Parses) {
  auto t = parse_syslog_url("tcp://127.0.0.1:6514");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->tcp);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6514);
  auto u = parse_syslog_url("udp://[::1]:514");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tcp);
  EXPECT_EQ(u->host, "::1");
  for (const char* bad :
       {"http://x:1", "tcp://x", "tcp://x:0", "tcp://x:70000", "udp://:5", "tcp://x:1a"}) {
    EXPECT_FALSE(parse_syslog_url(bad)) << bad;
  }
}

struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int type, int want_port = 0) {
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(want_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    if (type == SOCK_STREAM) listen(fd, 4);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd >= 0) close(fd);
  }
};

// Reads from `fd` until `want` bytes arrived or two seconds passed.
std::string read_some(int fd, size_t want) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (out.size() < want && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[8192];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(SyslogSink, TcpFramesAndCountsALostCollector) {
  auto l = std::make_unique<Listener>(SOCK_STREAM);
  ASSERT_GT(l->port, 0);
  const int port = l->port;
  auto sink = SyslogSink::open("tcp://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(sink) << sink.error().message;
  const int conn = accept(l->fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  (*sink)->write(sample_event("/a"));
  (*sink)->write(sample_event("/b"));
  (*sink)->flush();
  std::string got = read_some(conn, 1);
  got += read_some(conn, 100000);  // both frames
  // Parse the octet-counted frames back.
  std::vector<std::string> frames;
  size_t pos = 0;
  while (pos < got.size()) {
    const size_t sp = got.find(' ', pos);
    ASSERT_NE(sp, std::string::npos);
    const size_t len = std::stoul(got.substr(pos, sp - pos));
    frames.push_back(got.substr(sp + 1, len));
    pos = sp + 1 + len;
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_NE(frames[1].find(R"("path":"/b")"), std::string::npos) << frames[1];
  EXPECT_EQ((*sink)->stats().written, 2u);
  // The collector goes away: what cannot be delivered is counted, nothing blocks.
  close(conn);
  l.reset();
  for (int i = 0; i < 50 && (*sink)->stats().failed == 0; ++i) {
    (*sink)->write(sample_event("/lost"));
    (*sink)->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT((*sink)->stats().failed, 0u);
  // It comes back on the same port: the sink reconnects after its backoff.
  Listener again(SOCK_STREAM, port);
  ASSERT_EQ(again.port, port);
  int conn2 = -1;
  for (int i = 0; i < 200 && conn2 < 0; ++i) {
    (*sink)->write(sample_event("/again"));
    (*sink)->flush();
    pollfd p{again.fd, POLLIN, 0};
    if (poll(&p, 1, 20) > 0) conn2 = accept(again.fd, nullptr, nullptr);
  }
  ASSERT_GE(conn2, 0);
  (*sink)->write(sample_event("/again"));
  (*sink)->flush();
  EXPECT_NE(read_some(conn2, 1).find("/again"), std::string::npos);
  EXPECT_GE((*sink)->detailed_stats().connects, 2u);
  close(conn2);
}

TEST(SyslogSink, UdpOneDatagramPerMessage) {
  Listener l(SOCK_DGRAM);
  ASSERT_GT(l.port, 0);
  auto sink = SyslogSink::open("udp://127.0.0.1:" + std::to_string(l.port));
  ASSERT_TRUE(sink) << sink.error().message;
  (*sink)->write(sample_event("/u1"));
  (*sink)->write(sample_event("/u2"));
  std::string d1 = read_some(l.fd, 1);
  std::string d2 = read_some(l.fd, 1);
  EXPECT_TRUE(std::regex_match(d1, kRfc5424)) << d1;
  EXPECT_NE(d1.find("/u1"), std::string::npos);
  EXPECT_NE(d2.find("/u2"), std::string::npos);
  EXPECT_EQ((*sink)->stats().written, 2u);
}

}  // namespace
}  // namespace ringside
