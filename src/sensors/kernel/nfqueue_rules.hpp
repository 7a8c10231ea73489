// Which packets go through NFQUEUE, and the iptables rules that send them there.
//
// Rules live in ringside's own chains, RINGSIDE-OUT (jumped to first from OUTPUT) and
// RINGSIDE-IN (from INPUT), in the filter table of the agent's network namespace, for IPv4
// and IPv6. Only the first packet of a new connection is queued (TCP SYN in conntrack state
// NEW, the first UDP packet of a flow), plus DNS on port 53 (queries out, answers in). With
// the fail mode open every NFQUEUE rule carries --queue-bypass, so traffic flows when no agent
// listens. A denied packet is answered NF_REPEAT with kRejectMark set; the chains' first rules
// reject marked packets (TCP reset, ICMP port unreachable), so a denied connect fails at once
// with ECONNREFUSED instead of retrying its SYN until a timeout.
//
// Stale chains from a previous run that died are removed at start (cleanup() is idempotent).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "policy/policy.hpp"

namespace ringside {

inline constexpr uint32_t kRejectMark = 0x40000000;
inline constexpr std::string_view kChainOut = "RINGSIDE-OUT";
inline constexpr std::string_view kChainIn = "RINGSIDE-IN";

struct QueuePlan {
  uint16_t queue = 0;
  bool outgoing = false;   // new outgoing connections -> network.connect
  bool incoming = false;   // new incoming connections (not on loopback) -> network.accept
  bool dns = false;        // port 53 both ways -> network.dns
  bool bypass = true;      // --queue-bypass on connection rules (fail mode open)
  bool dns_bypass = true;  // --queue-bypass on DNS rules
  bool empty() const { return !outgoing && !incoming && !dns; }
  bool operator==(const QueuePlan&) const = default;
};

// True when the cgroup socket programs can decide `rule` in the kernel: every condition is
// equality (or `in`, or their negation) on the destination port, transport, address family,
// user id or executable, or a cidr/equality on the destination address — what the socket
// program compiler (policy/kernel_net_rules) accepts. Other connect rules need NFQUEUE.
bool socket_program_decidable(const policy::Rule& rule);

// What the policy asks for: `nfqueue: all` queues every new connection; `rules` only when a
// kernel-level deny rule on network.connect is one the socket programs cannot decide (or
// follows an allow rule they cannot decide, which ends their table), or one on
// network.accept; `off` none. DNS follows `dns`, and is queued whenever a network.dns deny
// rule exists. DNS rules bypass the queue without a listener unless a network.dns deny rule
// exists and the fail mode is closed.
QueuePlan plan_queue(const policy::Policy& policy);

// The iptables-restore input (used with --noflush) that (re)fills both chains for `plan`.
std::string chain_script(const QueuePlan& plan, bool ipv6);

// Packets that ringside's NFQUEUE rules sent to the queue, summed from `iptables-save -c`
// output: the counters of the rules in RINGSIDE-OUT and RINGSIDE-IN that jump to NFQUEUE.
uint64_t queue_rule_packets(std::string_view save_output);

// Runs a program and returns its standard output; an Error with its standard error when it
// fails. The facade over fork/exec, so rule handling is tested without privileges.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  virtual Result<std::string> run(const std::vector<std::string>& argv, std::string_view input) = 0;
};
std::unique_ptr<CommandRunner> make_command_runner();

// Installs and removes ringside's chains with iptables / ip6tables (whichever backend the
// system's alternatives select; both accept -j NFQUEUE).
class QueueRules {
 public:
  explicit QueueRules(CommandRunner& runner) : runner_(runner) {}
  // Removes the jumps and chains, whether this process or a dead one made them.
  void cleanup();
  // Replaces the chains' content atomically and adds the jumps if missing. An empty plan
  // removes everything.
  Result<void> install(const QueuePlan& plan);
  // Packets the installed NFQUEUE rules (both families) sent to the queue since they were
  // installed: the rules' counters, read with iptables-save -c.
  Result<uint64_t> queued_packets();

 private:
  Result<void> install_family(const QueuePlan& plan, bool ipv6);
  CommandRunner& runner_;
};

}  // namespace ringside
