// Compilation of network rules into the cgroup socket programs' table
// (policy/kernel_net_rules.hpp), the records those programs and the tracepoints write
// (sensors/kernel/network_records.hpp), and the ORIGDST query replies.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "policy/enforcement.hpp"
#include "policy/kernel_net_rules.hpp"
#include "sensors/kernel/network_records.hpp"
#include "sensors/kernel/origdst_server.hpp"

namespace ringside {
namespace {

using policy::compile_kernel_net_rules;
using policy::ExeIdentity;

std::shared_ptr<const policy::Policy> parse(const std::string& yaml) {
  std::vector<policy::ParseError> errors;
  auto p = policy::Policy::parse(yaml, "t.yaml", &errors);
  EXPECT_TRUE(p) << (errors.empty() ? "" : errors.front().to_string());
  return p ? *p : nullptr;
}

std::optional<ExeIdentity> fake_exe(const std::string& path) {
  if (path == "/usr/bin/curl") return ExeIdentity{42, (8U << 20) | 1};
  return std::nullopt;
}

TEST(KernelNetRules, NoDenyNoTable) {
  auto p = parse(
      "rules:\n  - {name: a, on: network.connect, match: {destination.port: 22}, action: "
      "allow}\n");
  const auto prog = compile_kernel_net_rules(*p, fake_exe, 1);
  EXPECT_TRUE(prog.rules.empty());
  EXPECT_TRUE(prog.cidrs.empty());
}

TEST(KernelNetRules, DenyWithPortsTransportUserAndExecutable) {
  auto p = parse(
      "rules:\n"
      "  - name: no-ssh\n"
      "    on: [network.connect, network.send]\n"
      "    match:\n"
      "      destination.port: {in: [22, 2222]}\n"
      "      network.transport: tcp\n"
      "      user.id: {not: 0}\n"
      "      process.executable: /usr/bin/curl\n"
      "    action: deny\n");
  const auto prog = compile_kernel_net_rules(*p, fake_exe, 7);
  ASSERT_EQ(prog.rules.size(), 1u);
  const rs_net_rule& e = prog.rules[0];
  EXPECT_EQ(e.action, RS_NACT_DENY);
  EXPECT_EQ(e.hooks, RS_NHOOK_CONNECT | RS_NHOOK_SEND);
  EXPECT_EQ(e.proto, IPPROTO_TCP);
  ASSERT_EQ(e.n_ports, 2);
  EXPECT_EQ(e.ports[0], 22);
  EXPECT_EQ(e.ports[1], 2222);
  EXPECT_EQ(e.ports_negate, 0);
  ASSERT_EQ(e.n_uids, 1);
  EXPECT_EQ(e.uids[0], 0u);
  EXPECT_EQ(e.uids_negate, 1);
  ASSERT_EQ(e.n_exes, 1);
  EXPECT_EQ(e.exes[0].ino, 42u);
  EXPECT_EQ(e.exes[0].dev, (8U << 20) | 1);
  EXPECT_EQ(e.gen, 7);
  EXPECT_EQ(e.rule_index, 0u);
}

TEST(KernelNetRules, CidrBlocksCarryTheEntriesOfContainingBlocks) {
  auto p = parse(
      "rules:\n"
      "  - {name: lan-ok, on: network.connect, match: {destination.ip: {cidr: 10.1.0.0/16}}, "
      "action: allow}\n"
      "  - {name: no-ten, on: network.connect, match: {destination.ip: {cidr: 10.0.0.0/8}}, "
      "action: deny}\n"
      "  - {name: no-v6, on: network.connect, match: {destination.ip: {not: {cidr: "
      "\"2001:db8::/32\"}}, network.type: ipv6}, action: deny}\n");
  const auto prog = compile_kernel_net_rules(*p, fake_exe, 1);
  ASSERT_EQ(prog.rules.size(), 3u);
  EXPECT_EQ(prog.rules[0].action, RS_NACT_ALLOW);
  EXPECT_EQ(prog.rules[0].cidr, RS_NCIDR_IN);
  EXPECT_EQ(prog.rules[2].cidr, RS_NCIDR_NOT_IN);
  EXPECT_EQ(prog.rules[2].family, 6);
  ASSERT_EQ(prog.cidrs.size(), 3u);
  for (const auto& c : prog.cidrs) {
    if (c.prefix_length == 96 + 16) {
      EXPECT_EQ(c.entries, 0b011u) << "10.1/16 lies inside 10/8";
      EXPECT_EQ(c.addr[10], 0xff);
      EXPECT_EQ(c.addr[12], 10);
      EXPECT_EQ(c.addr[13], 1);
    } else if (c.prefix_length == 96 + 8) {
      EXPECT_EQ(c.entries, 0b010u);
    } else {
      EXPECT_EQ(c.prefix_length, 32);
      EXPECT_EQ(c.entries, 0b100u);
    }
  }
}

TEST(KernelNetRules, UndecidableDenyIsLeftOutAndUndecidableAllowEndsTheTable) {
  auto p = parse(
      "rules:\n"
      "  - {name: glob-deny, on: network.connect, match: {process.executable: {glob: "
      "\"/opt/*\"}}, action: deny}\n"
      "  - {name: port-deny, on: network.connect, match: {destination.port: 1}, action: deny}\n"
      "  - {name: glob-allow, on: network.connect, match: {process.name: {prefix: x}}, action: "
      "allow}\n"
      "  - {name: later, on: network.connect, match: {destination.port: 2}, action: deny}\n"
      "  - {name: bind-deny, on: network.bind, match: {source.port: 3}, action: deny}\n");
  const auto prog = compile_kernel_net_rules(*p, fake_exe, 1);
  ASSERT_EQ(prog.rules.size(), 3u);
  EXPECT_EQ(prog.rules[0].rule_index, 1u);
  EXPECT_EQ(prog.rules[1].action, RS_NACT_DEFER);
  EXPECT_EQ(prog.rules[1].hooks, RS_NHOOK_CONNECT);
  EXPECT_EQ(prog.rules[2].rule_index, 4u) << "bind rules are not behind the connect allow";
  EXPECT_EQ(prog.rules[2].hooks, RS_NHOOK_BIND);
  EXPECT_EQ(prog.notes.size(), 2u);
}

TEST(KernelNetRules, RedirectCarriesTheTargetAndPolicyCheckSaysWhereRulesHold) {
  auto p = parse(
      "rules:\n"
      "  - {name: r, on: network.connect, match: {destination.port: 80}, action: redirect, "
      "redirect: \"127.0.0.1:8080\"}\n"
      "  - {name: g, on: network.connect, match: {process.name: {glob: \"x*\"}}, action: "
      "deny}\n");
  const auto prog = compile_kernel_net_rules(*p, fake_exe, 1);
  ASSERT_EQ(prog.rules.size(), 1u);
  EXPECT_EQ(prog.rules[0].action, RS_NACT_REDIRECT);
  EXPECT_EQ(prog.rules[0].redirect_family, 4);
  EXPECT_EQ(prog.rules[0].redirect_port, 8080);
  EXPECT_EQ(prog.rules[0].redirect_addr[0], 127);
  EXPECT_EQ(prog.rules[0].redirect_addr[3], 1);
  const auto& rules = p->rules();
  auto guaranteed_cgroup = [](const policy::Rule& r) {
    for (const auto& pt : policy::enforcement_points(r)) {
      if (pt.mechanism.find("cgroup/connect4/6") != std::string::npos) return pt.guaranteed;
    }
    return false;
  };
  EXPECT_TRUE(guaranteed_cgroup(rules[0]));
  EXPECT_FALSE(guaranteed_cgroup(rules[1]));
}

rs_rec_net_op record(uint8_t op, uint8_t source) {
  rs_rec_net_op r{};
  r.type = RS_REC_NET_OP;
  r.size = sizeof(r);
  r.pid = 10;
  r.tid = 11;
  r.uid = 1000;
  r.op = op;
  r.source = source;
  r.proto = IPPROTO_TCP;
  r.family = 4;
  const uint8_t lo[4] = {127, 0, 0, 1};
  std::memcpy(r.saddr, lo, 4);
  std::memcpy(r.daddr, lo, 4);
  r.sport = 40000;
  r.dport = 80;
  return r;
}

TEST(NetworkRecords, DecodeRejectsMalformedRecords) {
  rs_rec_net_op r = record(RS_NOP_CONNECT, RS_NSRC_SYSCALL);
  EXPECT_TRUE(network_records::decode_net_op(&r, sizeof(r)));
  EXPECT_FALSE(network_records::decode_net_op(&r, sizeof(r) - 8));
  auto bad = r;
  bad.op = 9;
  EXPECT_FALSE(network_records::decode_net_op(&bad, sizeof(bad)));
  bad = r;
  bad.family = 5;
  EXPECT_FALSE(network_records::decode_net_op(&bad, sizeof(bad)));
  bad = r;
  bad.proto = 1;
  EXPECT_FALSE(network_records::decode_net_op(&bad, sizeof(bad)));
  bad = record(RS_NOP_CONNECT, RS_NSRC_CGROUP);  // a verdict without a rule
  EXPECT_FALSE(network_records::decode_net_op(&bad, sizeof(bad)));
  bad.type = RS_REC_FILE_OP;
  EXPECT_FALSE(network_records::decode_net_op(&bad, sizeof(bad)));
}

TEST(NetworkRecords, EventFieldsAndRedirectedDestination) {
  rs_rec_net_op r = record(RS_NOP_CONNECT, RS_NSRC_SYSCALL);
  r.ret = -EINPROGRESS;
  r.orig_family = 6;
  inet_pton(AF_INET6, "2001:db8::5", r.orig_daddr);
  r.orig_dport = 443;
  const Event ev = network_records::net_event(r);
  EXPECT_EQ(ev.type(), EventType::kNetworkConnect);
  EXPECT_EQ(*ev.get_str(Field::kDestinationIp), "127.0.0.1");
  EXPECT_EQ(*ev.get_int(Field::kSourcePort), 40000);
  EXPECT_EQ(*ev.get_str(Field::kNetworkTransport), "tcp");
  EXPECT_EQ(*ev.get_str(Field::kNetworkType), "ipv4");
  EXPECT_EQ(*ev.get_str(Field::kEventOutcome), "success");
  EXPECT_EQ(*ev.get_str(Field::kRingsideNetworkOriginalDestination), "2001:db8::5 443");
  EXPECT_EQ(*ev.get_str(Field::kRingsideSensor), "ebpf");

  rs_rec_net_op b = record(RS_NOP_BIND, RS_NSRC_SYSCALL);
  b.proto = IPPROTO_UDP;
  const Event bev = network_records::net_event(b);
  EXPECT_FALSE(bev.has(Field::kDestinationIp));
  EXPECT_EQ(*bev.get_int(Field::kSourcePort), 40000);
  EXPECT_EQ(*bev.get_str(Field::kNetworkTransport), "udp");
}

TEST(NetworkRecords, VerdictMergesOnlyWithTheSameOperation) {
  rs_rec_net_op c = record(RS_NOP_CONNECT, RS_NSRC_CGROUP);
  c.action = RS_NACT_DENY;
  c.rule = 1;
  rs_rec_net_op s = record(RS_NOP_CONNECT, RS_NSRC_SYSCALL);
  s.ret = -EPERM;
  EXPECT_TRUE(network_records::same_operation(c, s));
  s.dport = 81;
  EXPECT_FALSE(network_records::same_operation(c, s));
  s.dport = 80;
  s.tid = 12;
  EXPECT_FALSE(network_records::same_operation(c, s));
  const Event ev = network_records::net_event(c);
  EXPECT_EQ(*ev.get_str(Field::kRingsideSensor), "cgroup_sock");
  EXPECT_EQ(*ev.get_str(Field::kEventOutcome), "failure");
}

TEST(NetworkRecords, ExecutableOnlyForTheProcessThatStartedThen) {
  char tmpl[] = "/tmp/rs-netproc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  std::filesystem::create_directories(root + "/77");
  // A command with spaces and a parenthesis; starttime (field 22) is 4242.
  std::ofstream(root + "/77/stat")
      << "77 (a b) c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 100\n";
  std::filesystem::create_symlink("/usr/bin/curl", root + "/77/exe");
  EXPECT_EQ(network_records::proc_executable(77, 4242, root), "/usr/bin/curl");
  EXPECT_EQ(network_records::proc_executable(77, 4243, root), "") << "a reused pid";
  EXPECT_EQ(network_records::proc_executable(78, 4242, root), "");
  std::filesystem::remove_all(root);
}

TEST(OrigDstQuery, RepliesAndErrors) {
  const OrigDstLookup lookup = [](uint16_t port) -> std::optional<OrigDst> {
    if (port == 40000) return OrigDst{"10.9.8.7", 80};
    return std::nullopt;
  };
  EXPECT_EQ(origdst_reply("ORIGDST 40000", lookup), "10.9.8.7 80");
  EXPECT_EQ(origdst_reply("ORIGDST 40000 tcp\n", lookup), "10.9.8.7 80");
  EXPECT_EQ(origdst_reply("ORIGDST 40001", lookup).rfind("ERR no redirected", 0), 0u);
  EXPECT_EQ(origdst_reply("ORIGDST 70000", lookup), "ERR bad port");
  EXPECT_EQ(origdst_reply("ORIGDST 12x", lookup), "ERR bad port");
  EXPECT_EQ(origdst_reply("ORIGDST 1 udp", lookup), "ERR only tcp connections are redirected");
  EXPECT_EQ(origdst_reply("", lookup).rfind("ERR", 0), 0u);
  EXPECT_EQ(origdst_reply(std::string("\0\xff", 2), lookup).rfind("ERR", 0), 0u);
}

}  // namespace
}  // namespace ringside
