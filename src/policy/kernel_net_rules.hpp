// The part of the policy the cgroup socket programs decide in the kernel (network.bpf.c).
//
// network.connect / network.send / network.bind rules whose conditions are equality (or `in`,
// or their negation) on the port, the transport, the address family, the user id and the
// executable, and `cidr` blocks (or addresses) on the address, are compiled into a table the
// programs walk first-match, in file order, as the agent would. For connect and send the
// address and port are the destination; for bind the local (source) ones.
//
// A rule the kernel cannot decide for a hook (a glob, a field it does not see) is left out
// there when it can only deny or alert (NFQUEUE and the agent still see the operation); an
// allow or redirect rule it cannot decide ends the table for that hook (RS_NACT_DEFER), since
// anything after it might be an exception the kernel would get wrong.
//
// process.executable is matched by the file's identity (inode and device) as resolved when the
// policy is applied: a file replaced later is a different file until the next reload.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "sensors/kernel/bpf/network_abi.h"

namespace ringside::policy {

struct ExeIdentity {
  uint64_t ino = 0;
  uint32_t dev = 0;  // kernel encoding: major << 20 | minor
};

// Resolves an executable path to its identity; nullopt when there is no such file.
using ExeResolver = std::function<std::optional<ExeIdentity>(const std::string& path)>;

struct KernelNetCidr {
  std::array<uint8_t, 16> addr{};  // IPv6 form (IPv4 mapped into ::ffff:0:0/96)
  int prefix_length = 0;           // of the IPv6 form
  uint64_t entries = 0;            // table entries (bits) whose blocks contain this prefix
};

struct KernelNetProgram {
  std::vector<rs_net_rule> rules;    // in order; at most RS_NET_RULES
  std::vector<KernelNetCidr> cidrs;  // entries already closed over containing blocks
  std::vector<std::string> notes;    // rules left to other points, for the log
  bool any_action() const;           // a deny, alert or redirect entry: worth attaching for
};

// True when every condition of `rule` can be decided by the socket program of `type`
// (network.connect, send or bind), ignoring table limits.
bool kernel_net_rule_compilable(const Rule& rule, EventType type);

KernelNetProgram compile_kernel_net_rules(const Policy& policy, const ExeResolver& resolve_exe,
                                          uint16_t generation);

// The real resolver: stat(2), with the device in the kernel's encoding.
std::optional<ExeIdentity> stat_exe_identity(const std::string& path);

}  // namespace ringside::policy
