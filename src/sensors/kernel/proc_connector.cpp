// Kernel-level process sensor, fallback feed: the netlink proc connector (see
// proc_connector.hpp). One thread reads the multicast group; every event is completed from
// /proc when it arrives, decided, and a deny can only be a late kill.
#include "sensors/kernel/proc_connector.hpp"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <thread>

#include "agent/process_table.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/late_kill.hpp"
#include "sensors/kernel/process_records.hpp"

namespace ringside {

namespace proc_connector {

size_t parse(const void* data, size_t size, std::vector<Message>& out) {
  size_t malformed = 0;
  const auto* base = static_cast<const uint8_t*>(data);
  size_t off = 0;
  while (size - off >= sizeof(nlmsghdr)) {
    nlmsghdr nl{};
    std::memcpy(&nl, base + off, sizeof nl);
    if (nl.nlmsg_len < sizeof(nlmsghdr) || nl.nlmsg_len > size - off) {
      ++malformed;  // the rest of the datagram cannot be framed
      break;
    }
    const size_t payload = nl.nlmsg_len - NLMSG_HDRLEN;
    const uint8_t* p = base + off + NLMSG_HDRLEN;
    off += NLMSG_ALIGN(nl.nlmsg_len);
    if (nl.nlmsg_type == NLMSG_NOOP) continue;
    if (nl.nlmsg_type == NLMSG_ERROR || payload < sizeof(cn_msg)) {
      ++malformed;
      continue;
    }
    cn_msg cn{};
    std::memcpy(&cn, p, sizeof cn);
    if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC || cn.len > payload - sizeof cn) {
      ++malformed;
      continue;
    }
    // The header and the largest member read here (exit) must be present.
    constexpr size_t kMinEvent =
        offsetof(proc_event, event_data) + sizeof(proc_event::event_data.exit);
    if (cn.len < kMinEvent) {
      ++malformed;
      continue;
    }
    proc_event ev{};
    std::memcpy(&ev, p + sizeof cn, std::min<size_t>(cn.len, sizeof ev));
    Message m;
    m.timestamp_ns = ev.timestamp_ns;
    m.cpu = static_cast<int32_t>(ev.cpu);
    m.seq = cn.seq;
    switch (ev.what) {
      case proc_event::PROC_EVENT_FORK:
        m.kind = Message::Kind::kFork;
        m.pid = ev.event_data.fork.child_pid;
        m.tgid = ev.event_data.fork.child_tgid;
        m.parent_pid = ev.event_data.fork.parent_pid;
        m.parent_tgid = ev.event_data.fork.parent_tgid;
        break;
      case proc_event::PROC_EVENT_EXEC:
        m.kind = Message::Kind::kExec;
        m.pid = ev.event_data.exec.process_pid;
        m.tgid = ev.event_data.exec.process_tgid;
        break;
      case proc_event::PROC_EVENT_EXIT:
        m.kind = Message::Kind::kExit;
        m.pid = ev.event_data.exit.process_pid;
        m.tgid = ev.event_data.exit.process_tgid;
        m.exit_status = ev.event_data.exit.exit_code;
        break;
      default:
        m.kind = Message::Kind::kOther;
        break;
    }
    out.push_back(m);
  }
  return malformed;
}

uint64_t SeqTracker::missed(int32_t cpu, uint32_t seq) {
  if (cpu < 0 || cpu >= kMaxCpus) return 0;
  const auto i = static_cast<size_t>(cpu);
  if (i >= next_.size()) {
    next_.resize(i + 1, 0);
    known_.resize(i + 1, false);
  }
  // Unsigned difference: the counter wraps. A number from before the expected one (never sent
  // that way by the kernel) is taken as a new start, not as four billion losses.
  const uint32_t gap = seq - next_[i];
  const bool plausible = known_[i] && gap < (1u << 31);
  next_[i] = seq + 1;
  known_[i] = true;
  return plausible ? gap : 0;
}

}  // namespace proc_connector

namespace {

constexpr int kReceiveBufferBytes = 4 << 20;
constexpr size_t kDatagramBytes = 64 * 1024;

using proc_connector::Message;

Result<void> send_op(int sock, proc_cn_mcast_op op) {
  alignas(nlmsghdr) uint8_t buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(buf);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof op);
  nl->nlmsg_type = NLMSG_DONE;
  nl->nlmsg_pid = 0;
  cn_msg cn{};
  cn.id.idx = CN_IDX_PROC;
  cn.id.val = CN_VAL_PROC;
  cn.len = sizeof op;
  std::memcpy(NLMSG_DATA(nl), &cn, sizeof cn);
  std::memcpy(static_cast<uint8_t*>(NLMSG_DATA(nl)) + sizeof cn, &op, sizeof op);
  if (::send(sock, buf, nl->nlmsg_len, 0) < 0) {
    return errno_error(op == PROC_CN_MCAST_LISTEN ? "proc connector: subscribe"
                                                  : "proc connector: unsubscribe");
  }
  return ok();
}

}  // namespace

struct ProcConnectorSensor::Impl {
  Result<void> start(SensorContext& c);
  void stop();
  void run();
  void handle(const Message& m, int64_t mono_to_real);
  void on_fork(const Message& m, int64_t when);
  void on_exec(const Message& m, int64_t when);
  void on_exit(const Message& m, int64_t when);
  void overrun();
  void report_losses(bool now);

  SensorContext* ctx = nullptr;
  SensorCounters counters;
  int sock = -1;
  int wake = -1;
  std::thread reader;
  bool running = false;
  std::atomic<bool> stopping{false};
  int64_t last_overrun_log = 0;
  int receive_bytes = kReceiveBufferBytes;
  // ENOBUFS says that messages were lost, not how many; the per-CPU numbers say how many.
  proc_connector::SeqTracker seqs;
  uint64_t overruns = 0;
  LossChannel socket_losses{Level::kKernel, "proc_connector", "proc_connector.socket",
                            LossAccuracy::kExact};
};

Result<void> ProcConnectorSensor::Impl::start(SensorContext& c) {
  if (running) return ok();
  ctx = &c;
  sock = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (sock < 0) return errno_error("proc connector: netlink socket");
  auto fail = [this](Error e) {
    ::close(sock);
    sock = -1;
    if (wake >= 0) ::close(wake);
    wake = -1;
    return e;
  };
  // Bursts of short-lived processes outrun any reader; a deep queue makes losses rare (and
  // counted when they happen). SO_RCVBUFFORCE passes rmem_max as root.
  const int bytes = receive_bytes;
  if (::setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(errno_error("proc connector: bind to the proc events group"));
  }
  wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail(errno_error("proc connector: eventfd"));
  if (auto r = send_op(sock, PROC_CN_MCAST_LISTEN); !r) return fail(std::move(r).error());
  stopping = false;
  running = true;
  reader = std::thread([this] { run(); });
  name_thread(reader, "rs-proc-conn");
  return ok();
}

void ProcConnectorSensor::Impl::run() {
  std::vector<uint8_t> buf(kDatagramBytes);
  std::vector<Message> messages;
  while (!stopping.load(std::memory_order_relaxed)) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {wake, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().error("proc connector: poll failed: {}", errno_text(errno));
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) break;
    report_losses(false);
    while (true) {
      const ssize_t n = ::recv(sock, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          overrun();
          continue;
        }
        if (errno != EAGAIN && errno != EINTR) {
          counters.errors.fetch_add(1, std::memory_order_relaxed);
          log().error("proc connector: recv failed: {}", errno_text(errno));
        }
        break;
      }
      messages.clear();
      const size_t bad = proc_connector::parse(buf.data(), static_cast<size_t>(n), messages);
      counters.errors.fetch_add(bad, std::memory_order_relaxed);
      const int64_t mono_to_real = clock::realtime_ns() - clock::monotonic_ns();
      for (const Message& m : messages) {
        if (const uint64_t missed = seqs.missed(m.cpu, m.seq); missed > 0) {
          counters.dropped.fetch_add(missed, std::memory_order_relaxed);
        }
        handle(m, mono_to_real);
      }
    }
  }
}

void ProcConnectorSensor::Impl::overrun() {
  // The socket's queue overflowed: the kernel dropped messages, counted by the jump in the
  // numbers of the next ones.
  if (overruns++ == 0) log().warn("proc connector: the socket overflowed; losses are counted");
  report_losses(false);
}

// At most once a second, and at stop: overruns not yet reported become one ringside.lost.
void ProcConnectorSensor::Impl::report_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_overrun_log < 1000000000) return;
  last_overrun_log = t;
  if (auto ev = socket_losses.report(counters.dropped.load(std::memory_order_relaxed),
                                     "netlink socket overrun, messages missing by number")) {
    ctx->emit(std::move(*ev));
  }
}

void ProcConnectorSensor::Impl::handle(const Message& m, int64_t mono_to_real) {
  if (m.kind == Message::Kind::kOther) return;
  const int64_t when = static_cast<int64_t>(m.timestamp_ns) + mono_to_real;
  switch (m.kind) {
    case Message::Kind::kFork:
      if (m.pid != m.tgid) return;  // a new thread, not a new process
      counters.seen.fetch_add(1, std::memory_order_relaxed);
      return on_fork(m, when);
    case Message::Kind::kExec:
      counters.seen.fetch_add(1, std::memory_order_relaxed);
      return on_exec(m, when);
    case Message::Kind::kExit:
      if (m.pid != m.tgid) return;  // a thread; the process ends with its leader
      counters.seen.fetch_add(1, std::memory_order_relaxed);
      return on_exit(m, when);
    case Message::Kind::kOther:
      return;
  }
}

void ProcConnectorSensor::Impl::on_fork(const Message& m, int64_t when) {
  Event ev(EventType::kProcessFork, when);
  ev.set_origin(Level::kKernel, "proc_connector");
  ev.set(Field::kProcessPid, static_cast<int64_t>(m.tgid));
  ev.set(Field::kProcessParentPid, static_cast<int64_t>(m.parent_tgid));
  ev.set(Field::kEventOutcome, "success");
  ProcessTable& table = ctx->processes();
  if (const auto child = proc_start(m.tgid)) {
    int64_t parent_ticks = 0;
    if (const auto parent = table.find(m.parent_tgid)) {
      parent_ticks = parent->start_ticks;
    } else if (const auto p = proc_start(m.parent_tgid)) {
      parent_ticks = p->start_ticks;
    }
    table.on_fork(m.tgid, m.parent_tgid, child->start_ticks, parent_ticks);
    ev.set(Field::kProcessStart,
           clock::start_to_realtime(clock::ticks_to_boot_ns(child->start_ticks)));
  }
  ctx->decide(ev);
  ctx->emit(std::move(ev));
}

void ProcConnectorSensor::Impl::on_exec(const Message& m, int64_t when) {
  Event ev(EventType::kProcessExec, when);
  ev.set_origin(Level::kKernel, "proc_connector");
  ev.set(Field::kProcessPid, static_cast<int64_t>(m.tgid));
  ProcessTable& table = ctx->processes();
  auto info = read_proc_process(m.tgid);
  if (info) {
    ev.set(Field::kProcessParentPid, static_cast<int64_t>(info->ppid));
    ev.set(Field::kProcessStart,
           clock::start_to_realtime(clock::ticks_to_boot_ns(info->start_ticks)));
    if (!info->executable.empty()) ev.set(Field::kProcessExecutable, info->executable);
    ev.set(Field::kProcessArgs, info->args);
    ev.set(Field::kProcessArgsCount, static_cast<int64_t>(info->args.size()));
    if (!info->cwd.empty()) ev.set(Field::kProcessWorkingDirectory, info->cwd);
    ev.set(Field::kUserId, static_cast<int64_t>(info->uid));
    ev.set(Field::kUserEffectiveId, static_cast<int64_t>(info->euid));
    ev.set(Field::kGroupId, static_cast<int64_t>(info->gid));
    table.on_exec(*info);
  } else {
    // Gone before /proc could be read: what it ran is unknown, and the table must not keep
    // offering the image it had before the exec.
    ProcessInfo gone;
    if (const auto before = table.find(m.tgid)) gone = *before;
    gone.pid = m.tgid;
    gone.executable.clear();
    gone.args.clear();
    table.on_exec(gone);
    for (const char* f : {"process.executable", "process.args", "process.working_directory"}) {
      ev.append(Field::kRingsideTruncated, f);
    }
  }
  const policy::Decision d = ctx->decide(ev);
  ev.set(Field::kEventOutcome, "success");
  if (d.verdict == Verdict::kDeny) {
    LateKillResult k{LateKillOutcome::kGone, 0};
    if (info) k = late_kill(m.tgid, info->start_ticks);
    ev.set(Field::kRingsideEnforcement, enforcement_of(k.outcome));
    if (k.outcome == LateKillOutcome::kKilled) {
      counters.denied.fetch_add(1, std::memory_order_relaxed);
    } else if (k.outcome == LateKillOutcome::kFailed) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("proc connector: late kill of pid {} failed: {}", m.tgid, errno_text(k.error));
    }
  }
  ctx->emit(std::move(ev));
}

void ProcConnectorSensor::Impl::on_exit(const Message& m, int64_t when) {
  Event ev(EventType::kProcessExit, when);
  ev.set_origin(Level::kKernel, "proc_connector");
  ev.set(Field::kProcessPid, static_cast<int64_t>(m.tgid));
  ev.set(Field::kProcessExitCode,
         process_records::exit_code_from_status(static_cast<int32_t>(m.exit_status)));
  ev.set(Field::kEventOutcome, "success");
  ProcessTable& table = ctx->processes();
  const auto known = table.find(m.tgid);
  if (known) {
    ev.set(Field::kProcessParentPid, static_cast<int64_t>(known->ppid));
    ev.set(Field::kProcessStart,
           clock::start_to_realtime(clock::ticks_to_boot_ns(known->start_ticks)));
  }
  ctx->decide(ev);  // before on_exit, so that enrichment finds the process still alive
  if (known) table.on_exit(m.tgid, known->start_ticks, when);
  ctx->emit(std::move(ev));
}

void ProcConnectorSensor::Impl::stop() {
  if (!running) return;
  running = false;
  stopping = true;
  const uint64_t one = 1;
  if (::write(wake, &one, sizeof one) < 0) {
    log().warn("proc connector: cannot wake the reader: {}", errno_text(errno));
  }
  if (reader.joinable()) reader.join();
  report_losses(true);
  if (auto r = send_op(sock, PROC_CN_MCAST_IGNORE); !r) log().warn("{}", r.error().message);
  ::close(sock);
  ::close(wake);
  sock = wake = -1;
}

ProcConnectorSensor::ProcConnectorSensor(size_t receive_bytes) : impl_(std::make_unique<Impl>()) {
  if (receive_bytes != 0)
    impl_->receive_bytes = static_cast<int>(std::min<size_t>(receive_bytes, 1 << 30));
}

ProcConnectorSensor::~ProcConnectorSensor() { stop(); }

Result<void> ProcConnectorSensor::start(SensorContext& ctx) { return impl_->start(ctx); }

void ProcConnectorSensor::stop() { impl_->stop(); }

SensorStats ProcConnectorSensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
