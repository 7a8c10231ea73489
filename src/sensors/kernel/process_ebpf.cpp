// Kernel-level process sensor on eBPF (see process_ebpf.hpp; the programs are
// bpf/process.bpf.c and bpf/process_lsm.bpf.c).
//
//   open -> configure (ring size, wake-up threshold) -> load -> attach -> [BPF-LSM, optional]
//   consumer thread: poll the ring (short timeout; the programs rarely wake it) -> decode ->
//   Event -> process table -> decide -> enforcement bookkeeping / late kill -> emit
#include "sensors/kernel/process_ebpf.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "agent/process_table.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "policy/kernel_exec_rules.hpp"
#include "process.skel.h"
#include "process_lsm.skel.h"
#include "sensors/kernel/bpf/process_abi.h"
#include "sensors/kernel/bpf_object.hpp"
#include "sensors/kernel/kexec_table.hpp"
#include "sensors/kernel/late_kill.hpp"
#include "sensors/kernel/process_records.hpp"

namespace ringside {

namespace {

constexpr int kPollTimeoutMs = bpf::kRingPollMs;
constexpr int64_t kLossCheckNs = 1000000000;  // kernel counters are read once a second
constexpr size_t kGenerationsKept = 8;        // kill tables whose rule names stay resolvable
constexpr size_t kProbeRingBytes = 4096;
// Events decided in one consume cycle are handed on together: the sink thread then wakes once
// per cycle instead of once per event (a futex wake-up and two context switches each).
constexpr size_t kEmitBatch = 256;

struct LsmDeleter {
  void operator()(process_lsm* s) const { process_lsm__destroy(s); }
};
using LsmPtr = std::unique_ptr<process_lsm, LsmDeleter>;

// The LSM object, with the maps of `main` when given (else its own, for a probe).
Result<LsmPtr> load_lsm(const process* main, uint64_t wake_threshold) {
  bpf::LibbpfCapture capture;
  LsmPtr lsm(process_lsm__open());
  if (!lsm) return bpf::libbpf_error("open lsm/bprm_check_security", errno, &capture);
  lsm->rodata->wake_threshold = wake_threshold;
  if (main != nullptr) {
    // Not the scratch maps: an LSM program runs preemptibly (trampoline, migrate_disable
    // only), so a tracepoint program on the same CPU could overwrite its work in progress.
    const std::pair<bpf_map*, const bpf_map*> shared[] = {
        {lsm->maps.events, main->maps.events},
        {lsm->maps.counters, main->maps.counters},
        {lsm->maps.kexec_tables, main->maps.kexec_tables}};
    for (const auto& [mine, theirs] : shared) {
      if (const int err = bpf_map__reuse_fd(mine, bpf_map__fd(theirs)); err != 0) {
        return bpf::libbpf_error("share map " + std::string(bpf_map__name(mine)), err, &capture);
      }
    }
  } else if (const int err = bpf_map__set_max_entries(lsm->maps.events, kProbeRingBytes);
             err != 0) {
    return bpf::libbpf_error("size the probe ring", err, &capture);
  }
  if (const int err = process_lsm__load(lsm.get()); err != 0) {
    return bpf::libbpf_error("load lsm/bprm_check_security", err, &capture);
  }
  if (const int err = process_lsm__attach(lsm.get()); err != 0) {
    return bpf::libbpf_error("attach lsm/bprm_check_security", err, &capture);
  }
  return lsm;
}

}  // namespace

struct ProcessEbpfSensor::Impl {
  explicit Impl(Options o) : opts(o) {}

  Result<void> start(SensorContext& c);
  Result<void> apply(const policy::Policy& policy);
  void stop();
  SensorStats stats() const;

  void run();
  static int on_sample(void* self, void* data, size_t size) {
    static_cast<Impl*>(self)->handle(data, size);
    return 0;
  }
  void handle(const void* data, size_t size);
  void on_fork(const rs_rec_fork& r);
  void on_exec(const process_records::ExecRecord& r);
  void on_exit(const rs_rec_exit& r);
  void malformed(const Error& e);
  void check_losses(bool now = false);
  void emit_later(Event&& ev);
  void emitted();  // after an event was built in batch.next(): hands the batch on when full
  void flush();
  std::string rule_name(uint16_t generation, uint32_t index);
  rs_rec_counters kernel_counters() const;
  void destroy_objects();

  Options opts;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  process* skel = nullptr;
  LsmPtr lsm;
  ring_buffer* ring = nullptr;
  std::thread consumer;
  std::atomic<bool> stopping{false};
  bool running = false;

  mutable std::mutex skel_mu;  // skel's lifetime against stats() from other threads
  rs_rec_counters final_counters{};

  std::mutex names_mu;
  uint16_t generation = 0;
  std::deque<std::pair<uint16_t, std::vector<std::string>>> names;  // newest last

  EventBatch batch;  // decided, not yet emitted (consumer thread only)
  LossChannel ring_losses{Level::kKernel, "ebpf", "process_ebpf.ring", LossAccuracy::kExact};
  int64_t last_loss_check = 0;
  bool warned_malformed = false;
};

Result<void> ProcessEbpfSensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  bpf::route_libbpf_output();
  const size_t ring_bytes = opts.ring_bytes;
  if (ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1)) != 0) {
    return Error{"process_ebpf: ring size must be a power of two of at least 4096 bytes"};
  }
  ctx = &c;
  bpf::LibbpfCapture capture;
  skel = process__open();
  if (skel == nullptr) return bpf::libbpf_error("process_ebpf: open BPF object", errno, &capture);
  auto fail = [&](std::string_view what, int err) {
    Error e = bpf::libbpf_error("process_ebpf: " + std::string(what), err, &capture);
    destroy_objects();
    return e;
  };
  if (const int err = bpf_map__set_max_entries(skel->maps.events, ring_bytes); err != 0) {
    return fail("size the ring buffer", err);
  }
  skel->rodata->wake_threshold = ring_bytes / 8;
  if (const int err = process__load(skel); err != 0) return fail("load BPF programs", err);
  if (const int err = process__attach(skel); err != 0) {
    return fail("attach sched_process_* tracepoints", err);
  }
  if (opts.enforce) {
    auto l = load_lsm(skel, ring_bytes / 8);
    if (l) {
      lsm = std::move(l).value();
      log().info("process_ebpf: BPF-LSM attached; denied execs fail with EPERM");
    } else {
      log().info("process_ebpf: BPF-LSM unavailable ({}); denied execs are killed at exec",
                 l.error().message);
    }
  }
  ring = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, this, nullptr);
  if (ring == nullptr) return fail("open the ring buffer", errno);
  stopping = false;
  running = true;
  consumer = std::thread([this] { run(); });
  name_thread(consumer, "rs-proc-ebpf");
  return ok();
}

Result<void> ProcessEbpfSensor::Impl::apply(const policy::Policy& policy) {
  if (!running) return Error{"process_ebpf: apply_policy before start"};
  policy::KernelExecProgram program = policy::compile_kernel_exec_rules(policy);
  for (const std::string& note : program.notes) log().info("kill-on-exec: {}", note);
  if (!opts.enforce) program.rules.clear();
  uint16_t gen;
  {
    std::lock_guard lock(names_mu);
    gen = ++generation;
    if (gen == 0) gen = ++generation;  // 0 means "no table" in records
  }
  const KexecTable table = encode_kexec_table(program, gen);
  const int outer = bpf_map__fd(skel->maps.kexec_tables);
  const uint32_t zero = 0;
  if (table.rules == 0) {
    if (bpf_map_delete_elem(outer, &zero) != 0 && errno != ENOENT) {
      return errno_error("process_ebpf: clear the kill-on-exec table");
    }
  } else {
    const int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "rs_kexec", sizeof(uint32_t),
                                     sizeof(rs_rec_kexec_entry), RS_KEXEC_ENTRIES, nullptr);
    if (inner < 0) return errno_error("process_ebpf: create a kill-on-exec table", -inner);
    for (uint32_t i = 0; i < table.rules * RS_KEXEC_CONDS; ++i) {
      if (bpf_map_update_elem(inner, &i, &table.entries[i], BPF_ANY) != 0) {
        const int err = errno;
        close(inner);
        return errno_error("process_ebpf: fill the kill-on-exec table", err);
      }
    }
    // One update swaps the whole table: an exec walks either the old or the new one.
    const int rc = bpf_map_update_elem(outer, &zero, &inner, BPF_ANY);
    const int err = errno;
    close(inner);
    if (rc != 0) return errno_error("process_ebpf: install the kill-on-exec table", err);
  }
  skel->bss->exec_wakeup = needs_late_kill(policy, program) ? 1 : 0;
  {
    std::lock_guard lock(names_mu);
    std::vector<std::string> rule_names;
    for (const auto& r : policy.rules()) rule_names.push_back(r.name);
    names.emplace_back(gen, std::move(rule_names));
    while (names.size() > kGenerationsKept) names.pop_front();
  }
  log().info("process_ebpf: kill-on-exec table {} with {} entries{}", gen, table.rules,
             skel->bss->exec_wakeup ? "; other exec denies are killed by the agent" : "");
  return ok();
}

void ProcessEbpfSensor::Impl::run() {
  clock::allow_batch_slack();
  while (!stopping.load(std::memory_order_relaxed)) {
    const int n = ring_buffer__poll(ring, kPollTimeoutMs);
    if (n < 0 && n != -EINTR) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("process_ebpf: polling the ring buffer failed: {}", errno_text(-n));
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
    }
    // Records written without a wake-up are only found by consuming.
    ring_buffer__consume(ring);
    check_losses();
    flush();
  }
}

void ProcessEbpfSensor::Impl::emit_later(Event&& ev) {
  batch.push(std::move(ev));
  emitted();
}

void ProcessEbpfSensor::Impl::emitted() {
  if (batch.size() >= kEmitBatch) flush();
}

void ProcessEbpfSensor::Impl::flush() { ctx->emit_all(batch); }

void ProcessEbpfSensor::Impl::handle(const void* data, size_t size) {
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  switch (process_records::record_type(data, size)) {
    case RS_REC_FORK: {
      auto r = process_records::decode_fork(data, size);
      return r ? on_fork(*r) : malformed(r.error());
    }
    case RS_REC_EXEC: {
      auto r = process_records::decode_exec(data, size);
      return r ? on_exec(*r) : malformed(r.error());
    }
    case RS_REC_EXIT: {
      auto r = process_records::decode_exit(data, size);
      return r ? on_exit(*r) : malformed(r.error());
    }
    default:
      return malformed(Error{"record of unknown type, " + std::to_string(size) + " bytes"});
  }
}

void ProcessEbpfSensor::Impl::malformed(const Error& e) {
  counters.errors.fetch_add(1, std::memory_order_relaxed);
  if (!warned_malformed) {
    log().warn("process_ebpf: malformed record ({}); further ones are only counted", e.message);
    warned_malformed = true;
  }
}

// Each event is built where it is handed on from (EventBatch::next): no move, and in steady
// state no allocation.
void ProcessEbpfSensor::Impl::on_fork(const rs_rec_fork& r) {
  Event& ev = batch.next();
  process_records::fork_event(r, ev);
  // The child runs its parent's image: both executables come from the entry the table makes,
  // so enrichment has no lookup left to do for them.
  ctx->processes().on_fork(static_cast<int32_t>(r.pid), static_cast<int32_t>(r.ppid),
                           clock::boot_ns_to_ticks(static_cast<int64_t>(r.start_boot_ns)),
                           clock::boot_ns_to_ticks(static_cast<int64_t>(r.parent_start_boot_ns)),
                           [&ev](const ProcessInfo& child) {
                             if (child.executable.empty()) return;
                             ev.set(Field::kProcessExecutable, child.executable);
                             ev.set(Field::kProcessParentExecutable, child.executable);
                           });
  ctx->decide(ev);
  emitted();
}

void ProcessEbpfSensor::Impl::on_exec(const process_records::ExecRecord& r) {
  Event& ev = batch.next();
  process_records::exec_event(r, ev);
  const auto pid = static_cast<int32_t>(r.fixed->pid);
  const int64_t ticks = clock::boot_ns_to_ticks(static_cast<int64_t>(r.fixed->start_boot_ns));
  // An exec the LSM refused never happened: the caller keeps its image.
  if (!r.lsm_blocked()) ctx->processes().on_exec(process_records::process_info(r));
  // The record names the image's inode and mtime: a known binary costs no system call to hash.
  if (!r.executable.empty()) {
    const auto id = FileIdentity::from_kernel(r.fixed->exe_dev, r.fixed->exe_ino,
                                              static_cast<int64_t>(r.fixed->exe_mtime_ns));
    if (auto h = ctx->sha256_of(r.executable, id)) ev.set(Field::kProcessHashSha256, *h);
  }
  const policy::Decision d = ctx->decide(ev);
  if (r.fixed->kill_rule != 0) {
    ev.set_verdict(Verdict::kDeny, rule_name(r.fixed->kill_gen, r.fixed->kill_rule - 1));
    ev.set(Field::kRingsideEnforcement, r.lsm_blocked() ? "blocked" : "killed");
    ev.set(Field::kEventOutcome, "failure");
    counters.denied.fetch_add(1, std::memory_order_relaxed);
  } else if (d.verdict == Verdict::kDeny) {
    // A rule the kernel table cannot express (or a kill the kernel could not send).
    const LateKillResult k = late_kill(pid, ticks);
    ev.set(Field::kRingsideEnforcement, enforcement_of(k.outcome));
    ev.set(Field::kEventOutcome, "success");
    if (k.outcome == LateKillOutcome::kKilled) {
      counters.denied.fetch_add(1, std::memory_order_relaxed);
    } else if (k.outcome == LateKillOutcome::kFailed) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("process_ebpf: late kill of pid {} failed: {}", pid, errno_text(k.error));
    }
  } else {
    ev.set(Field::kEventOutcome, "success");
  }
  emitted();
}

void ProcessEbpfSensor::Impl::on_exit(const rs_rec_exit& r) {
  const auto pid = static_cast<int32_t>(r.pid);
  const int64_t ticks = clock::boot_ns_to_ticks(static_cast<int64_t>(r.start_boot_ns));
  Event& ev = batch.next();
  process_records::exit_event(r, ev);
  // Two threads of a group exiting at once may both report the group's end: one event.
  if (!ctx->processes().on_exit(pid, ticks, ev.timestamp_ns())) {
    batch.drop_last();
    return;
  }
  ctx->decide(ev);  // enrichment finds the process by its start time, ended or not
  emitted();
}

std::string ProcessEbpfSensor::Impl::rule_name(uint16_t gen, uint32_t index) {
  std::lock_guard lock(names_mu);
  for (const auto& [g, list] : names) {
    if (g == gen && index < list.size()) return list[index];
  }
  return "kill-table-" + std::to_string(gen) + "-rule-" + std::to_string(index);
}

rs_rec_counters ProcessEbpfSensor::Impl::kernel_counters() const {
  std::lock_guard lock(skel_mu);
  if (skel == nullptr) return final_counters;
  rs_rec_counters sum{};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return sum;
  std::vector<rs_rec_counters> per_cpu(static_cast<size_t>(ncpu));
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &zero, per_cpu.data()) != 0) {
    return sum;
  }
  for (const auto& c : per_cpu) {
    sum.ringbuf_full += c.ringbuf_full;
    sum.path_truncated += c.path_truncated;
    sum.args_truncated += c.args_truncated;
    sum.read_errors += c.read_errors;
    sum.kills += c.kills;
    sum.kill_errors += c.kill_errors;
    sum.lsm_blocks += c.lsm_blocks;
  }
  return sum;
}

void ProcessEbpfSensor::Impl::check_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_loss_check < kLossCheckNs) return;
  last_loss_check = t;
  if (auto ev = ring_losses.report(kernel_counters().ringbuf_full, "ring buffer full")) {
    emit_later(std::move(*ev));
  }
}

void ProcessEbpfSensor::Impl::destroy_objects() {
  lsm.reset();
  if (ring != nullptr) {
    ring_buffer__free(ring);
    ring = nullptr;
  }
  std::lock_guard lock(skel_mu);
  if (skel != nullptr) {
    process__destroy(skel);
    skel = nullptr;
  }
}

void ProcessEbpfSensor::Impl::stop() {
  if (!running) return;
  running = false;
  stopping = true;
  if (consumer.joinable()) consumer.join();
  lsm.reset();
  // The three tracepoint links at once (process__detach would wait for each in turn).
  std::vector<bpf_link*> links = {skel->links.handle_fork, skel->links.handle_exec,
                                  skel->links.handle_exit};
  skel->links.handle_fork = skel->links.handle_exec = skel->links.handle_exit = nullptr;
  bpf::destroy_links(links);
  ring_buffer__consume(ring);  // what was written before the programs went away
  check_losses(true);
  flush();
  final_counters = kernel_counters();
  destroy_objects();
}

SensorStats ProcessEbpfSensor::Impl::stats() const {
  SensorStats s = SensorStats::from(counters);
  const rs_rec_counters k = kernel_counters();
  s.dropped += k.ringbuf_full;
  s.errors += k.read_errors + k.kill_errors;
  return s;
}

ProcessEbpfSensor::ProcessEbpfSensor(Options options) : impl_(std::make_unique<Impl>(options)) {}

ProcessEbpfSensor::~ProcessEbpfSensor() { stop(); }

Result<void> ProcessEbpfSensor::start(SensorContext& ctx) { return impl_->start(ctx); }

Result<void> ProcessEbpfSensor::apply_policy(const policy::Policy& policy) {
  return impl_->apply(policy);
}

void ProcessEbpfSensor::stop() { impl_->stop(); }

SensorStats ProcessEbpfSensor::stats() const { return impl_->stats(); }

Result<void> ProcessEbpfSensor::probe_lsm() {
  bpf::route_libbpf_output();
  auto l = load_lsm(nullptr, kProbeRingBytes / 2);
  if (!l) return std::move(l).error();
  return ok();
}

}  // namespace ringside
