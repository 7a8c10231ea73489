// Kernel-level network sensor on eBPF (see network_ebpf.hpp; the program is bpf/network.bpf.c
// with bpf/network_cgroup.h, its policy tables are compiled by policy/kernel_net_rules.hpp,
// its records decoded by network_records.hpp).
//
//   start: open -> configure (ring size, own pid, io_uring hooks) -> load -> attach the
//          tracepoints; the ORIGDST query socket; consumer thread
//   apply_policy: compile the table into the idle slot, switch net_config to it, drop the old
//          slot's address blocks; attach the cgroup and sockops programs to
//          settings.network.cgroup (re-attached when it changes)
//   consumer: poll the ring -> decode -> a cgroup verdict waits (briefly) for the system call
//          record of the same operation on its thread and is merged with it -> decide -> emit
#include "sensors/kernel/network_ebpf.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/process_table.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/tamper_event.hpp"
#include "core/thread_name.hpp"
#include "network.skel.h"
#include "policy/kernel_net_rules.hpp"
#include "sensors/kernel/bpf/network_abi.h"
#include "sensors/kernel/bpf_object.hpp"
#include "sensors/kernel/network_records.hpp"
#include "sensors/kernel/origdst_server.hpp"

namespace ringside {

namespace {

constexpr size_t kRingBytes = 8u << 20;
constexpr int kPollTimeoutMs = bpf::kRingPollMs;
constexpr int64_t kLossCheckNs = 1000000000;
constexpr int64_t kMergeWaitNs = 200000000;  // a verdict waits this long for its system call
constexpr size_t kEmitBatch = 256;
constexpr size_t kGenerationsKept = 8;

}  // namespace

std::string cgroup2_root() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, devno, root, mount;
    fields >> id >> parent >> devno >> root >> mount;
    return mount;
  }
  return {};
}

struct NetworkEbpfSensor::Impl {
  Impl(std::string query_socket, size_t ring_size)
      : query_path(std::move(query_socket)), ring_bytes(ring_size != 0 ? ring_size : kRingBytes) {}
  Result<void> start(SensorContext& c);
  Result<void> apply(const policy::Policy& policy);
  Result<void> attach_cgroup(const std::string& dir);
  void detach_cgroup();
  void stop();
  SensorStats stats() const;
  std::optional<FlowOwner> owner(const Flow& f) const;
  std::optional<OrigDst> origdst(uint16_t port) const;

  void run();
  static int on_sample(void* self, void* data, size_t size) {
    static_cast<Impl*>(self)->handle(data, size);
    return 0;
  }
  void handle(const void* data, size_t size);
  void finish(Event ev, const rs_rec_net_op& rec, const rs_rec_net_op* verdict);
  void expire_verdicts(bool all);
  void check_losses(bool now = false);
  void check_links();
  // The programs attach_cgroup attaches, in the order of cgroup_links.
  std::array<bpf_program*, 7> cgroup_programs() const {
    return {skel->progs.rs_connect4, skel->progs.rs_connect6, skel->progs.rs_sendmsg4,
            skel->progs.rs_sendmsg6, skel->progs.rs_bind4,    skel->progs.rs_bind6,
            skel->progs.rs_sockops};
  }
  void flush();
  void name_executable(Event& ev, const rs_rec_net_op& r);
  std::string rule_name(uint16_t gen, uint32_t index);
  rs_rec_net_counters kernel_counters() const;
  void destroy_objects();

  std::string query_path;
  size_t ring_bytes;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  network* skel = nullptr;
  std::vector<bpf_link*> links;
  std::vector<bpf_link*> cgroup_links;  // cgroup_mu
  std::string cgroup_dir;               // cgroup_mu
  std::mutex cgroup_mu;                 // apply() against the consumer's link check
  int64_t last_link_check_ns = 0;
  uint32_t detach_reported = 0;  // cgroup_links found detached, by index; cgroup_mu
  ring_buffer* ring = nullptr;
  OrigDstServer query;
  std::thread consumer;
  std::atomic<bool> stopping{false};
  bool running = false;

  mutable std::shared_mutex skel_mu;  // skel's lifetime against owner()/stats()/queries
  rs_rec_net_counters final_counters{};

  // Policy tables: the live slot, the address blocks each slot holds, rule names by generation.
  uint32_t live_slot = 0;
  std::vector<rs_net_lpm_key> slot_keys[2];
  uint16_t generation = 0;
  std::mutex names_mu;
  std::deque<std::pair<uint16_t, std::vector<std::string>>> names;

  struct Waiting {
    rs_rec_net_op rec;
    int64_t since;
  };
  std::unordered_map<uint32_t, Waiting> verdicts;  // by thread; consumer only
  // Executables by (pid, start time in clock ticks); consumer only, forgotten when large.
  std::map<std::pair<uint32_t, int64_t>, std::string> executables;
  EventBatch batch;
  LossChannel ring_losses{Level::kKernel, "ebpf", "network_ebpf.ring", LossAccuracy::kExact};
  // Operations whose entry state found no room in the in-flight map: their exit is not reported.
  LossChannel pending_losses{Level::kKernel, "ebpf", "network_ebpf.pending", LossAccuracy::kExact};
  int64_t last_loss_check = 0;
  bool warned_malformed = false;
};

Result<void> NetworkEbpfSensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  bpf::route_libbpf_output();
  ctx = &c;
  bpf::LibbpfCapture capture;
  skel = network__open();
  if (skel == nullptr) return bpf::libbpf_error("network_ebpf: open BPF object", errno, &capture);
  auto fail = [&](std::string_view what, int err) {
    Error e = bpf::libbpf_error("network_ebpf: " + std::string(what), err, &capture);
    destroy_objects();
    return e;
  };
  if (const int err = bpf_map__set_max_entries(skel->maps.events, ring_bytes); err != 0) {
    return fail("size the ring buffer", err);
  }
  skel->rodata->wake_threshold = ring_bytes / 8;
  skel->rodata->agent_tgid = static_cast<uint32_t>(getpid());
  const bool uring = bpf::tracepoint_exists("io_uring", "io_uring_submit_req") &&
                     bpf::tracepoint_exists("io_uring", "io_uring_complete");
  bpf_program__set_autoload(skel->progs.uring_submit, uring);
  bpf_program__set_autoload(skel->progs.uring_complete, uring);
  if (!uring) log().info("network_ebpf: no io_uring tracepoints; io_uring sockets unseen");
  if (const int err = network__load(skel); err != 0) return fail("load BPF programs", err);
  bpf_program* tracing[] = {
      skel->progs.enter_connect, skel->progs.enter_bind,   skel->progs.enter_sendto,
      skel->progs.enter_sendmsg, skel->progs.exit_connect, skel->progs.exit_bind,
      skel->progs.exit_sendto,   skel->progs.exit_sendmsg, skel->progs.exit_accept,
      skel->progs.exit_accept4,  skel->progs.sock_state,   skel->progs.uring_submit,
      skel->progs.uring_complete};
  for (bpf_program* p : tracing) {
    if (!bpf_program__autoload(p)) continue;
    bpf_link* link = bpf_program__attach(p);
    if (link == nullptr) return fail("attach " + std::string(bpf_program__name(p)), errno);
    links.push_back(link);
  }
  ring = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, this, nullptr);
  if (ring == nullptr) return fail("open the ring buffer", errno);
  if (auto r = query.start(query_path, [this](uint16_t p) { return origdst(p); }); !r) {
    Error e = std::move(r).error();
    destroy_objects();
    return e;
  }
  stopping = false;
  running = true;
  batch.reserve(kEmitBatch);
  consumer = std::thread([this] { run(); });
  name_thread(consumer, "rs-net-ebpf");
  return ok();
}

Result<void> NetworkEbpfSensor::Impl::attach_cgroup(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("network_ebpf: open cgroup " + dir);
  bpf::LibbpfCapture capture;
  std::vector<bpf_link*> fresh;
  for (bpf_program* p : cgroup_programs()) {
    bpf_link* link = bpf_program__attach_cgroup(p, fd);
    if (link == nullptr) {
      const int err = errno;
      for (bpf_link* l : fresh) bpf_link__destroy(l);
      close(fd);
      return bpf::libbpf_error(
          "network_ebpf: attach " + std::string(bpf_program__name(p)) + " to cgroup " + dir, err,
          &capture);
    }
    fresh.push_back(link);
  }
  close(fd);
  detach_cgroup();
  cgroup_links = std::move(fresh);
  cgroup_dir = dir;
  detach_reported = 0;
  log().info("network_ebpf: socket programs attached to cgroup {}", dir);
  return ok();
}

void NetworkEbpfSensor::Impl::detach_cgroup() {
  bpf::destroy_links(cgroup_links);
  cgroup_dir.clear();
}

Result<void> NetworkEbpfSensor::Impl::apply(const policy::Policy& policy) {
  if (!running) return Error{"network_ebpf: apply_policy before start"};
  std::string dir = policy.settings().network.cgroup;
  if (dir.empty()) dir = cgroup2_root();
  if (dir.empty()) return Error{"network_ebpf: no cgroup2 file system mounted"};
  {
    std::lock_guard lock(cgroup_mu);
    if (dir != cgroup_dir) {
      if (auto r = attach_cgroup(dir); !r) return r;
    }
  }
  uint16_t gen = static_cast<uint16_t>(generation + 1);
  if (gen == 0) gen = 1;
  const auto prog = policy::compile_kernel_net_rules(policy, policy::stat_exe_identity, gen);
  for (const std::string& note : prog.notes) log().info("network_ebpf: {}", note);
  const uint32_t slot = live_slot ^ 1;
  const int rules_fd = bpf_map__fd(skel->maps.net_rules);
  const int cidr_fd = bpf_map__fd(skel->maps.net_cidrs);
  // Clear what an earlier failed apply may have left in the idle slot.
  for (const rs_net_lpm_key& k : slot_keys[slot]) bpf_map_delete_elem(cidr_fd, &k);
  slot_keys[slot].clear();
  for (uint32_t i = 0; i < RS_NET_RULES; ++i) {
    rs_net_rule e{};
    if (i < prog.rules.size()) e = prog.rules[i];
    const uint32_t key = slot * RS_NET_RULES + i;
    if (bpf_map_update_elem(rules_fd, &key, &e, BPF_ANY) != 0) {
      return errno_error("network_ebpf: fill the rule table");
    }
  }
  for (const policy::KernelNetCidr& c : prog.cidrs) {
    rs_net_lpm_key k{};
    k.prefixlen = 32 + static_cast<uint32_t>(c.prefix_length);
    k.slot = slot;
    std::memcpy(k.addr, c.addr.data(), 16);
    if (bpf_map_update_elem(cidr_fd, &k, &c.entries, BPF_ANY) != 0) {
      return errno_error("network_ebpf: fill the address blocks");
    }
    slot_keys[slot].push_back(k);
  }
  {
    std::lock_guard lock(names_mu);
    std::vector<std::string> rule_names;
    for (const auto& r : policy.rules()) rule_names.push_back(r.name);
    names.emplace_back(gen, std::move(rule_names));
    while (names.size() > kGenerationsKept) names.pop_front();
  }
  // One store switches every program to the new table.
  const uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel->maps.net_config), &zero, &slot, BPF_ANY) != 0) {
    return errno_error("network_ebpf: switch the rule table");
  }
  live_slot = slot;
  generation = gen;
  for (const rs_net_lpm_key& k : slot_keys[slot ^ 1]) bpf_map_delete_elem(cidr_fd, &k);
  slot_keys[slot ^ 1].clear();
  log().info("network_ebpf: socket program table {} with {} entries, {} address blocks", gen,
             prog.rules.size(), prog.cidrs.size());
  return ok();
}

std::string NetworkEbpfSensor::Impl::rule_name(uint16_t gen, uint32_t index) {
  std::lock_guard lock(names_mu);
  for (const auto& [g, list] : names) {
    if (g == gen && index < list.size()) return list[index];
  }
  return "rule#" + std::to_string(index + 1);
}

void NetworkEbpfSensor::Impl::run() {
  clock::allow_batch_slack();
  while (!stopping.load(std::memory_order_relaxed)) {
    const int n = ring_buffer__poll(ring, kPollTimeoutMs);
    if (n < 0 && n != -EINTR) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("network_ebpf: polling the ring buffer failed: {}", errno_text(-n));
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
    }
    ring_buffer__consume(ring);
    expire_verdicts(false);
    check_losses();
    check_links();
    flush();
  }
}

// Tamper watch: a socket program detached from its cgroup (BPF_LINK_DETACH) is reported as
// ringside.tamper; a deny rule on it has the programs attached again.
void NetworkEbpfSensor::Impl::check_links() {
  const int64_t now = clock::monotonic_ns();
  if (now - last_link_check_ns < kLossCheckNs) return;
  last_link_check_ns = now;
  std::lock_guard lock(cgroup_mu);
  std::string detached;
  for (size_t i = 0; i < cgroup_links.size(); ++i) {
    const uint32_t bit = 1u << i;
    if ((detach_reported & bit) != 0 || !bpf::cgroup_link_detached(bpf_link__fd(cgroup_links[i]))) {
      continue;
    }
    detach_reported |= bit;  // reported once, until attached again
    if (!detached.empty()) detached += ", ";
    detached += i < cgroup_programs().size() ? bpf_program__name(cgroup_programs()[i]) : "?";
  }
  if (detached.empty()) return;
  const std::string dir = cgroup_dir;
  const std::string what = "network_ebpf: " + detached + " detached from cgroup " + dir;
  Event ev = tamper_event("ebpf", "bpf_program", "detach", dir, what);
  if (ctx->decide(ev).verdict == Verdict::kDeny) {
    cgroup_dir.clear();  // attach_cgroup replaces the detached links
    if (auto r = attach_cgroup(dir); r) {
      ev.set(Field::kRingsideEnforcement, "restored");
      counters.denied.fetch_add(1, std::memory_order_relaxed);
    } else {
      ev.set(Field::kRingsideEnforcement, "none");
      ev.set(Field::kRingsideMessage, what + "; attaching again failed: " + r.error().message);
    }
  }
  batch.push(std::move(ev));
}

void NetworkEbpfSensor::Impl::flush() { ctx->emit_all(batch); }

void NetworkEbpfSensor::Impl::handle(const void* data, size_t size) {
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  auto dec = network_records::decode_net_op(data, size);
  if (!dec) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    if (!warned_malformed) {
      log().warn("network_ebpf: malformed record ({}); further ones are only counted",
                 dec.error().message);
      warned_malformed = true;
    }
    return;
  }
  const rs_rec_net_op& r = **dec;
  if (r.source == RS_NSRC_CGROUP) {
    // A verdict already waiting on this thread had no system call record: report it alone.
    auto it = verdicts.find(r.tid);
    if (it != verdicts.end()) {
      finish(network_records::net_event(it->second.rec), it->second.rec, &it->second.rec);
      verdicts.erase(it);
    }
    verdicts[r.tid] = {r, clock::monotonic_ns()};
    return;
  }
  auto it = verdicts.find(r.tid);
  if (it != verdicts.end() && network_records::same_operation(it->second.rec, r)) {
    // The system call record completes the verdict: its result, local address and port.
    Event ev = network_records::net_event(r);
    ev.set_origin(Level::kKernel, "cgroup_sock");
    const rs_rec_net_op verdict = it->second.rec;
    verdicts.erase(it);
    finish(std::move(ev), r, &verdict);
    return;
  }
  finish(network_records::net_event(r), r, nullptr);
}

// The acting process's executable, for this process and not an earlier one with its pid: from
// the process table when it knows this (pid, start time), else from /proc when the process
// there started at that time.
void NetworkEbpfSensor::Impl::name_executable(Event& ev, const rs_rec_net_op& r) {
  if (r.start_boot_ns == 0) return;
  const int64_t ticks = clock::boot_ns_to_ticks(static_cast<int64_t>(r.start_boot_ns));
  const auto key = std::make_pair(r.pid, ticks);
  auto it = executables.find(key);
  if (it == executables.end()) {
    std::string exe;
    if (auto p = ctx->processes().find(static_cast<int32_t>(r.pid), ticks)) exe = p->executable;
    if (exe.empty()) exe = network_records::proc_executable(r.pid, ticks);
    if (exe.empty()) return;  // gone already: the agent's enrichment may still know it
    if (executables.size() >= 4096) executables.clear();
    it = executables.emplace(key, std::move(exe)).first;
  }
  ev.set(Field::kProcessExecutable, it->second);
}

// Decides and queues one event; `verdict` is the cgroup program's record when it acted.
void NetworkEbpfSensor::Impl::finish(Event ev, const rs_rec_net_op& rec,
                                     const rs_rec_net_op* verdict) {
  name_executable(ev, rec);
  const policy::Decision d = ctx->decide(ev);
  if (verdict != nullptr) {
    const std::string rule = rule_name(verdict->gen, verdict->rule - 1);
    switch (verdict->action) {
      case RS_NACT_DENY:
        ev.set_verdict(Verdict::kDeny, rule);
        ev.set(Field::kRingsideEnforcement, "blocked");
        ev.set(Field::kEventOutcome, "failure");
        counters.denied.fetch_add(1, std::memory_order_relaxed);
        break;
      case RS_NACT_REDIRECT:
        ev.set_verdict(Verdict::kAlert, rule);
        if (!ev.has(Field::kRingsideNetworkOriginalDestination)) {
          ev.set(Field::kRingsideNetworkOriginalDestination,
                 network_records::ip_text(verdict->orig_daddr, verdict->orig_family) + " " +
                     std::to_string(verdict->orig_dport));
        }
        break;
      default:
        ev.set_verdict(Verdict::kAlert, rule);
        break;
    }
  } else if (d.verdict == Verdict::kDeny) {
    // Seen after the fact: blocking was for the socket programs or NFQUEUE.
    ev.set(Field::kRingsideEnforcement, "none");
  }
  batch.push(std::move(ev));
  if (batch.size() >= kEmitBatch) flush();
}

void NetworkEbpfSensor::Impl::expire_verdicts(bool all) {
  const int64_t now = clock::monotonic_ns();
  for (auto it = verdicts.begin(); it != verdicts.end();) {
    if (all || now - it->second.since > kMergeWaitNs) {
      finish(network_records::net_event(it->second.rec), it->second.rec, &it->second.rec);
      it = verdicts.erase(it);
    } else {
      ++it;
    }
  }
}

rs_rec_net_counters NetworkEbpfSensor::Impl::kernel_counters() const {
  std::shared_lock lock(skel_mu);
  if (skel == nullptr) return final_counters;
  rs_rec_net_counters sum{};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return sum;
  std::vector<rs_rec_net_counters> per_cpu(static_cast<size_t>(ncpu));
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &zero, per_cpu.data()) != 0) {
    return sum;
  }
  for (const auto& c : per_cpu) {
    sum.ringbuf_full += c.ringbuf_full;
    sum.read_errors += c.read_errors;
    sum.args_full += c.args_full;
    sum.flows_full += c.flows_full;
    sum.denied += c.denied;
    sum.redirected += c.redirected;
    sum.redirect_failed += c.redirect_failed;
  }
  return sum;
}

void NetworkEbpfSensor::Impl::check_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_loss_check < kLossCheckNs) return;
  last_loss_check = t;
  const rs_rec_net_counters k = kernel_counters();
  if (auto ev = ring_losses.report(k.ringbuf_full, "ring buffer full")) {
    batch.push(std::move(*ev));
  }
  if (auto ev = pending_losses.report(k.args_full, "too many operations in flight")) {
    batch.push(std::move(*ev));
  }
}

std::optional<FlowOwner> NetworkEbpfSensor::Impl::owner(const Flow& f) const {
  std::shared_lock lock(skel_mu);
  if (skel == nullptr) return std::nullopt;
  rs_flow_key k{};
  k.proto = f.protocol;
  k.v6 = f.v6 ? 1 : 0;
  rs_flow_owner o{};
  const int flows_fd = bpf_map__fd(skel->maps.flows);
  // As the local end sees it (outgoing packet), then reversed (incoming packet).
  for (int reversed = 0; reversed < 2; ++reversed) {
    k.sport = reversed ? f.dport : f.sport;
    k.dport = reversed ? f.sport : f.dport;
    std::memcpy(k.saddr, (reversed ? f.daddr : f.saddr).data(), 16);
    std::memcpy(k.daddr, (reversed ? f.saddr : f.daddr).data(), 16);
    if (bpf_map_lookup_elem(flows_fd, &k, &o) == 0)
      return FlowOwner{int32_t(o.pid), int32_t(o.tid), o.uid};
  }
  // A listener or an unconnected UDP socket owns its local port.
  const int ports_fd = bpf_map__fd(skel->maps.port_owners);
  for (uint16_t port : {f.sport, f.dport}) {
    const uint32_t pk = (uint32_t{f.protocol} << 16) | port;
    if (port != 0 && bpf_map_lookup_elem(ports_fd, &pk, &o) == 0) {
      return FlowOwner{int32_t(o.pid), int32_t(o.tid), o.uid};
    }
  }
  return std::nullopt;
}

std::optional<OrigDst> NetworkEbpfSensor::Impl::origdst(uint16_t port) const {
  std::shared_lock lock(skel_mu);
  if (skel == nullptr) return std::nullopt;
  const uint32_t key = (uint32_t{IPPROTO_TCP} << 16) | port;
  rs_origdst od{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.origdst), &key, &od) != 0) return std::nullopt;
  return OrigDst{network_records::ip_text(od.addr, od.family), od.port};
}

void NetworkEbpfSensor::Impl::destroy_objects() {
  query.stop();
  detach_cgroup();
  bpf::destroy_links(links);
  if (ring != nullptr) {
    ring_buffer__free(ring);
    ring = nullptr;
  }
  std::unique_lock lock(skel_mu);
  if (skel != nullptr) {
    network__destroy(skel);
    skel = nullptr;
  }
}

void NetworkEbpfSensor::Impl::stop() {
  if (!running) return;
  running = false;
  stopping = true;
  if (consumer.joinable()) consumer.join();
  detach_cgroup();
  bpf::destroy_links(links);
  ring_buffer__consume(ring);  // what was written before the programs went away
  expire_verdicts(true);
  check_losses(true);
  flush();
  final_counters = kernel_counters();
  destroy_objects();
}

SensorStats NetworkEbpfSensor::Impl::stats() const {
  SensorStats s = SensorStats::from(counters);
  const rs_rec_net_counters k = kernel_counters();
  s.dropped += k.ringbuf_full + k.args_full;
  s.errors += k.read_errors + k.flows_full + k.redirect_failed;
  // Denies decided in the kernel whose records were lost still happened.
  s.denied = std::max<uint64_t>(s.denied, k.denied);
  return s;
}

NetworkEbpfSensor::NetworkEbpfSensor(std::string query_socket, size_t ring_bytes)
    : impl_(std::make_unique<Impl>(std::move(query_socket), ring_bytes)) {}

NetworkEbpfSensor::~NetworkEbpfSensor() { stop(); }

Result<void> NetworkEbpfSensor::start(SensorContext& ctx) { return impl_->start(ctx); }

Result<void> NetworkEbpfSensor::apply_policy(const policy::Policy& policy) {
  return impl_->apply(policy);
}

void NetworkEbpfSensor::stop() { impl_->stop(); }

SensorStats NetworkEbpfSensor::stats() const { return impl_->stats(); }

std::optional<FlowOwner> NetworkEbpfSensor::owner(const Flow& flow) const {
  return impl_->owner(flow);
}

}  // namespace ringside
