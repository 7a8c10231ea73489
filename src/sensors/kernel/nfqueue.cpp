#include "sensors/kernel/nfqueue.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/flow_proc.hpp"
#include "sensors/kernel/nfqueue_decider.hpp"
#include "sensors/kernel/nfqueue_rules.hpp"
#include "sensors/kernel/nfqueue_socket.hpp"
#include "sensors/pending_verdict.hpp"

namespace ringside {

namespace {

constexpr size_t kWorkQueueMax = 4096;
// Ids the kernel assigned but we never received (socket overflow) are answered by id; a gap
// larger than this is not a plausible loss and is not answered id by id.
constexpr uint32_t kMaxGapAnswered = 4096;
constexpr size_t kRecvBuffer = 0xffff + 4096;

using Answer = std::function<void(bool)>;

// One queued packet: answered exactly once, by the worker's decision or by the deadline sweep
// (fail-mode default), whichever comes first; the destructor answers the default otherwise.
struct Pending {
  Pending(QueuedPacket p, int64_t deadline, Answer answer, bool default_allow,
          std::atomic<uint64_t>* defaulted_counter)
      : packet(std::move(p)),
        deadline_ns(deadline),
        verdict(std::move(answer), default_allow, defaulted_counter) {}
  QueuedPacket packet;
  int64_t deadline_ns;
  std::mutex mu;
  PendingVerdict<Answer> verdict;
  bool defaulted = false;
};

}  // namespace

struct NfqueueSensor::Impl {
  Impl(const FlowOwners* o, NfqueueSensor::QueueOpener opener, std::unique_ptr<CommandRunner> r)
      : owners(o), open_queue(std::move(opener)), runner(std::move(r)) {}

  const FlowOwners* owners;
  NfqueueSensor::QueueOpener open_queue;
  ProcFlowOwners proc_owners;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  std::unique_ptr<CommandRunner> runner;
  QueueRules rules{*runner};
  std::unique_ptr<NfqueueIo> io;
  std::unique_ptr<NfqueueDecider> decider;

  std::mutex plan_mu;
  QueuePlan plan;
  bool rules_installed = false;
  bool default_allow = true;
  std::atomic<int> deadline_ms{200};  // read by the reader thread, set on (re)load

  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::thread reader, worker;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Pending>> work;      // guarded by mu
  std::deque<std::shared_ptr<Pending>> inflight;  // reader thread only, in arrival order
  bool have_last_id = false;
  uint32_t last_id = 0;
  // Losses: packets the kernel could not queue (queue full: no id is used), ids it assigned
  // that never reached us (our socket was full; the kernel's user_dropped counts the same in
  // fail-closed mode and nothing in fail-open mode), and packets answered with the default
  // without an event because the work queue was full.
  uint16_t queue_number = 0;
  std::atomic<uint64_t> work_dropped{0}, id_gaps{0};
  LossChannel kernel_losses{Level::kKernel, "nfqueue", "nfqueue.kernel", LossAccuracy::kExact};
  LossChannel work_losses{Level::kKernel, "nfqueue", "nfqueue.work_queue", LossAccuracy::kExact};
  LossChannel gap_losses{Level::kKernel, "nfqueue", "nfqueue.socket", LossAccuracy::kExact};
  int64_t last_loss_report = 0;
  std::string drops_path;  // the kernel's queue table; empty with an injected queue (tests)

  // Fail-open mode: a packet that finds the kernel queue full is let through
  // (NFQA_CFG_F_FAIL_OPEN) and the kernel counts it nowhere. Those packets are the ones the
  // NFQUEUE rules sent to the queue less those the queue took (an id) or dropped: measured from
  // the rules' counters (iptables-save, a few ms) every kBypassCheckNs, before the rules are
  // replaced and before they are removed at stop. Counters start at 0 with each rule set.
  static constexpr int64_t kBypassCheckNs = 5'000'000'000;
  std::mutex bypass_mu;
  uint64_t bypass_earlier = 0;    // under earlier rule sets
  uint64_t bypass_current = 0;    // under the current rules, as last measured
  uint64_t taken_at_install = 0;  // id_sequence + queue_dropped when the current rules came
  int64_t last_bypass_check = 0;
  std::atomic<uint64_t> bypassed{0};
  LossChannel bypass_losses{Level::kKernel, "nfqueue", "nfqueue.bypass", LossAccuracy::kExact};

  std::optional<QueueDropCounts> kernel_counts() const {
    if (drops_path.empty()) return std::nullopt;
    std::stringstream text;
    text << std::ifstream(drops_path).rdbuf();
    return parse_queue_drops(text.str(), queue_number);
  }
  static uint64_t taken(const QueueDropCounts& k) { return k.id_sequence + k.queue_dropped; }

  // Under bypass_mu. The rules' counters are read first: a packet they counted has been taken
  // or let through by the time the kernel's counts are read.
  void measure_bypass_locked() {
    // plan and rules_installed change only under bypass_mu as well.
    if (!default_allow || drops_path.empty() || !rules_installed || plan.empty()) return;
    last_bypass_check = clock::monotonic_ns();
    auto queued = rules.queued_packets();
    const auto k = kernel_counts();
    if (!queued || !k) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      if (!queued)
        log().warn("nfqueue: cannot read the rules' counters: {}", queued.error().message);
      return;
    }
    const uint64_t by_queue = taken(*k) - std::min(taken(*k), taken_at_install);
    if (*queued > by_queue) bypass_current = std::max(bypass_current, *queued - by_queue);
    bypassed.store(bypass_earlier + bypass_current);
  }
  // Under bypass_mu, just before new rules replace the current ones (or none were installed).
  void start_rule_epoch_locked() {
    measure_bypass_locked();
    bypass_earlier += bypass_current;
    bypass_current = 0;
    if (const auto k = kernel_counts()) taken_at_install = taken(*k);
  }

  void report_losses(bool now) {
    const int64_t t = clock::monotonic_ns();
    if (!now && t - last_loss_report < 1000000000) return;
    last_loss_report = t;
    if (default_allow && t - last_bypass_check >= kBypassCheckNs) {
      try {
        std::lock_guard lock(bypass_mu);
        measure_bypass_locked();
      } catch (...) {  // NOLINT(bugprone-empty-catch): measured again at the next report
      }
    }
    if (auto ev =
            bypass_losses.report(bypassed.load(), "kernel queue full, let through (fail-open)")) {
      ctx->emit(std::move(*ev));
    }
    if (auto d = kernel_counts()) {
      if (auto ev = kernel_losses.report(d->queue_dropped, "kernel queue full, queue_dropped")) {
        ctx->emit(std::move(*ev));
      }
      // At stop every id the kernel assigned was either received or lost, including the ones
      // before the first packet and those still unread in the socket.
      const uint64_t seen = counters.seen.load(std::memory_order_relaxed);
      if (now && d->id_sequence > seen && d->id_sequence - seen > id_gaps.load()) {
        id_gaps.store(d->id_sequence - seen);
      }
    }
    if (auto ev = work_losses.report(work_dropped.load(), "work queue full, default answered")) {
      ctx->emit(std::move(*ev));
    }
    if (auto ev = gap_losses.report(id_gaps.load(), "queued packets never received")) {
      ctx->emit(std::move(*ev));
    }
  }

  Answer answer_for(uint32_t id, uint32_t mark) {
    return [this, id, mark](bool allow) {
      auto r = allow ? io->verdict(id, kVerdictAccept, std::nullopt)
                     : io->verdict(id, kVerdictRepeat, mark | kRejectMark);
      if (!r) counters.errors.fetch_add(1, std::memory_order_relaxed);
    };
  }

  void answer_gap(uint32_t id) {
    if (have_last_id && id > last_id + 1) {
      counters.dropped.fetch_add(id - last_id - 1, std::memory_order_relaxed);
      id_gaps.fetch_add(id - last_id - 1, std::memory_order_relaxed);
    }
    if (have_last_id && id > last_id + 1 && id - last_id - 1 <= kMaxGapAnswered) {
      for (uint32_t missing = last_id + 1; missing != id; ++missing) {
        PendingVerdict<Answer> pv(answer_for(missing, 0), default_allow, &counters.defaulted);
        pv.answer_default();
      }
      log().warn("nfqueue: {} queued packets were lost in the socket; answered the {} default",
                 id - last_id - 1, default_allow ? "allow" : "deny");
    }
    have_last_id = true;
    last_id = id;
  }

  void on_packet(QueuedPacket&& p) {
    counters.seen.fetch_add(1, std::memory_order_relaxed);
    answer_gap(p.id);
    const uint32_t id = p.id, mark = p.mark;
    auto pending = std::make_shared<Pending>(
        std::move(p), clock::monotonic_ns() + int64_t{deadline_ms.load()} * 1000000,
        answer_for(id, mark), default_allow, &counters.defaulted);
    inflight.push_back(pending);
    std::lock_guard lock(mu);
    if (work.size() >= kWorkQueueMax) {
      counters.dropped.fetch_add(1, std::memory_order_relaxed);
      work_dropped.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard plock(pending->mu);
      pending->defaulted = true;
      pending->verdict.answer_default();
      return;
    }
    work.push_back(std::move(pending));
    cv.notify_one();
  }

  // Answers the default for every packet past its deadline; returns ms until the next one.
  int sweep() {
    const int64_t now = clock::monotonic_ns();
    while (!inflight.empty()) {
      auto& front = inflight.front();
      std::unique_lock plock(front->mu);
      if (!front->verdict.answered()) {
        if (front->deadline_ns > now) {
          return static_cast<int>((front->deadline_ns - now) / 1000000) + 1;
        }
        front->defaulted = true;
        front->verdict.answer_default();
        log().warn("nfqueue: no decision within {} ms; answered the {} default", deadline_ms.load(),
                   default_allow ? "allow" : "deny");
      }
      plock.unlock();
      inflight.pop_front();
    }
    return 1000;
  }

  void read_loop() {
    std::vector<uint8_t> buf(kRecvBuffer);
    while (!stopping.load()) {
      pollfd fds[2] = {{io->fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
      const int timeout = std::min(sweep(), 1000);
      report_losses(false);
      if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if ((fds[0].revents & POLLIN) == 0) continue;
      auto n = io->recv(buf);
      if (!n) {
        // ENOBUFS: the kernel could not deliver some packets to us; they stay queued until
        // answered, which answer_gap() does when the next id shows the gap.
        if (n.error().code != ENOBUFS) counters.errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto packets = parse_queue_datagram(std::span<const uint8_t>(buf.data(), *n));
      if (!packets) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      for (auto& p : *packets) on_packet(std::move(p));
    }
  }

  void work_loop() {
    while (true) {
      std::shared_ptr<Pending> p;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping.load() || !work.empty(); });
        if (work.empty()) return;
        p = std::move(work.front());
        work.pop_front();
      }
      QueuePlan current;
      {
        std::lock_guard lock(plan_mu);
        current = plan;
      }
      PacketOutcome out = decider->decide(p->packet, current);
      bool defaulted = false;
      {
        std::lock_guard plock(p->mu);
        defaulted = p->defaulted;
        if (!defaulted) p->verdict.answer(out.allow);
      }
      if (!out.allow && !defaulted) counters.denied.fetch_add(1, std::memory_order_relaxed);
      for (Event& ev : out.events) {
        if (defaulted) {
          ev.set(Field::kRingsideEnforcement, "default");
          ev.set(Field::kRingsideMessage,
                 "decided after the deadline; the packet was answered "
                 "with the fail-mode default");
        }
        ctx->emit(std::move(ev));
      }
    }
  }
};

NfqueueSensor::NfqueueSensor(const FlowOwners* owners)
    : NfqueueSensor(owners, open_nfqueue, make_command_runner()) {
  impl_->drops_path = "/proc/net/netfilter/nfnetlink_queue";
}
NfqueueSensor::NfqueueSensor(const FlowOwners* owners, QueueOpener open_queue,
                             std::unique_ptr<CommandRunner> runner)
    : impl_(std::make_unique<Impl>(owners, std::move(open_queue), std::move(runner))) {}
NfqueueSensor::~NfqueueSensor() { stop(); }

Result<void> NfqueueSensor::start(SensorContext& ctx) {
  Impl& m = *impl_;
  m.ctx = &ctx;
  const auto pol = ctx.policy();
  m.default_allow = pol->settings().fail_mode == policy::FailMode::kOpen;
  m.deadline_ms = pol->settings().decision_deadline_ms;
  // A previous agent that died left its chains behind: remove them before anything else.
  m.rules.cleanup();
  m.queue_number = pol->settings().network.queue;
  auto io = m.open_queue(m.queue_number, m.default_allow);
  if (!io) return std::move(io).error();
  m.io = std::move(io).value();
  m.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.wake_fd < 0) {
    m.io.reset();
    return errno_error("nfqueue: eventfd");
  }
  m.decider = std::make_unique<NfqueueDecider>(ctx, m.owners, &m.proc_owners, m.counters);
  m.stopping = false;
  m.reader = std::thread([&m] { m.read_loop(); });
  name_thread(m.reader, "rs-nfq-read");
  m.worker = std::thread([&m] { m.work_loop(); });
  name_thread(m.worker, "rs-nfq-work");
  return ok();
}

Result<void> NfqueueSensor::apply_policy(const policy::Policy& policy) {
  Impl& m = *impl_;
  if (!m.io) return Error{"nfqueue: not started"};
  const QueuePlan next = plan_queue(policy);
  {
    std::lock_guard lock(m.plan_mu);
    if (m.rules_installed && next == m.plan) return ok();
  }
  if (next.queue != m.plan.queue && m.rules_installed) {
    return Error{"nfqueue: the queue number cannot change while running (restart the agent)"};
  }
  std::lock_guard bypass_lock(m.bypass_mu);
  m.start_rule_epoch_locked();
  if (auto r = m.rules.install(next); !r) {
    m.rules.cleanup();
    m.rules_installed = false;
    return r;
  }
  std::lock_guard lock(m.plan_mu);
  m.plan = next;
  m.rules_installed = true;
  m.deadline_ms = policy.settings().decision_deadline_ms;
  return ok();
}

void NfqueueSensor::stop() {
  Impl& m = *impl_;
  if (!m.io) return;
  // Rules first, so nothing new is queued (what they let through counted just before); then
  // every packet still waiting gets an answer before the socket closes.
  {
    try {
      std::lock_guard lock(m.bypass_mu);
      try {
        m.measure_bypass_locked();
      } catch (...) {  // NOLINT(bugprone-empty-catch): the count stays at its last measure
      }
      m.rules_installed = false;
    } catch (...) {  // NOLINT(bugprone-empty-catch): a mutex that cannot be locked
    }
    m.rules.cleanup();
  }
  {
    // Under the worker's lock: set between its check and its wait, the flag would be missed
    // along with the notification, and the join below would wait for ever.
    std::lock_guard lock(m.mu);
    m.stopping = true;
  }
  const uint64_t one = 1;
  (void)!write(m.wake_fd, &one, sizeof one);
  m.cv.notify_all();
  if (m.reader.joinable()) m.reader.join();
  if (m.worker.joinable()) m.worker.join();
  {
    std::lock_guard lock(m.mu);
    m.work.clear();
  }
  for (auto& p : m.inflight) {
    std::lock_guard plock(p->mu);
    p->verdict.answer_default();
  }
  m.inflight.clear();
  m.report_losses(true);  // before the socket closes: the kernel's queue goes with it
  m.decider.reset();
  m.io.reset();
  close(m.wake_fd);
  m.wake_fd = -1;
}

SensorStats NfqueueSensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
