#include "sensors/kernel/network_records.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <unistd.h>

#include <cstring>

#include "core/clock.hpp"
#include "sensors/kernel/bpf/network_abi.h"
#include "sensors/kernel/late_kill.hpp"

namespace ringside::network_records {

namespace {

int64_t wall(uint64_t boot_ns) { return clock::boot_to_realtime(static_cast<int64_t>(boot_ns)); }

bool is_zero(const uint8_t a[16]) {
  static constexpr uint8_t kZero[16] = {};
  return std::memcmp(a, kZero, 16) == 0;
}

}  // namespace

Result<const rs_rec_net_op*> decode_net_op(const void* data, size_t size) {
  if (size < sizeof(rs_rec_net_op)) return Error{"net_op record too short"};
  if (reinterpret_cast<uintptr_t>(data) % alignof(rs_rec_net_op) != 0) {
    return Error{"net_op record misaligned"};
  }
  const auto* r = static_cast<const rs_rec_net_op*>(data);
  if (r->type != RS_REC_NET_OP)
    return Error{"not a net_op record: type " + std::to_string(r->type)};
  if (r->size != sizeof(rs_rec_net_op))
    return Error{"net_op record size " + std::to_string(r->size)};
  if (r->op < 1 || r->op > RS_NOP_MAX) return Error{"net_op: unknown op " + std::to_string(r->op)};
  if (r->source < RS_NSRC_SYSCALL || r->source > RS_NSRC_CGROUP) {
    return Error{"net_op: unknown source " + std::to_string(r->source)};
  }
  if (r->family != 4 && r->family != 6) {
    return Error{"net_op: unknown family " + std::to_string(r->family)};
  }
  if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) {
    return Error{"net_op: unknown transport " + std::to_string(r->proto)};
  }
  if (r->source == RS_NSRC_CGROUP &&
      (r->action < RS_NACT_DENY || r->action > RS_NACT_REDIRECT || r->rule == 0)) {
    return Error{"net_op: cgroup record without a rule action"};
  }
  return r;
}

std::optional<EventType> event_type_of(uint8_t op) {
  switch (op) {
    case RS_NOP_CONNECT:
      return EventType::kNetworkConnect;
    case RS_NOP_ACCEPT:
      return EventType::kNetworkAccept;
    case RS_NOP_BIND:
      return EventType::kNetworkBind;
    case RS_NOP_SEND:
      return EventType::kNetworkSend;
    default:
      return std::nullopt;
  }
}

std::string ip_text(const uint8_t addr[16], uint8_t family) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf)) == nullptr) return {};
  return buf;
}

Event net_event(const rs_rec_net_op& r) {
  Event ev(event_type_of(r.op).value_or(EventType::kNetworkConnect), wall(r.ts_boot_ns));
  ev.set_origin(Level::kKernel, r.source == RS_NSRC_CGROUP ? "cgroup_sock" : "ebpf");
  ev.set(Field::kProcessPid, static_cast<int64_t>(r.pid));
  ev.set(Field::kProcessThreadId, static_cast<int64_t>(r.tid));
  ev.set(Field::kUserId, static_cast<int64_t>(r.uid));
  if (r.start_boot_ns != 0)
    ev.set(Field::kProcessStart, clock::start_to_realtime(static_cast<int64_t>(r.start_boot_ns)));
  ev.set(Field::kNetworkTransport, r.proto == IPPROTO_TCP ? "tcp" : "udp");
  ev.set(Field::kNetworkType, r.family == 6 ? "ipv6" : "ipv4");
  if (r.source == RS_NSRC_CGROUP) {
    ev.set(Field::kEventOutcome, r.action == RS_NACT_DENY ? "failure" : "unknown");
  } else {
    const bool ok = r.ret >= 0 || (r.op == RS_NOP_CONNECT && r.ret == -EINPROGRESS);
    ev.set(Field::kEventOutcome, ok ? "success" : "failure");
  }
  if (r.op == RS_NOP_BIND || !is_zero(r.saddr) || r.sport != 0) {
    ev.set(Field::kSourceIp, ip_text(r.saddr, r.family));
    ev.set(Field::kSourcePort, static_cast<int64_t>(r.sport));
  }
  if (r.op != RS_NOP_BIND) {
    ev.set(Field::kDestinationIp, ip_text(r.daddr, r.family));
    ev.set(Field::kDestinationPort, static_cast<int64_t>(r.dport));
  }
  if (r.op == RS_NOP_CONNECT && r.orig_family != 0) {
    ev.set(Field::kRingsideNetworkOriginalDestination,
           ip_text(r.orig_daddr, r.orig_family) + " " + std::to_string(r.orig_dport));
  }
  return ev;
}

bool same_operation(const rs_rec_net_op& c, const rs_rec_net_op& s) {
  if (c.tid != s.tid || c.op != s.op || c.proto != s.proto) return false;
  if (c.op == RS_NOP_BIND) return c.sport == s.sport || s.ret < 0;
  if (c.action == RS_NACT_REDIRECT) {
    // The system call saw the original destination the program asked for.
    return s.orig_family != 0 ? s.orig_dport == c.orig_dport
                              : (s.dport == c.orig_dport || s.dport == c.dport);
  }
  return s.dport == c.dport && s.family == c.family && std::memcmp(s.daddr, c.daddr, 16) == 0;
}

std::string proc_executable(uint32_t pid, int64_t start_ticks, const std::string& proc_root) {
  // The process may be gone by now (or its pid taken by another): then nothing.
  const auto start = proc_start(static_cast<int32_t>(pid), proc_root);
  if (!start || start->start_ticks != start_ticks) return {};
  char buf[4096];
  const std::string exe = proc_root + "/" + std::to_string(pid) + "/exe";
  const ssize_t n = readlink(exe.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return {};
  return std::string(buf, static_cast<size_t>(n));
}

Flow flow_of(const rs_rec_net_op& r) {
  Flow f;
  f.protocol = r.proto;
  f.v6 = r.family == 6;
  std::memcpy(f.saddr.data(), r.saddr, 16);
  std::memcpy(f.daddr.data(), r.daddr, 16);
  f.sport = r.sport;
  f.dport = r.dport;
  return f;
}

}  // namespace ringside::network_records
