#include "policy/kernel_net_rules.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>

namespace ringside::policy {

namespace {

struct EntryBuild {
  rs_net_rule e{};
  std::vector<Cidr> cidrs;
};

uint8_t hook_of(EventType t) {
  switch (t) {
    case EventType::kNetworkConnect:
      return RS_NHOOK_CONNECT;
    case EventType::kNetworkSend:
      return RS_NHOOK_SEND;
    case EventType::kNetworkBind:
      return RS_NHOOK_BIND;
    default:
      return 0;
  }
}

// A condition as (negated?) a list of alternatives: equals / in, or not of one of them.
struct Alternatives {
  bool negate = false;
  const Condition* leaf = nullptr;
};

std::optional<Alternatives> alternatives(const Condition& c) {
  if (c.op == Op::kNot) {
    const Condition& inner = c.children.front();
    if (inner.op == Op::kNot || inner.op == Op::kAll) return std::nullopt;
    return Alternatives{true, &inner};
  }
  if (c.op == Op::kAll) return std::nullopt;
  return Alternatives{false, &c};
}

bool is_list(const Condition& c) { return c.op == Op::kEquals || c.op == Op::kIn; }

// Adds one condition on `f` to the entry for `hook`; false when the kernel cannot decide it.
bool add_condition(const FieldMatch& m, uint8_t hook, EntryBuild& b, const ExeResolver& exe,
                   std::vector<std::string>* missing) {
  auto alt = alternatives(m.condition);
  if (!alt) return false;
  const Condition& c = *alt->leaf;
  const bool bind = hook == RS_NHOOK_BIND;
  rs_net_rule& e = b.e;
  switch (m.field) {
    case Field::kDestinationIp:
    case Field::kSourceIp: {
      if ((m.field == Field::kSourceIp) != bind || e.cidr != RS_NCIDR_NONE) return false;
      std::vector<Cidr> blocks;
      if (c.op == Op::kCidr) {
        blocks = c.cidrs;
      } else if (is_list(c)) {
        for (const std::string& s : c.strings) {
          auto one = Cidr::parse(s);
          if (!one) return false;
          blocks.push_back(*one);
        }
      } else {
        return false;
      }
      if (blocks.empty()) return false;
      e.cidr = alt->negate ? RS_NCIDR_NOT_IN : RS_NCIDR_IN;
      b.cidrs = std::move(blocks);
      return true;
    }
    case Field::kDestinationPort:
    case Field::kSourcePort: {
      if ((m.field == Field::kSourcePort) != bind || e.n_ports != 0 || !is_list(c)) return false;
      if (c.ints.empty() || c.ints.size() > RS_NET_PORTS) return false;
      for (int64_t p : c.ints) {
        if (p < 0 || p > 65535) return false;
        e.ports[e.n_ports++] = static_cast<uint16_t>(p);
      }
      e.ports_negate = alt->negate;
      return true;
    }
    case Field::kNetworkTransport:
    case Field::kNetworkType: {
      if (!is_list(c) || c.strings.size() != 1) return false;
      const std::string& v = c.strings.front();
      const bool transport = m.field == Field::kNetworkTransport;
      const char* a = transport ? "tcp" : "ipv4";
      const char* z = transport ? "udp" : "ipv6";
      if (v != a && v != z) return false;
      const bool first = (v == a) != alt->negate;
      uint8_t& slot = transport ? e.proto : e.family;
      const uint8_t val = transport ? (first ? IPPROTO_TCP : IPPROTO_UDP) : (first ? 4 : 6);
      if (slot != 0 && slot != val) return false;
      slot = val;
      return true;
    }
    case Field::kUserId: {
      if (e.n_uids != 0 || !is_list(c) || c.ints.empty() || c.ints.size() > RS_NET_UIDS) {
        return false;
      }
      for (int64_t u : c.ints) {
        if (u < 0 || u > UINT32_MAX) return false;
        e.uids[e.n_uids++] = static_cast<uint32_t>(u);
      }
      e.uids_negate = alt->negate;
      return true;
    }
    case Field::kProcessExecutable: {
      if (e.n_exes != 0) return false;
      std::vector<std::string> paths;
      if (is_list(c)) {
        paths = c.strings;
      } else if (c.op == Op::kGlob) {
        for (const Glob& g : c.globs) {
          if (!g.is_literal()) return false;
          paths.push_back(g.literal_prefix());
        }
      } else {
        return false;
      }
      if (paths.empty() || paths.size() > RS_NET_EXES) return false;
      for (const std::string& p : paths) {
        auto id = exe(p);
        if (!id) {
          // No such file: the condition holds for no process (a later reload sees a new one).
          if (missing) missing->push_back(p);
          continue;
        }
        e.exes[e.n_exes] = {id->ino, id->dev, 0};
        ++e.n_exes;
      }
      if (e.n_exes == 0) {
        // Nothing can match: a sentinel identity no file has.
        e.exes[0] = {0, 0, 0};
        e.n_exes = 1;
      }
      e.exes_negate = alt->negate;
      return true;
    }
    default:
      return false;
  }
}

std::optional<EntryBuild> build_entry(const Rule& r, uint8_t hook, const ExeResolver& exe,
                                      std::vector<std::string>* missing) {
  EntryBuild b;
  b.e.hooks = hook;
  for (const FieldMatch& m : r.match) {
    if (!add_condition(m, hook, b, exe, missing)) return std::nullopt;
  }
  return b;
}

std::optional<std::array<uint8_t, 17>> redirect_target(const Rule& r) {
  if (!r.redirect) return std::nullopt;
  auto ip = IpAddress::parse(r.redirect->host);
  if (!ip) return std::nullopt;
  std::array<uint8_t, 17> out{};
  std::memcpy(out.data(), ip->bytes.data(), 16);
  out[16] = ip->v6 ? 6 : 4;
  return out;
}

uint8_t kernel_action(Action a) {
  switch (a) {
    case Action::kDeny:
      return RS_NACT_DENY;
    case Action::kAlert:
      return RS_NACT_ALERT;
    case Action::kRedirect:
      return RS_NACT_REDIRECT;
    case Action::kAllow:
      break;
  }
  return RS_NACT_ALLOW;
}

KernelNetCidr to_v6(const Cidr& c) {
  KernelNetCidr k;
  const IpAddress& n = c.network();
  if (n.v6) {
    std::memcpy(k.addr.data(), n.bytes.data(), 16);
    k.prefix_length = c.prefix_length();
  } else {
    k.addr[10] = 0xff;
    k.addr[11] = 0xff;
    std::memcpy(&k.addr[12], n.bytes.data(), 4);
    k.prefix_length = 96 + c.prefix_length();
  }
  return k;
}

bool within(const KernelNetCidr& inner, const KernelNetCidr& outer) {
  if (outer.prefix_length > inner.prefix_length) return false;
  for (int bit = 0; bit < outer.prefix_length; ++bit) {
    const uint8_t m = static_cast<uint8_t>(0x80U >> (bit % 8));
    if ((inner.addr[bit / 8] & m) != (outer.addr[bit / 8] & m)) return false;
  }
  return true;
}

}  // namespace

bool KernelNetProgram::any_action() const {
  return std::any_of(rules.begin(), rules.end(), [](const rs_net_rule& e) {
    return e.action == RS_NACT_DENY || e.action == RS_NACT_ALERT || e.action == RS_NACT_REDIRECT;
  });
}

bool kernel_net_rule_compilable(const Rule& rule, EventType type) {
  if (!rule.applies_at(Level::kKernel) || !rule.applies_to(type)) return false;
  if (rule.action == Action::kRedirect && !redirect_target(rule)) return false;
  const ExeResolver any = [](const std::string&) { return ExeIdentity{1, 1}; };
  const uint8_t hook = hook_of(type);
  return hook != 0 && build_entry(rule, hook, any, nullptr).has_value();
}

KernelNetProgram compile_kernel_net_rules(const Policy& policy, const ExeResolver& resolve_exe,
                                          uint16_t generation) {
  KernelNetProgram prog;
  std::vector<EntryBuild> built;
  uint8_t open_hooks = RS_NHOOK_CONNECT | RS_NHOOK_SEND | RS_NHOOK_BIND;  // not yet ended
  const auto& rules = policy.rules();
  for (uint32_t i = 0; i < rules.size() && open_hooks != 0; ++i) {
    const Rule& r = rules[i];
    if (!r.applies_at(Level::kKernel)) continue;
    uint8_t hooks = 0;
    for (EventType t : r.on) hooks |= hook_of(t);
    hooks &= open_hooks;
    if (hooks == 0) continue;
    const uint8_t action = kernel_action(r.action);
    std::optional<std::array<uint8_t, 17>> target;
    if (r.action == Action::kRedirect) target = redirect_target(r);
    uint8_t undecided = 0;
    for (uint8_t hook : {RS_NHOOK_CONNECT, RS_NHOOK_SEND, RS_NHOOK_BIND}) {
      if ((hooks & hook) == 0) continue;
      std::vector<std::string> missing;
      auto b = build_entry(r, hook, resolve_exe, &missing);
      if (!b || (r.action == Action::kRedirect && !target)) {
        undecided |= hook;
        continue;
      }
      for (const std::string& p : missing) {
        prog.notes.push_back("rule '" + r.name + "': executable " + p +
                             " does not exist; the kernel matches no process for it until the "
                             "policy is applied again");
      }
      b->e.rule_index = i;
      b->e.action = action;
      b->e.gen = generation;
      if (target) {
        std::memcpy(b->e.redirect_addr, target->data(), 16);
        b->e.redirect_family = (*target)[16];
        b->e.redirect_port = r.redirect->port;
      }
      // Merge with the previous entry when only the hook differs (one rule, several hooks).
      if (!built.empty() && built.back().e.rule_index == i &&
          built.back().cidrs.size() == b->cidrs.size()) {
        rs_net_rule probe = built.back().e;
        probe.hooks = b->e.hooks;
        if (std::memcmp(&probe, &b->e, sizeof(probe)) == 0) {
          built.back().e.hooks |= hook;
          continue;
        }
      }
      built.push_back(std::move(*b));
    }
    if (undecided != 0) {
      if (r.action == Action::kDeny || r.action == Action::kAlert) {
        prog.notes.push_back("rule '" + r.name +
                             "': conditions the socket programs cannot decide; left to NFQUEUE "
                             "and the agent");
      } else {
        prog.notes.push_back("rule '" + r.name + "' (" + std::string(to_string(r.action)) +
                             ") cannot be decided in the kernel; later rules are not compiled "
                             "into the socket programs for its actions");
        EntryBuild stop;
        stop.e.rule_index = i;
        stop.e.action = RS_NACT_DEFER;
        stop.e.hooks = undecided;
        stop.e.gen = generation;
        built.push_back(std::move(stop));
        open_hooks &= static_cast<uint8_t>(~undecided);
      }
    }
    if (built.size() > RS_NET_RULES) {
      built.resize(RS_NET_RULES - 1);
      EntryBuild stop;
      stop.e.rule_index = i;
      stop.e.action = RS_NACT_DEFER;
      stop.e.hooks = RS_NHOOK_CONNECT | RS_NHOOK_SEND | RS_NHOOK_BIND;
      stop.e.gen = generation;
      built.push_back(std::move(stop));
      prog.notes.push_back("socket program table full at rule '" + r.name +
                           "'; it and later rules are left to NFQUEUE and the agent");
      break;
    }
  }
  // Without an entry that does something, the programs need not look at a table at all.
  for (const EntryBuild& b : built) prog.rules.push_back(b.e);
  if (!prog.any_action()) {
    prog.rules.clear();
    return prog;
  }
  // The LPM trie: every block, with the entries of every block that contains it.
  std::vector<std::pair<KernelNetCidr, size_t>> blocks;
  for (size_t i = 0; i < built.size(); ++i) {
    for (const Cidr& c : built[i].cidrs) blocks.emplace_back(to_v6(c), i);
  }
  for (const auto& b : blocks) {
    const KernelNetCidr& block = b.first;
    auto it = std::find_if(prog.cidrs.begin(), prog.cidrs.end(), [&](const KernelNetCidr& k) {
      return k.prefix_length == block.prefix_length && within(k, block);
    });
    if (it == prog.cidrs.end()) {
      prog.cidrs.push_back(block);
      prog.cidrs.back().entries = 0;
    }
  }
  for (KernelNetCidr& k : prog.cidrs) {
    for (const auto& [block, entry] : blocks) {
      if (within(k, block)) k.entries |= uint64_t{1} << entry;
    }
  }
  if (prog.cidrs.size() > RS_NET_CIDRS / 2) {
    prog.notes.push_back(
        "too many address blocks for the socket programs; network rules are "
        "left to NFQUEUE and the agent");
    prog.rules.clear();
    prog.cidrs.clear();
  }
  return prog;
}

std::optional<ExeIdentity> stat_exe_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  const uint32_t dev = (major(st.st_dev) << 20) | minor(st.st_dev);
  return ExeIdentity{static_cast<uint64_t>(st.st_ino), dev};
}

}  // namespace ringside::policy
