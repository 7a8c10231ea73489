#include "sensors/kernel/nfqueue_decider.hpp"

#include <netinet/in.h>

#include "core/clock.hpp"
#include "sensors/kernel/dns_parse.hpp"
#include "sensors/kernel/packet_parse.hpp"

namespace ringside {

namespace {

constexpr uint16_t kDnsPort = 53;

// The flow seen from the local socket: source = this host's end.
Flow local_view(const Flow& f, bool incoming) {
  if (!incoming) return f;
  Flow r = f;
  std::swap(r.saddr, r.daddr);
  std::swap(r.sport, r.dport);
  return r;
}

}  // namespace

std::optional<FlowOwner> NfqueueDecider::lookup(const Flow& local_flow) const {
  if (owners_ != nullptr) {
    if (auto o = owners_->owner(local_flow)) return o;
  }
  if (fallback_ != nullptr) return fallback_->owner(local_flow);
  return std::nullopt;
}

Event NfqueueDecider::base_event(EventType type, const Flow& lf, const QueuedPacket& p) const {
  Event ev(type, clock::realtime_ns());
  ev.set_origin(Level::kKernel, "nfqueue");
  ev.set(Field::kSourceIp, flow_address(lf, true));
  ev.set(Field::kSourcePort, static_cast<int64_t>(lf.sport));
  ev.set(Field::kDestinationIp, flow_address(lf, false));
  ev.set(Field::kDestinationPort, static_cast<int64_t>(lf.dport));
  ev.set(Field::kNetworkTransport, lf.protocol == IPPROTO_TCP ? "tcp" : "udp");
  ev.set(Field::kNetworkType, lf.v6 ? "ipv6" : "ipv4");
  if (auto o = lookup(lf)) {
    ev.set(Field::kProcessPid, static_cast<int64_t>(o->pid));
    if (o->tid > 0) ev.set(Field::kProcessThreadId, static_cast<int64_t>(o->tid));
    ev.set(Field::kUserId, static_cast<int64_t>(o->uid));
  } else if (p.uid) {
    ev.set(Field::kUserId, static_cast<int64_t>(*p.uid));
  }
  return ev;
}

PacketOutcome NfqueueDecider::decide(const QueuedPacket& p, const QueuePlan& plan) {
  PacketOutcome out;
  auto parsed = parse_ip_packet(p.payload);
  if (!parsed || parsed->fragment) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  const PacketInfo& pk = *parsed;
  const bool incoming = p.hook == kHookLocalIn;
  const Flow lf = local_view(pk.flow, incoming);
  const bool tcp = pk.flow.protocol == IPPROTO_TCP;
  const bool first = tcp ? (pk.tcp_syn && !pk.tcp_ack)
                         : (p.ct_info == kCtNew || (p.ct_info < 0 && lf.dport != kDnsPort));
  auto decide_one = [&](Event&& ev) {
    const policy::Decision d = ctx_.decide(ev);
    if (d.verdict == Verdict::kDeny) {
      out.allow = false;
      ev.set(Field::kRingsideEnforcement, "blocked");
      ev.set(Field::kEventOutcome, "failure");
    }
    out.events.push_back(std::move(ev));
  };
  if (first && ((!incoming && plan.outgoing) || (incoming && plan.incoming))) {
    decide_one(
        base_event(incoming ? EventType::kNetworkAccept : EventType::kNetworkConnect, lf, p));
  }
  // DNS: queries leave towards port 53, answers arrive from it.
  const bool dns = plan.dns && !pk.payload.empty() && lf.dport == kDnsPort;
  if (dns) {
    auto msg = tcp ? parse_dns_tcp(pk.payload) : parse_dns(pk.payload);
    if (!msg) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
    } else {
      Event ev = base_event(EventType::kNetworkDns, lf, p);
      ev.set(Field::kDnsType, msg->response ? "answer" : "query");
      if (!msg->questions.empty()) {
        ev.set(Field::kDnsQuestionName, msg->questions.front().name);
        ev.set(Field::kDnsQuestionType, dns_type_name(msg->questions.front().qtype));
      }
      if (msg->response) ev.set(Field::kDnsResolvedIp, msg->addresses);
      decide_one(std::move(ev));
    }
  }
  return out;
}

}  // namespace ringside
