// Network scenarios, in the lab's network namespace (only loopback; each step opens its own
// listener or receiver first): the marker is the destination port (first_port + n), or for
// DNS the host name asked for (rs-lab-<run>-<name>.lab.test), answered by the step's own
// responder on 127.0.0.1:53.

#include <cerrno>

#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

struct NetSpec {
  std::string name, title, op, ip;
  std::string action = "connect";
  std::string user_miss;
  bool static_caller = false;
};

}  // namespace

std::vector<Scenario> network_scenarios(const LabEnv& env) {
  const std::vector<NetSpec> specs = {
      {"libc_connect", "TCP connect(2) through libc to 127.0.0.1", "connect", "127.0.0.1"},
      {"raw_syscall_connect", "TCP connect through a raw syscall instruction", "connect-raw",
       "127.0.0.1", "connect",
       "raw syscall instruction bypasses the libc connect the interposer hooks"},
      {"io_uring_connect", "TCP connect through io_uring (IORING_OP_CONNECT)", "connect-uring",
       "127.0.0.1", "connect", "io_uring submits the connect without a libc call"},
      {"udp_sendto", "UDP sendto(2) to an explicit address", "sendto", "", "send"},
      {"udp_sendmsg", "UDP sendmsg(2) with msg_name", "sendmsg", "", "send"},
      {"udp_sendmmsg", "UDP sendmmsg(2) with msg_name", "sendmmsg", "", "send",
       "sendmmsg is not among the interposer's hooked functions"},
      {"ipv6_connect", "TCP connect to ::1", "connect", "::1"},
      {"v4mapped_connect", "TCP connect from an IPv6 socket to ::ffff:127.0.0.1", "connect-mapped",
       ""},
      {"static_connect", "TCP connect from a statically linked program", "connect", "127.0.0.1",
       "connect", "static binary: no dynamic loader, LD_PRELOAD never loads", true},
      {"dns_getaddrinfo", "getaddrinfo of a marked host name", "dns-getaddrinfo", "", "dns"},
      {"dns_raw_udp", "a DNS query built by hand and sent over UDP to port 53", "dns-raw", "",
       "dns",
       "a DNS query sent with send() bypasses getaddrinfo: the interposer sees a datagram to "
       "port 53, not a name"},
  };
  std::vector<Scenario> out;
  int n = 0;
  for (const auto& p : specs) {
    Scenario s;
    s.id = "network." + p.name;
    s.area = "network";
    s.title = p.title;
    s.in_netns = true;
    const std::string port = std::to_string(env.first_port + n++);
    const std::string program =
        env.bin_dir + (p.static_caller ? "/ringside-lab-static" : "/ringside-lab-step");
    s.category = "network";
    s.action = p.action;
    s.deny_errnos = {EPERM, EACCES, ECONNREFUSED};
    if (p.action == "dns") {
      const std::string host = "rs-lab-" + env.run_id + "-" + p.name + ".lab.test";
      s.marker = host;
      s.argv = {program, p.op, host};
      s.private_resolv = true;
      s.identify.push_back({"dns.question.name", {host}});
      s.rule_on = "network.dns";
      s.rule_match.emplace_back("dns.question.name", yaml_quote(host));
      s.deny_errnos.push_back(ETIMEDOUT);
      s.deny_errnos.push_back(EHOSTUNREACH);  // getaddrinfo failed (the step prints gai=)
    } else {
      s.marker = port;
      if (p.ip.empty()) {
        s.argv = {program, p.op, port};
      } else {
        s.argv = {program, p.op, p.ip, port};
      }
      s.identify.push_back({"destination.port", {port}});
      if (p.name == "v4mapped_connect") {
        s.require.push_back({"destination.ip", {"127.0.0.1", "::ffff:127.0.0.1"}});
      } else {
        s.require.push_back({"destination.ip", {p.ip.empty() ? "127.0.0.1" : p.ip}});
      }
      s.require.push_back({"network.transport", {p.action == "send" ? "udp" : "tcp"}});
      s.require.push_back({"process.pid", {"@pid"}});
      s.rule_on = "network." + p.action;
      s.rule_match.emplace_back("destination.port", port);
    }
    if (!p.user_miss.empty()) {
      s.miss_cause["user"] = p.user_miss;
      s.deny_cause["user"] = p.user_miss;
    }
    s.prepare = [] { return std::string(); };
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ringside::lab
