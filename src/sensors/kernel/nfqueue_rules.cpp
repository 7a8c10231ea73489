#include "sensors/kernel/nfqueue_rules.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

extern char** environ;

namespace ringside {

namespace {

constexpr int kMaxStaleJumps = 16;
// `in` list sizes the socket programs' rule table holds (docs/policy.md).
constexpr size_t kMaxIn = 64;
constexpr size_t kMaxInPorts = 8;
constexpr size_t kMaxInIds = 4;

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

bool is_kernel_deny(const policy::Rule& r) {
  return r.action == policy::Action::kDeny && r.applies_at(Level::kKernel);
}

// `max_in`: the longest `in` list the socket programs' table holds for the field.
bool socket_condition(const policy::Condition& c, bool cidr, size_t max_in) {
  using policy::Op;
  switch (c.op) {
    case Op::kEquals:
      return true;
    case Op::kIn:
      return std::max(c.strings.size(), c.ints.size()) <= max_in;
    case Op::kCidr:
      return cidr;
    case Op::kNot:
    case Op::kAll:
      return std::all_of(c.children.begin(), c.children.end(), [&](const policy::Condition& k) {
        return socket_condition(k, cidr, max_in);
      });
    default:
      return false;
  }
}

}  // namespace

bool socket_program_decidable(const policy::Rule& rule) {
  return std::all_of(rule.match.begin(), rule.match.end(), [](const policy::FieldMatch& m) {
    switch (m.field) {
      case Field::kDestinationIp:
        return socket_condition(m.condition, true, kMaxIn);
      case Field::kDestinationPort:
        return socket_condition(m.condition, false, kMaxInPorts);
      case Field::kNetworkTransport:
      case Field::kNetworkType:
        return socket_condition(m.condition, false, 1);
      case Field::kProcessExecutable:
      case Field::kUserId:
        return socket_condition(m.condition, false, kMaxInIds);
      default:
        return false;
    }
  });
}

QueuePlan plan_queue(const policy::Policy& policy) {
  const auto& net = policy.settings().network;
  QueuePlan plan;
  plan.queue = net.queue;
  plan.bypass = policy.settings().fail_mode == policy::FailMode::kOpen;
  bool dns_deny = false;
  // An allow rule the socket programs cannot decide ends their table: a deny after it is then
  // left to NFQUEUE as well.
  bool undecided_allow = false;
  for (const auto& r : policy.rules()) {
    if (!r.applies_at(Level::kKernel)) continue;
    const bool connect = r.applies_to(EventType::kNetworkConnect);
    if (connect && r.action == policy::Action::kAllow && !socket_program_decidable(r)) {
      undecided_allow = true;
    }
    if (!is_kernel_deny(r)) continue;
    if (r.applies_to(EventType::kNetworkDns)) dns_deny = true;
    if (net.nfqueue != policy::NfqueueUse::kRules) continue;
    if (connect && (undecided_allow || !socket_program_decidable(r))) plan.outgoing = true;
    if (r.applies_to(EventType::kNetworkAccept)) plan.incoming = true;
  }
  if (net.nfqueue == policy::NfqueueUse::kAll) plan.outgoing = plan.incoming = true;
  plan.dns = net.dns || dns_deny;
  plan.dns_bypass = !(dns_deny && !plan.bypass);
  return plan;
}

std::string chain_script(const QueuePlan& plan, bool ipv6) {
  const std::string out(kChainOut), in(kChainIn);
  const std::string mark = " -m mark --mark " + hex(kRejectMark) + "/" + hex(kRejectMark);
  const std::string unreachable = ipv6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  auto queue = [&](bool bypass) {
    return " -j NFQUEUE --queue-num " + std::to_string(plan.queue) +
           (bypass ? " --queue-bypass" : "") + "\n";
  };
  std::string s = "*filter\n:" + out + " - [0:0]\n:" + in + " - [0:0]\n";
  for (const std::string* chain : {&out, &in}) {
    s += "-A " + *chain + " -p tcp" + mark + " -j REJECT --reject-with tcp-reset\n";
    s += "-A " + *chain + mark + " -j REJECT --reject-with " + unreachable + "\n";
  }
  if (plan.dns) {
    for (const char* proto : {"udp", "tcp"}) {
      s += "-A " + out + " -p " + proto + " --dport 53" + queue(plan.dns_bypass);
      s += "-A " + in + " -p " + proto + " --sport 53" + queue(plan.dns_bypass);
    }
  }
  const std::string new_state = " -m conntrack --ctstate NEW";
  if (plan.outgoing) {
    s += "-A " + out + " -p tcp --syn" + new_state + queue(plan.bypass);
    s += "-A " + out + " -p udp" + new_state + queue(plan.bypass);
  }
  if (plan.incoming) {
    s += "-A " + in + " ! -i lo -p tcp --syn" + new_state + queue(plan.bypass);
    s += "-A " + in + " ! -i lo -p udp" + new_state + queue(plan.bypass);
  }
  s += "COMMIT\n";
  return s;
}

void QueueRules::cleanup() {
  for (const char* tool : {"iptables", "ip6tables"}) {
    for (const auto& [builtin, chain] :
         {std::pair{"OUTPUT", kChainOut}, std::pair{"INPUT", kChainIn}}) {
      for (int i = 0; i < kMaxStaleJumps; ++i) {
        if (!runner_.run({tool, "-w", "-D", builtin, "-j", std::string(chain)}, "")) break;
      }
      (void)runner_.run({tool, "-w", "-F", std::string(chain)}, "");
      (void)runner_.run({tool, "-w", "-X", std::string(chain)}, "");
    }
  }
}

Result<void> QueueRules::install_family(const QueuePlan& plan, bool ipv6) {
  const std::string tool = ipv6 ? "ip6tables" : "iptables";
  auto r = runner_.run({tool + "-restore", "-w", "--noflush"}, chain_script(plan, ipv6));
  if (!r) return Error{tool + "-restore: " + r.error().message};
  for (const auto& [builtin, chain] :
       {std::pair{"OUTPUT", kChainOut}, std::pair{"INPUT", kChainIn}}) {
    if (runner_.run({tool, "-w", "-C", builtin, "-j", std::string(chain)}, "")) continue;
    auto ins = runner_.run({tool, "-w", "-I", builtin, "1", "-j", std::string(chain)}, "");
    if (!ins) return Error{tool + " -I " + builtin + ": " + ins.error().message};
  }
  return ok();
}

uint64_t queue_rule_packets(std::string_view save_output) {
  uint64_t total = 0;
  while (!save_output.empty()) {
    const size_t eol = save_output.find('\n');
    const std::string_view line = save_output.substr(0, eol);
    save_output.remove_prefix(eol == std::string_view::npos ? save_output.size() : eol + 1);
    // "[packets:bytes] -A RINGSIDE-OUT ... -j NFQUEUE --queue-num N ..."
    const size_t colon = line.find(':');
    if (line.empty() || line.front() != '[' || colon == std::string_view::npos) continue;
    const std::string_view rule = line.substr(line.find(']') + 1);
    const bool ours = rule.starts_with(" -A " + std::string(kChainOut) + " ") ||
                      rule.starts_with(" -A " + std::string(kChainIn) + " ");
    if (!ours || rule.find(" -j NFQUEUE") == std::string_view::npos) continue;
    uint64_t packets = 0;
    const auto [end, ec] = std::from_chars(line.data() + 1, line.data() + colon, packets);
    if (ec == std::errc() && end == line.data() + colon) total += packets;
  }
  return total;
}

Result<uint64_t> QueueRules::queued_packets() {
  uint64_t total = 0;
  for (const char* tool : {"iptables-save", "ip6tables-save"}) {
    auto out = runner_.run({tool, "-c", "-t", "filter"}, "");
    if (!out) return Error{std::string(tool) + ": " + out.error().message};
    total += queue_rule_packets(*out);
  }
  return total;
}

Result<void> QueueRules::install(const QueuePlan& plan) {
  if (plan.empty()) {
    cleanup();
    return ok();
  }
  for (bool v6 : {false, true}) {
    if (auto r = install_family(plan, v6); !r) return r;
  }
  return ok();
}

namespace {

class SpawnRunner final : public CommandRunner {
 public:
  Result<std::string> run(const std::vector<std::string>& argv, std::string_view input) override {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0) return errno_error("pipe");
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return errno_error("pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<std::string> args(argv);
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
      close(in[1]);
      close(out[0]);
      close(err[0]);
      return errno_error("cannot run " + argv[0], rc);
    }
    // The input is small (one chain script): it fits the pipe buffer, so write it whole first.
    size_t off = 0;
    while (off < input.size()) {
      const ssize_t n = write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in[1]);
    std::string text[2];
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    while (open > 0) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[4096];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open;
        } else {
          text[i].append(buf, static_cast<size_t>(n));
        }
      }
    }
    for (auto& f : fds) {
      if (f.fd >= 0) close(f.fd);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      while (!text[1].empty() && text[1].back() == '\n') text[1].pop_back();
      return Error{text[1].empty() ? argv[0] + " failed" : text[1]};
    }
    return text[0];
  }
};

}  // namespace

std::unique_ptr<CommandRunner> make_command_runner() { return std::make_unique<SpawnRunner>(); }

}  // namespace ringside
