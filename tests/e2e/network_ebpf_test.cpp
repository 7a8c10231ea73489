// The eBPF network sensor against the real kernel: connect, accept, bind and send events (TCP
// and UDP, IPv4, IPv6 and IPv4-mapped IPv6) with the process, made by a child in a network
// namespace this test creates; the cgroup socket programs denying a connect (EPERM, the event
// naming the rule) and redirecting one to a local inspector that asks the agent for the
// original destination; and the flow -> owner map NFQUEUE attributes packets with.
// Deny and redirect programs are attached only to a child cgroup this test creates, and only
// the test's own child process is moved into it.
//
// The agent is the real Agent (policy, enrichment from the process table, decisions, JSONL
// sink) hosted in this process with the eBPF network sensor alone, so that the test does not
// depend on the NFQUEUE sensor that `ringside run --domains network` also starts. Network
// operations are made by forked children: the sensor ignores the agent's own process.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "../unit/fake_context.hpp"
#include "agent/agent.hpp"
#include "e2e_util.hpp"
#include "scratch_cgroup.hpp"
#include "sensors/kernel/network_ebpf.hpp"
#include "sinks/jsonl_sink.hpp"

namespace ringside::e2e {
namespace {

// A child cgroup of the cgroup2 root, removed at the end (its processes have exited by then).
bool loopback_up() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  const bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
                  (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
  close(fd);
  return ok;
}

// Runs `body` in a forked child inside a new network namespace (after joining `cgroup` when
// given) and returns its pid and its report (what body wrote). The child then stays alive
// until release(), so that the agent can still read its executable from /proc when it
// enriches the child's events.
struct ChildResult {
  pid_t pid = 0;
  std::string report;
  int hold_fd = -1;
  void release() {
    if (hold_fd < 0) return;
    close(hold_fd);
    hold_fd = -1;
    waitpid(pid, nullptr, 0);
  }
  ChildResult() = default;
  ChildResult(ChildResult&& o) noexcept
      : pid(o.pid), report(std::move(o.report)), hold_fd(o.hold_fd) {
    o.hold_fd = -1;
  }
  ChildResult(const ChildResult&) = delete;
  ChildResult& operator=(const ChildResult&) = delete;
  ChildResult& operator=(ChildResult&&) = delete;
  ~ChildResult() { release(); }
};

ChildResult in_netns(const std::string& cgroup, const std::function<std::string()>& body) {
  int fds[2], hold[2];
  if (pipe2(fds, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    close(hold[1]);
    std::string out;
    if (!cgroup.empty()) {
      std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush;
    }
    if (unshare(CLONE_NEWNET) != 0 || !loopback_up()) {
      out = "ERR netns";
    } else {
      out = body();
    }
    if (write(fds[1], out.data(), out.size()) < 0) _exit(3);
    close(fds[1]);
    char b;
    while (read(hold[0], &b, 1) > 0) {
    }
    _exit(0);
  }
  close(fds[1]);
  close(hold[0]);
  ChildResult r;
  r.pid = pid;
  r.hold_fd = hold[1];
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) r.report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return r;
}

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

int tcp_listener(int family, const sockaddr* a, socklen_t len) {
  const int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l, a, len) != 0 || listen(l, 16) != 0) return -1;
  return l;
}

// Connects a TCP client to `to`; returns "<connect errno> <client port>" and accepts it.
std::string tcp_round(int family, const sockaddr* listen_at, socklen_t len, const sockaddr* to,
                      socklen_t to_len) {
  const int l = tcp_listener(family, listen_at, len);
  if (l < 0) return "ERR listen";
  const int c = socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int rc = connect(c, to, to_len);
  const int err = rc == 0 ? 0 : errno;
  const std::string out = std::to_string(err) + " " + std::to_string(local_port(c));
  if (rc == 0) {
    const int a = accept(l, nullptr, nullptr);
    if (a >= 0) close(a);
  }
  close(c);
  close(l);
  return out;
}

std::string policy_yaml(const std::string& cgroup, const std::string& rules) {
  return "settings:\n  network:\n    cgroup: " + cgroup + "\n    nfqueue: off\n" + rules;
}

// The agent with the network sensor, in this process; events go to a JSONL file.
class NetAgent {
 public:
  static std::unique_ptr<NetAgent> start(const std::string& policy_yaml, std::string* err) {
    std::unique_ptr<NetAgent> a(new NetAgent);
    AgentOptions o;
    o.policy_path = a->dir_.write("policy.yaml", policy_yaml);
    o.jsonl_path = a->dir_.file("events.jsonl");
    o.kernel_level = true;
    o.user_level = false;
    o.domains = {Domain::kNetwork};
    o.console = false;
    o.hook_socket = a->dir_.file("hook.sock");
    std::vector<policy::ParseError> errors;
    auto pol = policy::Policy::load_file(o.policy_path, &errors);
    if (!pol) {
      *err = errors.empty() ? pol.error().message : errors.front().to_string();
      return nullptr;
    }
    auto sensor = std::make_unique<NetworkEbpfSensor>(a->dir_.file("origdst.sock"));
    a->sensor_ = sensor.get();
    std::vector<std::unique_ptr<Sensor>> sensors;
    sensors.push_back(std::move(sensor));
    std::vector<std::unique_ptr<Sink>> sinks;
    auto sink = JsonlSink::open(o.jsonl_path);
    if (!sink) {
      *err = sink.error().message;
      return nullptr;
    }
    sinks.push_back(std::move(sink).value());
    auto agent =
        Agent::create_with(o, std::move(pol).value(), std::move(sensors), std::move(sinks));
    if (!agent) {
      *err = agent.error().message;
      return nullptr;
    }
    a->agent_ = std::move(agent).value();
    if (auto r = a->agent_->start(); !r) {
      *err = r.error().message;
      return nullptr;
    }
    return a;
  }
  ~NetAgent() { stop(); }
  void stop() {
    if (agent_) agent_->stop();
  }
  std::string query_socket() const { return dir_.file("origdst.sock"); }
  SensorStats stats() const { return sensor_->stats(); }
  std::vector<json> events() const {
    std::vector<json> out;
    std::ifstream in(dir_.file("events.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  std::optional<json> wait_for(const std::function<bool(const json&)>& pred,
                               std::chrono::milliseconds timeout = 10s) const {
    const auto end = std::chrono::steady_clock::now() + timeout;
    do {
      for (const json& ev : events()) {
        if (pred(ev)) return ev;
      }
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < end);
    return std::nullopt;
  }
  std::string dump() const {
    std::string all;
    for (const json& ev : events()) all += ev.dump() + "\n";
    return all;
  }

 private:
  NetAgent() : dir_("netagent") {}
  ScratchDir dir_;
  std::unique_ptr<Agent> agent_;
  NetworkEbpfSensor* sensor_ = nullptr;
};

std::unique_ptr<NetAgent> start_agent(const std::string& policy, std::string* err) {
  return NetAgent::start(policy, err);
}

std::function<bool(const json&)> op_by(pid_t pid, const std::string& action, int64_t dport) {
  return [=](const json& ev) {
    return str_field(ev, "event.category") == "network" &&
           str_field(ev, "event.action") == action && int_field(ev, "process.pid") == pid &&
           (dport < 0 || int_field(ev, "destination.port") == dport);
  };
}

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

TEST(NetworkEbpf, ConnectAcceptBindSendWithProcessAndAddresses) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"nettest"};
  ASSERT_FALSE(cg.path().empty()) << "cannot create a child cgroup";
  std::string err;
  auto agent = start_agent(policy_yaml(cg.path(), "rules: []\n"), &err);
  ASSERT_NE(agent, nullptr) << err;

  ChildResult child = in_netns("", [] {
    std::string out;
    auto a4 = v4("127.0.0.1", 24001);
    out += tcp_round(AF_INET, reinterpret_cast<sockaddr*>(&a4), sizeof(a4),
                     reinterpret_cast<sockaddr*>(&a4), sizeof(a4));
    auto a6 = v6("::1", 24002);
    out += " " + tcp_round(AF_INET6, reinterpret_cast<sockaddr*>(&a6), sizeof(a6),
                           reinterpret_cast<sockaddr*>(&a6), sizeof(a6));
    // A dual-stack listener reached through an IPv4-mapped address.
    auto any6 = v6("::", 24003);
    auto mapped = v6("::ffff:127.0.0.1", 24003);
    out += " " + tcp_round(AF_INET6, reinterpret_cast<sockaddr*>(&any6), sizeof(any6),
                           reinterpret_cast<sockaddr*>(&mapped), sizeof(mapped));
    // UDP: bind, then a datagram to an explicit address.
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    auto ub = v4("127.0.0.1", 24004);
    auto ud = v4("127.0.0.1", 24005);
    const int rb = bind(u, reinterpret_cast<sockaddr*>(&ub), sizeof(ub));
    const ssize_t rs = sendto(u, "x", 1, 0, reinterpret_cast<sockaddr*>(&ud), sizeof(ud));
    close(u);
    out += " " + std::to_string(rb) + " " + std::to_string(rs);
    return out;
  });
  std::istringstream rep(child.report);
  int e4, p4, e6, p6, em, pm, rb, rs;
  ASSERT_TRUE(rep >> e4 >> p4 >> e6 >> p6 >> em >> pm >> rb >> rs) << child.report;
  ASSERT_EQ(e4, 0);
  ASSERT_EQ(e6, 0);
  ASSERT_EQ(em, 0);
  ASSERT_EQ(rb, 0);
  ASSERT_EQ(rs, 1);
  const std::string exe = self_exe();

  auto c4 = agent->wait_for(op_by(child.pid, "connect", 24001));
  ASSERT_TRUE(c4) << agent->dump();
  EXPECT_EQ(str_field(*c4, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(str_field(*c4, "source.ip"), "127.0.0.1");
  EXPECT_EQ(int_field(*c4, "source.port"), p4);
  EXPECT_EQ(str_field(*c4, "network.transport"), "tcp");
  EXPECT_EQ(str_field(*c4, "network.type"), "ipv4");
  EXPECT_EQ(str_field(*c4, "event.outcome"), "success");
  EXPECT_EQ(str_field(*c4, "ringside.sensor"), "ebpf");
  EXPECT_EQ(str_field(*c4, "ringside.level"), "kernel");
  EXPECT_EQ(str_field(*c4, "process.executable"), exe) << c4->dump();

  // The accepting side: local end 24001, peer the client's port.
  auto acc = agent->wait_for([&](const json& ev) {
    return op_by(child.pid, "accept", p4)(ev) && int_field(ev, "source.port") == 24001;
  });
  ASSERT_TRUE(acc) << agent->dump();
  EXPECT_EQ(str_field(*acc, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(str_field(*acc, "process.executable"), exe);

  auto c6 = agent->wait_for(op_by(child.pid, "connect", 24002));
  ASSERT_TRUE(c6);
  EXPECT_EQ(str_field(*c6, "destination.ip"), "::1");
  EXPECT_EQ(str_field(*c6, "network.type"), "ipv6");
  EXPECT_EQ(int_field(*c6, "source.port"), p6);
  EXPECT_TRUE(agent->wait_for(op_by(child.pid, "accept", p6)));

  auto cm = agent->wait_for(op_by(child.pid, "connect", 24003));
  ASSERT_TRUE(cm);
  EXPECT_EQ(str_field(*cm, "destination.ip"), "127.0.0.1") << "mapped address not normalised";
  EXPECT_EQ(str_field(*cm, "network.type"), "ipv4");
  EXPECT_EQ(int_field(*cm, "source.port"), pm);

  auto b = agent->wait_for([&](const json& ev) {
    return op_by(child.pid, "bind", -1)(ev) && int_field(ev, "source.port") == 24004;
  });
  ASSERT_TRUE(b);
  EXPECT_EQ(str_field(*b, "network.transport"), "udp");
  EXPECT_EQ(str_field(*b, "source.ip"), "127.0.0.1");
  auto s = agent->wait_for(op_by(child.pid, "send", 24005));
  ASSERT_TRUE(s);
  EXPECT_EQ(str_field(*s, "network.transport"), "udp");
  EXPECT_EQ(int_field(*s, "source.port"), 24004);
  EXPECT_EQ(str_field(*s, "destination.ip"), "127.0.0.1");
  agent->stop();
}

TEST(NetworkEbpf, CgroupProgramDeniesConnectWithEpermAndNamesTheRule) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"nettest"};
  ASSERT_FALSE(cg.path().empty());
  std::string err;
  auto agent = start_agent(policy_yaml(cg.path(),
                                       "rules:\n"
                                       "  - name: no-port-24010\n"
                                       "    on: network.connect\n"
                                       "    match:\n"
                                       "      destination.ip: {cidr: 127.0.0.0/8}\n"
                                       "      destination.port: 24010\n"
                                       "    action: deny\n"),
                           &err);
  ASSERT_NE(agent, nullptr) << err;
  ChildResult child = in_netns(cg.path(), [] {
    auto denied = v4("127.0.0.1", 24010);
    auto allowed = v4("127.0.0.1", 24011);
    return tcp_round(AF_INET, reinterpret_cast<sockaddr*>(&denied), sizeof(denied),
                     reinterpret_cast<sockaddr*>(&denied), sizeof(denied)) +
           " " +
           tcp_round(AF_INET, reinterpret_cast<sockaddr*>(&allowed), sizeof(allowed),
                     reinterpret_cast<sockaddr*>(&allowed), sizeof(allowed));
  });
  std::istringstream rep(child.report);
  int e_denied, p_denied, e_allowed, p_allowed;
  ASSERT_TRUE(rep >> e_denied >> p_denied >> e_allowed >> p_allowed) << child.report;
  EXPECT_EQ(e_denied, EPERM);
  EXPECT_EQ(e_allowed, 0);

  auto d = agent->wait_for(op_by(child.pid, "connect", 24010));
  ASSERT_TRUE(d) << agent->dump();
  EXPECT_EQ(str_field(*d, "ringside.verdict"), "deny");
  EXPECT_EQ(str_field(*d, "ringside.rule"), "no-port-24010");
  EXPECT_EQ(str_field(*d, "ringside.sensor"), "cgroup_sock");
  EXPECT_EQ(str_field(*d, "ringside.enforcement"), "blocked");
  EXPECT_EQ(str_field(*d, "event.outcome"), "failure");
  EXPECT_EQ(str_field(*d, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(str_field(*d, "process.executable"), self_exe());
  auto a = agent->wait_for(op_by(child.pid, "connect", 24011));
  ASSERT_TRUE(a);
  EXPECT_EQ(str_field(*a, "ringside.verdict"), "allow");
  EXPECT_EQ(str_field(*a, "event.outcome"), "success");
  // Exactly one event for the denied connect (the verdict merged with the system call).
  size_t n = 0;
  for (const auto& ev : agent->events()) n += op_by(child.pid, "connect", 24010)(ev) ? 1 : 0;
  EXPECT_EQ(n, 1u);
  EXPECT_GE(agent->stats().denied, 1u);
  agent->stop();
}

TEST(NetworkEbpf, RedirectReachesTheInspectorWhichLearnsTheOriginalDestination) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"nettest"};
  ASSERT_FALSE(cg.path().empty());
  std::string err;
  auto agent = start_agent(policy_yaml(cg.path(),
                                       "rules:\n"
                                       "  - name: inspect-web\n"
                                       "    on: network.connect\n"
                                       "    match:\n"
                                       "      destination.port: 80\n"
                                       "    action: redirect\n"
                                       "    redirect: 127.0.0.1:24020\n"),
                           &err);
  ASSERT_NE(agent, nullptr) << err;
  const std::string query = agent->query_socket();
  ChildResult child = in_netns(cg.path(), [&] {
    // The inspector: listens on the redirect address, asks the agent about each peer.
    auto at = v4("127.0.0.1", 24020);
    const int l = tcp_listener(AF_INET, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    if (l < 0) return std::string("ERR listen");
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto to = v4("10.9.8.7", 80);
    if (connect(c, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      return "ERR connect " + std::to_string(errno);
    }
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int a = accept(l, reinterpret_cast<sockaddr*>(&peer), &len);
    const int q = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, query.c_str(), sizeof(sa.sun_path) - 1);
    if (a < 0 || connect(q, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      return std::string("ERR query socket");
    }
    const std::string req = "ORIGDST " + std::to_string(ntohs(peer.sin_port));
    char buf[128] = {};
    if (send(q, req.data(), req.size(), 0) < 0 || recv(q, buf, sizeof(buf) - 1, 0) <= 0) {
      return std::string("ERR query");
    }
    close(q);
    close(a);
    close(c);
    close(l);
    return std::to_string(ntohs(peer.sin_port)) + "|" + buf;
  });
  const auto bar = child.report.find('|');
  ASSERT_NE(bar, std::string::npos) << child.report << "\n" << agent->dump();
  const int sport = std::stoi(child.report.substr(0, bar));
  EXPECT_EQ(child.report.substr(bar + 1), "10.9.8.7 80");

  auto ev = agent->wait_for([&](const json& e) {
    return op_by(child.pid, "connect", -1)(e) && int_field(e, "source.port") == sport;
  });
  ASSERT_TRUE(ev) << agent->dump();
  EXPECT_EQ(str_field(*ev, "ringside.rule"), "inspect-web");
  EXPECT_EQ(str_field(*ev, "ringside.sensor"), "cgroup_sock");
  EXPECT_EQ(str_field(*ev, "ringside.network.original_destination"), "10.9.8.7 80");
  EXPECT_EQ(str_field(*ev, "destination.ip"), "127.0.0.1");
  EXPECT_EQ(int_field(*ev, "destination.port"), 24020);
  agent->stop();
}

// In process: the owner map NFQUEUE uses names the process of a connection's packets.
TEST(NetworkEbpf, FlowOwnerNamesTheConnectingProcess) {
  RINGSIDE_REQUIRE_ROOT();
  ScratchCgroup cg{"nettest"};
  ASSERT_FALSE(cg.path().empty());
  ScratchDir dir("netowner");
  testing_fanotify::FakeContext ctx;
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::parse(policy_yaml(cg.path(), "rules: []\n"), "p.yaml", &errors);
  ASSERT_TRUE(pol);
  ctx.set_policy(*pol);
  NetworkEbpfSensor sensor(dir.file("origdst.sock"));
  auto r = sensor.start(ctx);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(sensor.apply_policy(**pol));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    // Connect (in the test's namespace, to a listener of its own), report the port, wait.
    auto at = v4("127.0.0.1", 0);
    const int l = tcp_listener(AF_INET, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    auto to = v4("127.0.0.1", local_port(l));
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) _exit(2);
    const uint16_t ports[2] = {local_port(c), local_port(l)};
    if (write(fds[1], ports, sizeof(ports)) != sizeof(ports)) _exit(3);
    char b;
    if (read(go[0], &b, 1) < 0) _exit(4);
    _exit(0);
  }
  uint16_t ports[2] = {};
  ASSERT_EQ(read(fds[0], ports, sizeof(ports)), static_cast<ssize_t>(sizeof(ports)));
  Flow f;
  f.protocol = IPPROTO_TCP;
  f.saddr = {127, 0, 0, 1};
  f.daddr = {127, 0, 0, 1};
  f.sport = ports[0];
  f.dport = ports[1];
  auto o = sensor.owner(f);
  Flow back = f;  // the reply direction names the same owner
  std::swap(back.saddr, back.daddr);
  std::swap(back.sport, back.dport);
  auto ob = sensor.owner(back);
  Flow unknown = f;
  unknown.sport = 1;
  unknown.dport = 2;
  auto on = sensor.owner(unknown);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  waitpid(pid, nullptr, 0);
  sensor.stop();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->pid, pid);
  ASSERT_TRUE(ob);
  EXPECT_EQ(ob->pid, pid);
  EXPECT_FALSE(on);
}

}  // namespace
}  // namespace ringside::e2e
