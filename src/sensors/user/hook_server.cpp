#include "sensors/user/hook_server.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/process_table.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/lost_event.hpp"
#include "core/thread_name.hpp"
#include "policy/cidr.hpp"
#include "sensors/pending_verdict.hpp"
#include "sensors/user/hook_decoder.hpp"
#include "sensors/user/hook_state_file.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {

namespace {

// New connections wait in the listen backlog for up to one gathering window
// (HookServerSensor::kGatherMs): 4096 in 20 ms is 200 000 new reporters a second before a
// connect fails (and the reporter counts its report as unsent); the kernel caps the backlog at
// net.core.somaxconn (4096 by default). Established connections are served at once.
constexpr int kListenBacklog = 4096;
constexpr int64_t kGatherNs = HookServerSensor::kGatherMs * 1'000'000;
constexpr size_t kMaxConnections = 8192;
constexpr int kMessagesPerWakeup = 64;  // then serve the other connections
constexpr int64_t kWarningsPerSecond = 5;

uint8_t wire_verdict(Verdict v) {
  switch (v) {
    case Verdict::kAllow:
      return RS_HOOK_VERDICT_ALLOW;
    case Verdict::kDeny:
      return RS_HOOK_VERDICT_DENY;
    case Verdict::kAlert:
      return RS_HOOK_VERDICT_ALERT;
  }
  return RS_HOOK_VERDICT_ALLOW;
}

// Where a redirect rule sends a connection; nothing for any other decision.
std::optional<rs_hook_address> redirect_target(const policy::Decision& d, EventType type) {
  if (type != EventType::kNetworkConnect || d.rule == nullptr ||
      d.rule->action != policy::Action::kRedirect || !d.rule->redirect) {
    return std::nullopt;
  }
  const auto ip = policy::IpAddress::parse(d.rule->redirect->host);
  if (!ip) return std::nullopt;  // the parser accepts only addresses
  rs_hook_address a{};
  a.family = ip->v6 ? 6 : 4;
  a.port = d.rule->redirect->port;
  std::copy_n(ip->bytes.begin(), ip->v6 ? 16 : 4, a.addr);
  return a;
}

}  // namespace

struct HookServerSensor::Impl {
  Impl(std::string path, uint32_t ops) : socket_path(std::move(path)), report_ops(ops) {}

  std::string socket_path;
  uint32_t report_ops;
  SensorContext* ctx = nullptr;
  SensorCounters counters;
  int listen_fd = -1;
  int epoll_fd = -1;
  int stop_fd = -1;
  struct stat socket_stat {};
  std::unique_ptr<HookStateFile> state;
  std::atomic<bool> default_allow{true};
  std::atomic<int> deadline_ms{200};
  // Nobody waits for a verdict (the policy has no user-level deny or redirect rule): new
  // connections gather in the listen backlog for kGatherNs (20 ms) and are accepted with one
  // wake-up.
  std::atomic<bool> gather{false};
  int64_t listen_rearm_ns = 0;  // the listening socket is not watched until then (0: watched)
  void watch_listen(bool on);
  void end_gathering();
  std::thread thread;
  // One per connected process. SO_PEERCRED is read at accept; the real uid comes with each
  // message (SCM_CREDENTIALS: the listening socket has SO_PASSCRED).
  struct Connection {
    HookPeer peer;
    std::optional<uint32_t> proc_uid;  // from /proc, when a message had no credentials
  };
  std::unordered_map<int, Connection> conns;  // connection fd -> sender
  std::vector<uint8_t> buf = std::vector<uint8_t>(RS_HOOK_MAX_MESSAGE);
  int64_t warn_window_ns = 0;
  int64_t warnings_in_window = 0;
  uint64_t warnings_suppressed = 0;
  // Reports hooked processes could not send (socket full, agent away), as they count them.
  std::atomic<uint64_t> unsent{0};
  LossChannel unsent_losses{Level::kUser, "preload", "hook_socket", LossAccuracy::kExact};
  int64_t last_loss_report = 0;

  Result<void> listen_socket();
  void report_losses(bool now);
  void loop();
  size_t accept_all();
  // Reads what the connection has; false when it was closed (peer gone, malformed input).
  bool serve(int fd, uint32_t events);
  uint32_t real_uid(Connection& c, const msghdr& msg);
  // false: the connection must be closed (malformed input, peer gone, last message).
  bool handle(int fd, const HookPeer& peer, std::span<const uint8_t> bytes);
  bool send_verdict(int fd, uint32_t seq, uint8_t verdict, std::string_view rule,
                    const rs_hook_address* redirect = nullptr);
  void close_connection(int fd);
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args);
  void close_all();
};

template <class... Args>
void HookServerSensor::Impl::warn(fmt::format_string<Args...> f, Args&&... args) {
  const int64_t now = clock::monotonic_ns();
  if (now - warn_window_ns > 1000000000) {
    if (warnings_suppressed > 0) {
      log().warn("hook_server: {} similar warnings suppressed", warnings_suppressed);
    }
    warn_window_ns = now;
    warnings_in_window = 0;
    warnings_suppressed = 0;
  }
  if (++warnings_in_window > kWarningsPerSecond) {
    ++warnings_suppressed;
    return;
  }
  log().warn(f, std::forward<Args>(args)...);
}

Result<void> HookServerSensor::Impl::listen_socket() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return Error{"hook socket path '" + socket_path + "' is empty or longer than " +
                 std::to_string(sizeof addr.sun_path - 1) + " bytes"};
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);

  const std::filesystem::path parent = std::filesystem::path(socket_path).parent_path();
  std::error_code ec;
  if (!parent.empty() && std::filesystem::create_directories(parent, ec)) {
    chmod(parent.c_str(), 0755);
  }
  if (ec) return Error{"cannot create " + parent.string() + ": " + ec.message()};

  struct stat st {};
  if (lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{socket_path + " exists and is not a socket; not replacing it"};
    }
    const int probe = rs_hook_connect(socket_path.c_str());
    if (probe >= 0) {
      close(probe);
      return Error{"another agent is listening on " + socket_path};
    }
    unlink(socket_path.c_str());  // stale, from an agent that did not stop cleanly
  }

  listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return errno_error("hook socket");
  // Every message then carries its sender's pid and real uid and gid, from the kernel.
  const int one = 1;
  if (setsockopt(listen_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
    return errno_error("SO_PASSCRED on hook socket");
  }
  if (bind(listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("cannot bind hook socket " + socket_path);
  }
  // Any user's processes report, so anyone may connect; SO_PEERCRED says who they are.
  if (chmod(socket_path.c_str(), 0666) != 0) return errno_error("chmod " + socket_path);
  if (stat(socket_path.c_str(), &socket_stat) != 0) return errno_error("stat " + socket_path);
  if (listen(listen_fd, kListenBacklog) != 0) return errno_error("listen " + socket_path);
  return ok();
}

void HookServerSensor::Impl::loop() {
  epoll_event events[64];
  while (true) {
    int timeout_ms = 1000;
    if (listen_rearm_ns != 0) {
      const int64_t left = listen_rearm_ns - clock::monotonic_ns();
      timeout_ms = left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
    }
    const int n = epoll_wait(epoll_fd, events, 64, timeout_ms);
    if (listen_rearm_ns != 0 && clock::monotonic_ns() >= listen_rearm_ns) end_gathering();
    report_losses(false);
    if (n < 0) {
      if (errno == EINTR) continue;
      log().error("hook_server: epoll_wait: {}", errno_text(errno));
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == stop_fd) return;
      if (fd == listen_fd) {
        accept_all();
        // A wake-up costs more than handling a report (tens of microseconds on a virtual
        // machine), and a forked child reports on a connection of its own: while no caller
        // waits for a verdict, let the next new connections gather.
        if (gather.load(std::memory_order_relaxed)) watch_listen(false);
      } else {
        serve(fd, events[i].events);
      }
    }
  }
}

// At the end of a gathering window, what came in meanwhile is taken in at once; the listening
// socket is watched again only when nothing did (a steady stream of new connections then costs
// one epoll_wait per window and no epoll_ctl, instead of three system calls more per window).
void HookServerSensor::Impl::end_gathering() {
  if (gather.load(std::memory_order_relaxed) && accept_all() > 0) {
    listen_rearm_ns = clock::monotonic_ns() + kGatherNs;
    return;
  }
  watch_listen(true);
}

void HookServerSensor::Impl::watch_listen(bool on) {
  epoll_event ev{};
  ev.events = on ? static_cast<uint32_t>(EPOLLIN) : 0U;
  ev.data.fd = listen_fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev) != 0) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("hook_server: epoll_ctl: {}", errno_text(errno));
    return;
  }
  listen_rearm_ns = on ? 0 : clock::monotonic_ns() + kGatherNs;
}

void HookServerSensor::Impl::report_losses(bool now) {
  const int64_t t = clock::monotonic_ns();
  if (!now && t - last_loss_report < 1000000000) return;
  last_loss_report = t;
  if (auto ev = unsent_losses.report(unsent.load(std::memory_order_relaxed),
                                     "reports hooked processes could not send")) {
    ctx->emit(std::move(*ev));
  }
}

size_t HookServerSensor::Impl::accept_all() {
  size_t accepted = 0;
  while (true) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != ECONNABORTED) {
        counters.errors.fetch_add(1, std::memory_order_relaxed);
        warn("hook_server: accept: {}", errno_text(errno));
      }
      return accepted;
    }
    ++accepted;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      warn("hook_server: SO_PEERCRED: {}", errno_text(errno));
      close(fd);
      continue;
    }
    if (conns.size() >= kMaxConnections) {
      counters.dropped.fetch_add(1, std::memory_order_relaxed);
      warn("hook_server: {} connections open, refusing pid {}", conns.size(), cred.pid);
      close(fd);
      continue;
    }
    Connection c;
    c.peer.pid = cred.pid;
    c.peer.euid = cred.uid;
    c.peer.uid = cred.uid;
    c.peer.gid = cred.gid;
    conns.emplace(fd, c);
    // A process that reports once and then runs another image has usually sent its message,
    // and often closed, by the time it is accepted: serve it now, and watch only a connection
    // that stays open.
    if (!serve(fd, 0)) continue;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      close_connection(fd);
    }
  }
}

uint32_t HookServerSensor::Impl::real_uid(Connection& c, const msghdr& msg) {
  std::optional<uint32_t> uid;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr;
       cm = CMSG_NXTHDR(const_cast<msghdr*>(&msg), cm)) {
    if (cm->cmsg_level != SOL_SOCKET) continue;
    if (cm->cmsg_type == SCM_CREDENTIALS && cm->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred u{};
      std::memcpy(&u, CMSG_DATA(cm), sizeof u);
      // Only a privileged sender can name another pid; then ask /proc about the real one.
      if (u.pid == c.peer.pid) uid = u.uid;
    } else if (cm->cmsg_type == SCM_RIGHTS) {  // nobody should send descriptors here
      const size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(cm) + i * sizeof(int), sizeof passed);
        close(passed);
      }
    }
  }
  if (uid) return *uid;
  if (!c.proc_uid) {
    c.proc_uid =
        c.peer.pid > 0 ? read_proc_real_uid(c.peer.pid).value_or(c.peer.euid) : c.peer.euid;
  }
  return *c.proc_uid;
}

bool HookServerSensor::Impl::serve(int fd, uint32_t events) {
  auto it = conns.find(fd);
  if (it == conns.end()) return false;
  Connection& c = it->second;
  for (int i = 0; i < kMessagesPerWakeup; ++i) {
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if ((events & (EPOLLHUP | EPOLLERR)) != 0) {
          close_connection(fd);
          return false;
        }
        return true;
      }
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      close_connection(fd);
      return false;
    }
    if (n == 0) {  // the process closed the connection (exec, exit) and everything was read
      close_connection(fd);
      return false;
    }
    HookPeer peer = c.peer;
    peer.uid = real_uid(c, msg);
    if ((msg.msg_flags & MSG_TRUNC) != 0) {
      counters.seen.fetch_add(1, std::memory_order_relaxed);
      counters.errors.fetch_add(1, std::memory_order_relaxed);
      warn("hook_server: dropped a message from pid {}: larger than {} bytes", peer.pid,
           RS_HOOK_MAX_MESSAGE);
      close_connection(fd);
      return false;
    }
    if (!handle(fd, peer, std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)))) {
      close_connection(fd);
      return false;
    }
  }
  return true;
}

bool HookServerSensor::Impl::send_verdict(int fd, uint32_t seq, uint8_t verdict,
                                          std::string_view rule, const rs_hook_address* redirect) {
  uint8_t out[RS_HOOK_HEADER_SIZE + 4 + RS_HOOK_MAX_RULE + RS_HOOK_ADDRESS_SIZE];
  const size_t len =
      redirect != nullptr
          ? rs_hook_encode_redirect(seq, rule.data(), rule.size(), redirect, out, sizeof out)
          : rs_hook_encode_verdict(seq, verdict, rule.data(), rule.size(), out, sizeof out);
  if (len > 0 && send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(len)) {
    return true;
  }
  counters.errors.fetch_add(1, std::memory_order_relaxed);
  warn("hook_server: cannot send a verdict: {}", errno_text(errno));
  return false;
}

bool HookServerSensor::Impl::handle(int fd, const HookPeer& peer, std::span<const uint8_t> bytes) {
  const int64_t received_ns = clock::monotonic_ns();
  auto decoded = decode_hook_message(bytes, peer, clock::realtime_ns());
  if (!decoded || !decoded->counts_only) counters.seen.fetch_add(1, std::memory_order_relaxed);
  if (!decoded) {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("hook_server: dropped a message from pid {}: {}", peer.pid, decoded.error().message);
    return false;
  }
  HookMessage& m = decoded.value();
  Event& ev = m.event;
  if (m.unsent > 0) {
    counters.dropped.fetch_add(m.unsent, std::memory_order_relaxed);
    unsent.fetch_add(m.unsent, std::memory_order_relaxed);
    warn("hook_server: pid {} could not send {} reports (socket full or agent away)", peer.pid,
         m.unsent);
  }
  if (m.counts_only) return !m.last;
  try {
    // With the identity the hash is a cache lookup, and enrichment need not open the file.
    if (m.executable_identity) {
      if (auto h = ctx->sha256_of(*ev.get_str(Field::kProcessExecutable), *m.executable_identity)) {
        ev.set(Field::kProcessHashSha256, *h);
      }
    }
    std::optional<policy::Decision> decision;
    std::optional<rs_hook_address> redirect;
    bool delivered = false;
    auto answer = [&](bool allow) {
      const uint8_t v = !allow     ? RS_HOOK_VERDICT_DENY
                        : decision ? wire_verdict(decision->verdict)
                                   : RS_HOOK_VERDICT_ALLOW;
      const std::string_view rule =
          decision && decision->rule != nullptr ? std::string_view(decision->rule->name) : "";
      if (allow && decision) redirect = redirect_target(*decision, ev.type());
      delivered = send_verdict(fd, m.seq, v, rule, redirect ? &*redirect : nullptr);
    };
    {
      std::optional<PendingVerdict<decltype(answer)>> pending;
      if (m.want_verdict) pending.emplace(answer, default_allow.load(), &counters.defaulted);
      decision = ctx->decide(ev);
      if (pending) pending->answer(decision->verdict != Verdict::kDeny);
    }
    // The caller started waiting before it sent, so an answer later than the deadline counted
    // from receipt certainly found it gone: it acted on its own fail mode.
    const bool late = m.want_verdict &&
                      clock::monotonic_ns() - received_ns > int64_t{deadline_ms.load()} * 1000000;
    if (late) {
      counters.defaulted.fetch_add(1, std::memory_order_relaxed);
      warn("hook_server: verdict for pid {} came after the {} ms deadline", peer.pid,
           deadline_ms.load());
      ev.set(Field::kRingsideEnforcement, "default");
    } else if (decision->verdict == Verdict::kDeny) {
      const bool blocked = m.want_verdict && delivered;
      ev.set(Field::kRingsideEnforcement, blocked ? "blocked" : "none");
      if (blocked) counters.denied.fetch_add(1, std::memory_order_relaxed);
    } else if (redirect && delivered) {
      ev.set(Field::kRingsideEnforcement, "redirected");
    }
  } catch (const std::exception& e) {
    // The pending verdict has answered the fail-mode default on the way out.
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    warn("hook_server: cannot decide on a message from pid {}: {}", peer.pid, e.what());
    return !m.last;
  }
  const bool more = !m.last;
  ctx->emit(std::move(ev));
  return more;
}

void HookServerSensor::Impl::close_connection(int fd) {
  conns.erase(fd);
  close(fd);  // also leaves the epoll set: connection descriptors are never duplicated
}

void HookServerSensor::Impl::close_all() {
  for (const auto& [fd, c] : conns) close(fd);
  conns.clear();
  for (int* fd : {&listen_fd, &epoll_fd, &stop_fd}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

HookServerSensor::HookServerSensor(std::string socket_path, uint32_t report_ops)
    : impl_(std::make_unique<Impl>(std::move(socket_path), report_ops)) {}

HookServerSensor::~HookServerSensor() { stop(); }

Result<void> HookServerSensor::start(SensorContext& ctx) {
  Impl& s = *impl_;
  if (s.thread.joinable()) return ok();
  s.ctx = &ctx;
  // Every hooked process may hold a connection: allow as many descriptors as we may.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  auto r = s.listen_socket();
  if (r) {
    auto st = HookStateFile::open(s.socket_path + RS_HOOK_STATE_SUFFIX, getpid());
    if (st) {
      s.state = std::move(st).value();
    } else {
      r = std::move(st).error();
    }
  }
  if (r) {
    s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    s.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = s.listen_fd;
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.fd = s.stop_fd;
    if (s.epoll_fd < 0 || s.stop_fd < 0 ||
        epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &lev) != 0 ||
        epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.stop_fd, &sev) != 0) {
      r = errno_error("hook server epoll");
    }
  }
  if (!r) {
    s.close_all();
    if (s.socket_stat.st_ino != 0) unlink(s.socket_path.c_str());
    s.state.reset();
    return r;
  }
  s.thread = std::thread([&s] { s.loop(); });
  // Named before start() returns (for top -H, and the tests).
  name_thread(s.thread, "rs-hook-server");
  log().info("hook server listening on {}", s.socket_path);
  return ok();
}

Result<void> HookServerSensor::apply_policy(const policy::Policy& policy) {
  Impl& s = *impl_;
  if (!s.state) return Error{"hook server is not running"};
  const HookDemands d = hook_demands(policy, s.report_ops);
  s.default_allow = !d.fail_closed;
  s.deadline_ms = static_cast<int>(d.deadline_ms);
  s.state->publish(d.sync_ops, d.deadline_ms, d.fail_closed, s.report_ops, d.file_opens);
  // While nobody waits for a verdict, new connections gather (see loop()) and the server thread
  // is SCHED_BATCH: woken by a reporter's connect, it no longer preempts the reporter on its
  // CPU before the message is even sent (which cost two wake-ups and two preemptions per report
  // instead of one, measured). A policy that makes callers wait gets the default policy back,
  // and with it the prompt wake-up a waiting caller needs.
  s.gather.store(d.sync_ops == 0, std::memory_order_relaxed);
  const sched_param none{};
  const int sched = d.sync_ops != 0 ? SCHED_OTHER : SCHED_BATCH;
  if (const int err = pthread_setschedparam(s.thread.native_handle(), sched, &none); err != 0) {
    log().debug("hook server: scheduling policy unchanged: {}", errno_text(err));
  }
  log().debug("hook server: operations 0x{:x} wait for a verdict (deadline {} ms, fail-{})",
              d.sync_ops, d.deadline_ms, d.fail_closed ? "closed" : "open");
  return ok();
}

void HookServerSensor::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  const uint64_t one = 1;
  if (write(s.stop_fd, &one, sizeof one) != sizeof one) {
    log().error("hook_server: cannot signal the server thread: {}", errno_text(errno));
  }
  s.thread.join();
  s.report_losses(true);
  // Release waiting processes first, then stop accepting.
  if (s.state) s.state->clear();
  s.close_all();
  struct stat st {};
  if (stat(s.socket_path.c_str(), &st) == 0 && st.st_ino == s.socket_stat.st_ino &&
      st.st_dev == s.socket_stat.st_dev) {
    unlink(s.socket_path.c_str());
  }
  s.state.reset();
}

SensorStats HookServerSensor::stats() const { return SensorStats::from(impl_->counters); }

}  // namespace ringside
