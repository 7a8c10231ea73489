// Kernel-level file sensor on eBPF (see file_ebpf.hpp; the program is bpf/file.bpf.c, its
// filters are planned by file_scope_plan.hpp, its records decoded by file_records.hpp).
//
//   open -> configure (ring size, wake-up threshold, own pid, syscall table) -> load ->
//   attach file_enter/file_exit to each hooked system call, the io_uring programs to theirs
//   apply_policy: scope table swapped into the program; agent-side filter swapped under a lock
//   consumer thread: poll the ring (short timeout; the program rarely wakes it) -> decode ->
//   Event with resolved paths -> scope / rule filter -> decide -> emit in batches
#include "sensors/kernel/file_ebpf.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <limits.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "file.skel.h"
#include "policy/immutable_rules.hpp"
#include "sensors/kernel/bpf/file_abi.h"
#include "sensors/kernel/bpf_object.hpp"
#include "sensors/kernel/file_records.hpp"
#include "sensors/kernel/file_scope_plan.hpp"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // the same on every architecture (numbers from 424 on are unified)
#endif

namespace ringside {

namespace {

constexpr size_t kRingBytes = 16u << 20;
constexpr int kPollTimeoutMs = bpf::kRingPollMs;
constexpr int64_t kLossCheckNs = 1000000000;  // kernel counters are read once a second
// Events decided in one consume cycle are handed on together (one sink wake-up per cycle).
constexpr size_t kEmitBatch = 256;
// Executables the program sent, by pid; past this many the agent forgets them all and the
// program sends each again (exe_generation).
constexpr size_t kExecutablesKept = 1 << 16;

struct Hooked {
  uint8_t kind;
  const char* name;  // syscalls:sys_{enter,exit}_<name>
  long nr;
  int nargs;  // which file_enter<n> program reads its arguments
};

// Every system call the program handles; those this architecture lacks are not listed.
constexpr Hooked kHooked[] = {
    {RS_SC_OPENAT, "openat", SYS_openat, 4},
    {RS_SC_OPENAT2, "openat2", SYS_openat2, 4},
#ifdef SYS_open
    {RS_SC_OPEN, "open", SYS_open, 3},
#endif
#ifdef SYS_creat
    {RS_SC_CREAT, "creat", SYS_creat, 2},
#endif
    {RS_SC_TRUNCATE, "truncate", SYS_truncate, 2},
    {RS_SC_FTRUNCATE, "ftruncate", SYS_ftruncate, 2},
    {RS_SC_UNLINKAT, "unlinkat", SYS_unlinkat, 3},
#ifdef SYS_unlink
    {RS_SC_UNLINK, "unlink", SYS_unlink, 1},
    {RS_SC_RMDIR, "rmdir", SYS_rmdir, 1},
#endif
    {RS_SC_RENAMEAT2, "renameat2", SYS_renameat2, 5},
#ifdef SYS_renameat
    {RS_SC_RENAMEAT, "renameat", SYS_renameat, 4},
#endif
#ifdef SYS_rename
    {RS_SC_RENAME, "rename", SYS_rename, 2},
#endif
    {RS_SC_FCHMODAT, "fchmodat", SYS_fchmodat, 3},
    {RS_SC_FCHMODAT2, "fchmodat2", SYS_fchmodat2, 4},
    {RS_SC_FCHMOD, "fchmod", SYS_fchmod, 2},
#ifdef SYS_chmod
    {RS_SC_CHMOD, "chmod", SYS_chmod, 2},
#endif
    {RS_SC_LINKAT, "linkat", SYS_linkat, 5},
    {RS_SC_SYMLINKAT, "symlinkat", SYS_symlinkat, 3},
    {RS_SC_MKDIRAT, "mkdirat", SYS_mkdirat, 3},
#ifdef SYS_link
    {RS_SC_LINK, "link", SYS_link, 2},
    {RS_SC_SYMLINK, "symlink", SYS_symlink, 2},
    {RS_SC_MKDIR, "mkdir", SYS_mkdir, 2},
#endif
};

std::optional<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

// What the consumer applies to every record; replaced whole on a policy change.
struct AgentFilter {
  FileScopePlan plan;
  std::array<bool, RS_FOP_MAX + 1> rules{};  // per op: a deny/alert rule for its event type
};

}  // namespace

struct FileEbpfSensor::Impl {
  size_t ring_bytes = kRingBytes;
  Result<void> start(SensorContext& c);
  Result<void> apply(const policy::Policy& policy);
  void stop();
  SensorStats stats() const;

  Result<void> attach();
  void run();
  void refresh_filter();  // the consumer takes the newest filter (consumer thread)
  static int on_sample(void* self, void* data, size_t size) {
    static_cast<Impl*>(self)->handle(data, size);
    return 0;
  }
  void handle(const void* data, size_t size);
  void malformed(const Error& e);
  void check_losses(bool now = false);
  void flush();
  void name_executable(const file_records::FileOpRecord& rec, Event& ev);
  rs_rec_file_counters kernel_counters() const;
  void destroy_objects();

  SensorContext* ctx = nullptr;
  SensorCounters counters;
  file* skel = nullptr;
  std::vector<bpf_link*> links;
  ring_buffer* ring = nullptr;
  std::thread consumer;
  std::atomic<bool> stopping{false};
  bool running = false;

  mutable std::mutex skel_mu;  // skel's lifetime against stats() from other threads
  rs_rec_file_counters final_counters{};

  std::mutex filter_mu;
  std::shared_ptr<const AgentFilter> filter;   // written by apply(), read by the consumer
  std::atomic<uint64_t> filter_generation{0};  // bumped with each new filter
  std::shared_ptr<const AgentFilter> current;  // the consumer's copy
  uint64_t current_generation = 0;             // consumer thread only

  struct Executable {
    uint64_t start_boot_ns;
    std::string path;
  };
  std::unordered_map<uint32_t, Executable> executables;  // consumer thread only
  EventBatch batch;  // decided, not yet emitted (consumer thread only)
  LossChannel ring_losses{Level::kKernel, "ebpf", "file_ebpf.ring", LossAccuracy::kExact};
  // Operations whose entry state found no room in the in-flight map: their exit is not reported.
  LossChannel pending_losses{Level::kKernel, "ebpf", "file_ebpf.pending", LossAccuracy::kExact};
  int64_t last_loss_check = 0;
  bool warned_malformed = false;
};

Result<void> FileEbpfSensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  bpf::route_libbpf_output();
  ctx = &c;
  bpf::LibbpfCapture capture;
  skel = file__open();
  if (skel == nullptr) return bpf::libbpf_error("file_ebpf: open BPF object", errno, &capture);
  auto fail = [&](std::string_view what, int err) {
    Error e = bpf::libbpf_error("file_ebpf: " + std::string(what), err, &capture);
    destroy_objects();
    return e;
  };
  if (const int err = bpf_map__set_max_entries(skel->maps.events, ring_bytes); err != 0) {
    return fail("size the ring buffer", err);
  }
  skel->rodata->wake_threshold = ring_bytes / 8;
  skel->rodata->agent_tgid = static_cast<uint32_t>(getpid());
  for (const Hooked& h : kHooked) {
    if (h.nr >= 0 && h.nr < RS_FILE_NR_MAX) skel->rodata->nr_kind[h.nr] = h.kind;
  }
  // io_uring: the submission event's name changed in 5.19; without either, no io_uring.
  const bool submit_req = bpf::tracepoint_exists("io_uring", "io_uring_submit_req");
  const bool submit_sqe = !submit_req && bpf::tracepoint_exists("io_uring", "io_uring_submit_sqe");
  const bool uring =
      (submit_req || submit_sqe) && bpf::tracepoint_exists("io_uring", "io_uring_complete");
  bpf_program__set_autoload(skel->progs.uring_submit, uring && submit_req);
  bpf_program__set_autoload(skel->progs.uring_submit_sqe, uring && submit_sqe);
  bpf_program__set_autoload(skel->progs.uring_complete, uring);
  if (!uring) log().info("file_ebpf: no io_uring tracepoints; io_uring file operations unseen");
  if (const int err = file__load(skel); err != 0) return fail("load BPF programs", err);
  if (auto r = attach(); !r) {
    Error e = std::move(r).error();
    destroy_objects();
    return e;
  }
  ring = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, this, nullptr);
  if (ring == nullptr) return fail("open the ring buffer", errno);
  stopping = false;
  running = true;
  batch.reserve(kEmitBatch);
  consumer = std::thread([this] { run(); });
  name_thread(consumer, "rs-file-ebpf");
  pthread_setname_np(consumer.native_handle(), "rs-file-ebpf");  // for top -H and perf
  return ok();
}

Result<void> FileEbpfSensor::Impl::attach() {
  bpf::LibbpfCapture capture;
  size_t attached = 0;
  for (const Hooked& h : kHooked) {
    const std::string enter = std::string("sys_enter_") + h.name;
    const std::string exit = std::string("sys_exit_") + h.name;
    if (!bpf::tracepoint_exists("syscalls", exit)) continue;  // not on this kernel (fchmodat2)
    bpf_program* const by_nargs[] = {nullptr,
                                     skel->progs.file_enter1,
                                     skel->progs.file_enter2,
                                     skel->progs.file_enter3,
                                     skel->progs.file_enter4,
                                     skel->progs.file_enter5};
    // Opens and fd operations are handled at exit alone (file_common.h).
    const bool exit_only = h.kind == RS_SC_OPEN || h.kind == RS_SC_OPENAT ||
                           h.kind == RS_SC_OPENAT2 || h.kind == RS_SC_CREAT ||
                           h.kind == RS_SC_FTRUNCATE || h.kind == RS_SC_FCHMOD;
    for (const auto& [prog, event] : {std::pair{exit_only ? nullptr : by_nargs[h.nargs], enter},
                                      std::pair{skel->progs.file_exit, exit}}) {
      if (prog == nullptr) continue;
      bpf_link* link = bpf_program__attach_tracepoint(prog, "syscalls", event.c_str());
      if (link == nullptr) {
        return bpf::libbpf_error("file_ebpf: attach syscalls:" + event, errno, &capture);
      }
      links.push_back(link);
    }
    ++attached;
  }
  if (attached == 0) return Error{"file_ebpf: no syscall tracepoints (is tracefs mounted?)"};
  for (bpf_program* prog :
       {skel->progs.uring_submit, skel->progs.uring_submit_sqe, skel->progs.uring_complete}) {
    if (!bpf_program__autoload(prog)) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      return bpf::libbpf_error("file_ebpf: attach " + std::string(bpf_program__name(prog)), errno,
                               &capture);
    }
    links.push_back(link);
  }
  return ok();
}

Result<void> FileEbpfSensor::Impl::apply(const policy::Policy& policy) {
  if (!running) return Error{"file_ebpf: apply_policy before start"};
  auto next = std::make_shared<AgentFilter>();
  next->plan = plan_file_scopes(policy, real_path);
  for (const std::string& note : next->plan.notes) log().info("file_ebpf: {}", note);
  for (uint8_t op = 1; op <= RS_FOP_MAX; ++op) {
    next->rules[op] = has_file_rules(policy, *file_records::event_type_of(op));
  }
  const auto& table = next->plan.table;
  const int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "rs_fscope", sizeof(uint32_t),
                                   sizeof(rs_rec_file_scope), RS_FILE_SCOPES + 1, nullptr);
  if (inner < 0) return errno_error("file_ebpf: create a scope table", -inner);
  for (uint32_t i = 0; i < table.size(); ++i) {
    if (bpf_map_update_elem(inner, &i, &table[i], BPF_ANY) != 0) {
      const int err = errno;
      close(inner);
      return errno_error("file_ebpf: fill the scope table", err);
    }
  }
  // The agent's side first: a record the new table lets through is never judged by the old
  // filter (nor dropped for want of one at start). A record still in the ring from before is
  // judged by the new policy, as every later decision is: a reload takes effect for what the
  // agent handles from then on. One update swaps the whole table: an operation sees either the
  // old or the new one.
  std::shared_ptr<const AgentFilter> previous;
  {
    std::lock_guard lock(filter_mu);
    previous = std::exchange(filter, std::move(next));
    filter_generation.fetch_add(1, std::memory_order_release);
  }
  const uint32_t zero = 0;
  const int rc = bpf_map_update_elem(bpf_map__fd(skel->maps.scope_tables), &zero, &inner, BPF_ANY);
  const int err = errno;
  close(inner);
  if (rc != 0) {
    std::lock_guard lock(filter_mu);
    filter = std::move(previous);
    filter_generation.fetch_add(1, std::memory_order_release);
    return errno_error("file_ebpf: install the scope table", err);
  }
  return ok();
}

void FileEbpfSensor::Impl::refresh_filter() {
  const uint64_t generation = filter_generation.load(std::memory_order_acquire);
  if (generation == current_generation) return;
  std::lock_guard lock(filter_mu);
  current = filter;
  current_generation = generation;
}

void FileEbpfSensor::Impl::run() {
  clock::allow_batch_slack();
  while (!stopping.load(std::memory_order_relaxed)) {
    const int n = ring_buffer__poll(ring, kPollTimeoutMs);
    if (n < 0 && n != -EINTR) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("file_ebpf: polling the ring buffer failed: {}", errno_text(-n));
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
    }
    // Records written without a wake-up are only found by consuming.
    ring_buffer__consume(ring);
    check_losses();
    flush();
  }
}

void FileEbpfSensor::Impl::flush() { ctx->emit_all(batch); }

void FileEbpfSensor::Impl::handle(const void* data, size_t size) {
  counters.seen.fetch_add(1, std::memory_order_relaxed);
  auto rec = file_records::decode_file_op(data, size);
  if (!rec) return malformed(rec.error());
  refresh_filter();      // per record: a new policy applies from the next record on
  if (!current) return;  // no policy yet (the kernel's table lets nothing through)
  const AgentFilter& f = *current;
  const uint16_t flags = rec->flags();
  const uint8_t op = rec->fixed->op;
  Event ev = file_records::file_event(*rec, real_path);
  name_executable(*rec, ev);

  bool in_scope = false;
  if (flags & (RS_FILE_F_IN_SCOPE | RS_FILE_F_UNFILTERED)) {
    const bool reportable = op != RS_FOP_OPEN || (flags & RS_FILE_F_OPENS_OK);
    const auto path = ev.get_str(Field::kFilePath);
    in_scope = reportable && (f.plan.watch_all || (path && in_watch_scope(f.plan, *path)));
  }
  const bool candidate = (flags & RS_FILE_F_RULE) ||
                         ((flags & RS_FILE_F_UNFILTERED) && op <= RS_FOP_MAX && f.rules[op]);
  if (!in_scope && !candidate) return;
  const policy::Decision d = ctx->decide(ev);
  const bool ruled = d.rule != nullptr && d.verdict != Verdict::kAllow;
  if (!in_scope && !ruled) return;
  // A tracepoint sees the operation after the fact; blocking is the fanotify sensor's (opens)
  // and the immutable attribute's (file_immutable): an operation its rule refused failed
  // with EPERM.
  if (d.verdict == Verdict::kDeny) {
    const bool refused =
        rec->fixed->ret == -EPERM && d.rule != nullptr && policy::immutable_enforceable(*d.rule);
    ev.set(Field::kRingsideEnforcement, refused ? "blocked" : "none");
  }
  batch.push(std::move(ev));
  if (batch.size() >= kEmitBatch) flush();
}

// The program sends a process's executable with its first record; later ones are named here.
void FileEbpfSensor::Impl::name_executable(const file_records::FileOpRecord& rec, Event& ev) {
  const rs_rec_file_op& f = *rec.fixed;
  if (!rec.exe.empty()) {
    if (executables.size() >= kExecutablesKept) {
      executables.clear();
      std::lock_guard lock(skel_mu);
      if (skel != nullptr) ++skel->data->exe_generation;
    }
    executables[f.pid] = {f.start_boot_ns, std::string(rec.exe)};
    return;
  }
  auto it = executables.find(f.pid);
  if (it != executables.end() && it->second.start_boot_ns == f.start_boot_ns) {
    ev.set(Field::kProcessExecutable, it->second.path);
  }
}

void FileEbpfSensor::Impl::malformed(const Error& e) {
  counters.errors.fetch_add(1, std::memory_order_relaxed);
  if (!warned_malformed) {
    log().warn("file_ebpf: malformed record ({}); further ones are only counted", e.message);
    warned_malformed = true;
  }
}

rs_rec_file_counters FileEbpfSensor::Impl::kernel_counters() const {
  std::lock_guard lock(skel_mu);
  if (skel == nullptr) return final_counters;
  rs_rec_file_counters sum{};
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return sum;
  std::vector<rs_rec_file_counters> per_cpu(static_cast<size_t>(ncpu));
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &zero, per_cpu.data()) != 0) {
    return sum;
  }
  for (const auto& c : per_cpu) {
    sum.ringbuf_full += c.ringbuf_full;
    sum.path_truncated += c.path_truncated;
    sum.read_errors += c.read_errors;
    sum.pending_full += c.pending_full;
  }
  return sum;
}

void FileEbpfSensor::Impl::check_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_loss_check < kLossCheckNs) return;
  last_loss_check = t;
  const rs_rec_file_counters k = kernel_counters();
  if (auto ev = ring_losses.report(k.ringbuf_full, "ring buffer full")) {
    batch.push(std::move(*ev));
  }
  if (auto ev = pending_losses.report(k.pending_full, "too many operations in flight")) {
    batch.push(std::move(*ev));
  }
}

void FileEbpfSensor::Impl::destroy_objects() {
  bpf::destroy_links(links);
  if (ring != nullptr) {
    ring_buffer__free(ring);
    ring = nullptr;
  }
  std::lock_guard lock(skel_mu);
  if (skel != nullptr) {
    file__destroy(skel);
    skel = nullptr;
  }
}

void FileEbpfSensor::Impl::stop() {
  if (!running) return;
  running = false;
  stopping = true;
  if (consumer.joinable()) consumer.join();
  bpf::destroy_links(links);
  ring_buffer__consume(ring);  // what was written before the programs went away
  check_losses(true);
  flush();
  final_counters = kernel_counters();
  destroy_objects();
}

SensorStats FileEbpfSensor::Impl::stats() const {
  SensorStats s = SensorStats::from(counters);
  const rs_rec_file_counters k = kernel_counters();
  s.dropped += k.ringbuf_full + k.pending_full;
  s.errors += k.read_errors;
  return s;
}

FileEbpfSensor::FileEbpfSensor(size_t ring_bytes) : impl_(std::make_unique<Impl>()) {
  if (ring_bytes != 0) impl_->ring_bytes = ring_bytes;
}

FileEbpfSensor::~FileEbpfSensor() { stop(); }

Result<void> FileEbpfSensor::start(SensorContext& ctx) { return impl_->start(ctx); }

Result<void> FileEbpfSensor::apply_policy(const policy::Policy& policy) {
  return impl_->apply(policy);
}

void FileEbpfSensor::stop() { impl_->stop(); }

SensorStats FileEbpfSensor::stats() const { return impl_->stats(); }

}  // namespace ringside
