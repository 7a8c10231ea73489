// File and network reports from the interposer: what the hook encodes, the agent decodes to the
// event the kernel level would write (flag names, octal modes, normalised addresses); redirect
// verdicts carry their target; path resolution for file operations; malformed input is
// rejected with a reason, never a crash.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "sensors/user/hook_decoder.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {
namespace {

constexpr HookPeer kPeer{4242, 1000, 1001, 1002};

struct Builder {
  explicit Builder(uint16_t event_type, uint16_t flags = 0) : buf(RS_HOOK_MAX_MESSAGE) {
    rs_hook_writer_init(&w, buf.data(), buf.size(), RS_HOOK_MSG_EVENT, 1, event_type, flags);
  }
  Builder& str(uint16_t f, std::string_view s) {
    EXPECT_EQ(rs_hook_put_str(&w, f, s.data(), s.size()), 0);
    return *this;
  }
  Builder& num(uint16_t f, int64_t v) {
    EXPECT_EQ(rs_hook_put_int(&w, f, v), 0);
    return *this;
  }
  Builder& addr(uint16_t f, const rs_hook_address& a) {
    EXPECT_EQ(rs_hook_put_address(&w, f, &a), 0);
    return *this;
  }
  Builder& file(std::string_view hook, std::string_view requested) {
    return str(RS_FIELD_RINGSIDE_HOOK, hook).str(RS_FIELD_RINGSIDE_FILE_REQUESTED_PATH, requested);
  }
  std::vector<uint8_t> done() {
    return {buf.begin(), buf.begin() + static_cast<long>(rs_hook_writer_finish(&w))};
  }
  std::vector<uint8_t> buf;
  rs_hook_writer w{};
};

Event decode(const std::vector<uint8_t>& bytes) {
  auto r = decode_hook_message(bytes, kPeer, 1);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? r.value().event : Event();
}

std::string rejection(const std::vector<uint8_t>& bytes) {
  auto r = decode_hook_message(bytes, kPeer, 1);
  return r ? "" : r.error().message;
}

std::string str(const Event& ev, Field f) { return std::string(ev.get_str(f).value_or("")); }

rs_hook_address v4(const char* ip, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  rs_hook_address a{};
  EXPECT_EQ(rs_hook_address_from_sockaddr(&in, sizeof in, &a), 0);
  return a;
}

rs_hook_address v6(const char* ip, uint16_t port) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  rs_hook_address a{};
  EXPECT_EQ(rs_hook_address_from_sockaddr(&in6, sizeof in6, &a), 0);
  return a;
}

TEST(hook_file_network, OpenCarriesFlagNamesAndTheModeOfACreatingOpen) {
  const Event ev = decode(Builder(RS_EVENT_FILE_OPEN)
                              .file("openat", "../x")
                              .str(RS_FIELD_FILE_PATH, "/srv/x")
                              .num(RS_FIELD_PROCESS_THREAD_ID, 99)
                              .num(RS_HOOK_FIELD_OPEN_FLAGS, O_WRONLY | O_CREAT | O_TRUNC)
                              .num(RS_HOOK_FIELD_MODE, 0640)
                              .done());
  EXPECT_EQ(ev.type(), EventType::kFileOpen);
  EXPECT_EQ(str(ev, Field::kFilePath), "/srv/x");
  EXPECT_EQ(str(ev, Field::kRingsideFileRequestedPath), "../x");
  EXPECT_EQ(ev.get_list(Field::kRingsideFileFlags).to_vector(),
            (std::vector<std::string>{"O_WRONLY", "O_CREAT", "O_TRUNC"}));
  EXPECT_EQ(str(ev, Field::kFileMode), "0640");
  EXPECT_EQ(ev.get_int(Field::kProcessPid), 4242);
  EXPECT_EQ(str(ev, Field::kRingsideSensor), "preload");

  // A read: no mode, even when the hook sent one.
  const Event rd = decode(Builder(RS_EVENT_FILE_OPEN)
                              .file("open", "/srv/x")
                              .num(RS_HOOK_FIELD_OPEN_FLAGS, O_RDONLY)
                              .num(RS_HOOK_FIELD_MODE, 0)
                              .done());
  EXPECT_EQ(rd.get_list(Field::kRingsideFileFlags).to_vector(),
            std::vector<std::string>{"O_RDONLY"});
  EXPECT_FALSE(rd.has(Field::kFileMode));
}

TEST(hook_file_network, ChmodCreateRenameAndSymlink) {
  const Event ch =
      decode(Builder(RS_EVENT_FILE_CHMOD).file("chmod", "f").num(RS_HOOK_FIELD_MODE, 04755).done());
  EXPECT_EQ(str(ch, Field::kFileMode), "4755");
  const Event rn = decode(Builder(RS_EVENT_FILE_RENAME)
                              .file("rename", "a")
                              .str(RS_FIELD_FILE_PATH, "/d/a")
                              .str(RS_FIELD_FILE_TARGET_PATH, "/d/b")
                              .done());
  EXPECT_EQ(str(rn, Field::kFileTargetPath), "/d/b");
  // symlink: the content placed next to the link, lexically (as the kernel level does).
  const Event sl = decode(Builder(RS_EVENT_FILE_LINK)
                              .file("symlink", "../t/./x")
                              .str(RS_FIELD_FILE_TARGET_PATH, "/d/sub/link")
                              .done());
  EXPECT_EQ(str(sl, Field::kFilePath), "/d/t/x");
  const Event abs = decode(Builder(RS_EVENT_FILE_LINK)
                               .file("symlink", "/etc/../etc/passwd")
                               .str(RS_FIELD_FILE_TARGET_PATH, "/d/link")
                               .done());
  EXPECT_EQ(str(abs, Field::kFilePath), "/etc/passwd");
}

TEST(hook_file_network, MalformedFileReportsAreRejected) {
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_OPEN).file("open", "x").done()), "")
      << "an open without its flags";
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_DELETE).str(RS_FIELD_RINGSIDE_HOOK, "unlink").done()),
            "")
      << "no requested path";
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_DELETE)
                          .file("unlink", "x")
                          .str(RS_FIELD_FILE_PATH, "relative/x")
                          .done()),
            "");
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_DELETE)
                          .file("unlink", "x")
                          .num(RS_HOOK_FIELD_OPEN_FLAGS, 0)
                          .done()),
            "")
      << "open flags on a delete";
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_CHMOD)
                          .file("chmod", "x")
                          .num(RS_HOOK_FIELD_MODE, 1)
                          .num(RS_HOOK_FIELD_MODE, 2)
                          .done()),
            "");
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_CHMOD)
                          .file("chmod", "x")
                          .num(RS_HOOK_FIELD_MODE, -1LL << 40)
                          .done()),
            "");
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_DELETE)
                          .file("unlink", "x")
                          .str(RS_FIELD_PROCESS_ARGS, "not for files")
                          .done()),
            "");
  EXPECT_NE(rejection(Builder(RS_EVENT_FILE_DELETE).file("unlink", "x").num(0xFF7Fu, 1).done()), "")
      << "unknown protocol field";
}

TEST(hook_file_network, HostilePathBytesSurviveDecoding) {
  const std::string hostile = std::string("/d/new\nline\"q\\\xff\xfe") + std::string(4000, 'z');
  const Event ev = decode(Builder(RS_EVENT_FILE_DELETE)
                              .file("unlink", hostile)
                              .str(RS_FIELD_FILE_PATH, hostile)
                              .done());
  EXPECT_EQ(str(ev, Field::kFilePath), hostile);
}

TEST(hook_file_network, ConnectAddressesAreNormalised) {
  const Event ev = decode(Builder(RS_EVENT_NETWORK_CONNECT)
                              .str(RS_FIELD_RINGSIDE_HOOK, "connect")
                              .addr(RS_HOOK_FIELD_REMOTE_ADDRESS, v6("::ffff:10.1.2.3", 443))
                              .addr(RS_HOOK_FIELD_LOCAL_ADDRESS, v4("10.0.0.5", 50000))
                              .num(RS_HOOK_FIELD_SOCKET_TYPE, SOCK_STREAM)
                              .str(RS_FIELD_DNS_QUESTION_NAME, "example.test")
                              .done());
  EXPECT_EQ(str(ev, Field::kDestinationIp), "10.1.2.3");
  EXPECT_EQ(ev.get_int(Field::kDestinationPort), 443);
  EXPECT_EQ(str(ev, Field::kSourceIp), "10.0.0.5");
  EXPECT_EQ(ev.get_int(Field::kSourcePort), 50000);
  EXPECT_EQ(str(ev, Field::kNetworkType), "ipv4");
  EXPECT_EQ(str(ev, Field::kNetworkTransport), "tcp");
  EXPECT_EQ(str(ev, Field::kDnsQuestionName), "example.test");

  const Event six = decode(Builder(RS_EVENT_NETWORK_SEND)
                               .str(RS_FIELD_RINGSIDE_HOOK, "sendto")
                               .addr(RS_HOOK_FIELD_REMOTE_ADDRESS, v6("2001:db8::1", 53))
                               .num(RS_HOOK_FIELD_SOCKET_TYPE, SOCK_DGRAM)
                               .done());
  EXPECT_EQ(str(six, Field::kDestinationIp), "2001:db8::1");
  EXPECT_EQ(str(six, Field::kNetworkType), "ipv6");
  EXPECT_EQ(str(six, Field::kNetworkTransport), "udp");

  const Event bind = decode(Builder(RS_EVENT_NETWORK_BIND)
                                .str(RS_FIELD_RINGSIDE_HOOK, "bind")
                                .addr(RS_HOOK_FIELD_LOCAL_ADDRESS, v4("0.0.0.0", 8080))
                                .done());
  EXPECT_EQ(str(bind, Field::kSourceIp), "0.0.0.0");
  EXPECT_EQ(bind.get_int(Field::kSourcePort), 8080);
  EXPECT_FALSE(bind.has(Field::kDestinationIp));
}

TEST(hook_file_network, DnsAnswersBecomeResolvedIps) {
  Builder b(RS_EVENT_NETWORK_DNS);
  b.str(RS_FIELD_RINGSIDE_HOOK, "getaddrinfo").str(RS_FIELD_DNS_QUESTION_NAME, "h.test");
  b.addr(RS_HOOK_FIELD_RESOLVED_ADDRESS, v4("192.0.2.1", 0));
  b.addr(RS_HOOK_FIELD_RESOLVED_ADDRESS, v6("2001:db8::2", 0));
  const Event ev = decode(b.done());
  EXPECT_EQ(ev.get_list(Field::kDnsResolvedIp).to_vector(),
            (std::vector<std::string>{"192.0.2.1", "2001:db8::2"}));
  EXPECT_EQ(str(ev, Field::kDnsType), "answer");
  const Event q = decode(Builder(RS_EVENT_NETWORK_DNS)
                             .str(RS_FIELD_RINGSIDE_HOOK, "getaddrinfo")
                             .str(RS_FIELD_DNS_QUESTION_NAME, "h.test")
                             .done());
  EXPECT_EQ(str(q, Field::kDnsType), "query");

  Builder many(RS_EVENT_NETWORK_DNS);
  many.str(RS_FIELD_RINGSIDE_HOOK, "getaddrinfo").str(RS_FIELD_DNS_QUESTION_NAME, "h.test");
  for (int i = 0; i <= RS_HOOK_MAX_RESOLVED; ++i) {
    many.addr(RS_HOOK_FIELD_RESOLVED_ADDRESS, v4("192.0.2.1", 0));
  }
  EXPECT_NE(rejection(many.done()), "");
  EXPECT_NE(rejection(Builder(RS_EVENT_NETWORK_DNS).str(RS_FIELD_RINGSIDE_HOOK, "x").done()), "");
}

TEST(hook_file_network, MalformedAddressesAreRejected) {
  EXPECT_NE(rejection(Builder(RS_EVENT_NETWORK_CONNECT).str(RS_FIELD_RINGSIDE_HOOK, "c").done()),
            "")
      << "a connect without its destination";
  rs_hook_address bad = v4("1.2.3.4", 1);
  bad.family = 5;
  EXPECT_NE(rejection(Builder(RS_EVENT_NETWORK_CONNECT)
                          .str(RS_FIELD_RINGSIDE_HOOK, "connect")
                          .addr(RS_HOOK_FIELD_REMOTE_ADDRESS, bad)
                          .done()),
            "");
  rs_hook_address junk = v4("1.2.3.4", 1);
  junk.addr[9] = 1;  // bytes past an IPv4 address must be zero
  EXPECT_NE(rejection(Builder(RS_EVENT_NETWORK_CONNECT)
                          .str(RS_FIELD_RINGSIDE_HOOK, "connect")
                          .addr(RS_HOOK_FIELD_REMOTE_ADDRESS, junk)
                          .done()),
            "");
  // Random bytes after a valid header never crash the decoder.
  std::mt19937 rng(7);
  const std::vector<uint8_t> good = Builder(RS_EVENT_NETWORK_CONNECT)
                                        .str(RS_FIELD_RINGSIDE_HOOK, "connect")
                                        .addr(RS_HOOK_FIELD_REMOTE_ADDRESS, v4("1.2.3.4", 80))
                                        .done();
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> m = good;
    m[RS_HOOK_HEADER_SIZE + rng() % (m.size() - RS_HOOK_HEADER_SIZE)] ^=
        static_cast<uint8_t>(1 + rng() % 255);
    (void)decode_hook_message(m, kPeer, 1);
  }
}

TEST(hook_file_network, UnsentReportsTravelWithTheNextOne) {
  auto r = decode_hook_message(
      Builder(RS_EVENT_FILE_DELETE).file("unlink", "/x").num(RS_HOOK_FIELD_UNSENT, 5).done(), kPeer,
      1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().unsent, 5u);
  EXPECT_NE(
      rejection(
          Builder(RS_EVENT_FILE_DELETE).file("unlink", "/x").num(RS_HOOK_FIELD_UNSENT, -1).done()),
      "");
}

TEST(hook_file_network, SockaddrConversionBothWays) {
  const rs_hook_address a = v4("127.0.0.1", 4715);
  sockaddr_in6 in6{};
  ASSERT_EQ(rs_hook_address_to_sockaddr(&a, AF_INET6, &in6, sizeof in6), sizeof in6);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
  EXPECT_STREQ(text, "::ffff:127.0.0.1");
  EXPECT_EQ(ntohs(in6.sin6_port), 4715);
  sockaddr_in in{};
  ASSERT_EQ(rs_hook_address_to_sockaddr(&a, AF_INET, &in, sizeof in), sizeof in);
  EXPECT_EQ(ntohs(in.sin_port), 4715);
  const rs_hook_address six = v6("::1", 1);
  EXPECT_EQ(rs_hook_address_to_sockaddr(&six, AF_INET, &in, sizeof in), 0u)
      << "an IPv6 target cannot be reached from an IPv4 socket";
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  rs_hook_address out{};
  EXPECT_EQ(rs_hook_address_from_sockaddr(&un, sizeof un, &out), -1);
  EXPECT_EQ(rs_hook_address_from_sockaddr(&in, 4, &out), -1) << "short length";
}

TEST(hook_file_network, RedirectVerdictCarriesItsTarget) {
  uint8_t buf[256];
  const rs_hook_address target = v4("127.0.0.1", 4715);
  const size_t n = rs_hook_encode_redirect(9, "to-inspector", 12, &target, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  uint32_t seq = 0;
  int verdict = -1;
  char rule[64];
  rs_hook_address got{};
  ASSERT_EQ(rs_hook_parse_verdict_target(buf, n, &seq, &verdict, rule, sizeof rule, &got),
            RS_HOOK_OK);
  EXPECT_EQ(seq, 9u);
  EXPECT_EQ(verdict, RS_HOOK_VERDICT_REDIRECT);
  EXPECT_STREQ(rule, "to-inspector");
  EXPECT_EQ(got.port, 4715);
  EXPECT_EQ(std::memcmp(got.addr, target.addr, 16), 0);
  // Cut short, or a redirect without its address: malformed.
  EXPECT_EQ(rs_hook_parse_verdict_target(buf, n - 1, &seq, &verdict, nullptr, 0, &got),
            RS_HOOK_ERR_LENGTH);
  EXPECT_EQ(rs_hook_encode_verdict(9, RS_HOOK_VERDICT_REDIRECT, "r", 1, buf, sizeof buf), 0u);
}

TEST(hook_file_network, StateFileCarriesReportingClasses) {
  rs_hook_state st{};
  rs_hook_state_write_reporting(&st, RS_HOOK_OP_FILE, 150, 1, 77,
                                RS_HOOK_OP_FILE | RS_HOOK_OP_NETWORK, RS_HOOK_OPENS_WRITES);
  rs_hook_state_view v{};
  rs_hook_state_read(&st, &v);
  ASSERT_TRUE(v.valid);
  EXPECT_EQ(v.report_ops, RS_HOOK_OP_FILE | RS_HOOK_OP_NETWORK);
  EXPECT_EQ(v.file_opens, static_cast<uint32_t>(RS_HOOK_OPENS_WRITES));
  EXPECT_EQ(v.sync_ops, RS_HOOK_OP_FILE);
  // The short form reports neither files nor sockets.
  rs_hook_state_write(&st, 0, 150, 0, 77);
  rs_hook_state_read(&st, &v);
  EXPECT_EQ(v.report_ops, 0u);
  EXPECT_EQ(v.file_opens, static_cast<uint32_t>(RS_HOOK_OPENS_NONE));
}

class hook_file_paths : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rs-hook-paths-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = std::filesystem::canonical(tmpl).string();
    std::filesystem::create_directory(root_ + "/real");
    std::filesystem::create_directory_symlink(root_ + "/real", root_ + "/via");
    std::filesystem::create_symlink("target", root_ + "/real/link");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string resolve(int dirfd, const char* cwd, const std::string& path, int follow) {
    char out[4096];
    if (rs_resolve_file_path(dirfd, cwd, path.c_str(), follow, out, sizeof out) < 0) return "!";
    return out;
  }
  std::string root_;
};

TEST_F(hook_file_paths, FollowsOrKeepsTheLastComponent) {
  // Directories resolved either way; the last component followed only when asked.
  EXPECT_EQ(resolve(AT_FDCWD, nullptr, root_ + "/via/link", 0), root_ + "/real/link");
  EXPECT_EQ(resolve(AT_FDCWD, nullptr, root_ + "/via/link", 1), root_ + "/real/target");
  EXPECT_EQ(resolve(AT_FDCWD, root_.c_str(), "via/../via/new", 0), root_ + "/real/new");
  EXPECT_EQ(resolve(AT_FDCWD, root_.c_str(), "plain", 0), root_ + "/plain");
  EXPECT_EQ(resolve(AT_FDCWD, nullptr, "relative", 0), "!") << "no directory to resolve against";
  const int dfd = open((root_ + "/via").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  EXPECT_EQ(resolve(dfd, nullptr, "link", 0), root_ + "/real/link");
  EXPECT_EQ(resolve(dfd, nullptr, "..", 0), root_);
  close(dfd);
  char tiny[8];
  EXPECT_EQ(rs_resolve_file_path(AT_FDCWD, nullptr, (root_ + "/x").c_str(), 0, tiny, sizeof tiny),
            -1);
}

}  // namespace
}  // namespace ringside
