#include "agent/canary.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

extern char** environ;  // NOLINT: the helper inherits the agent's environment

namespace ringside {

namespace {

constexpr int kHelperGoFd = 3;
constexpr std::string_view kMarkerPrefix = "ringside-canary-";

// Exit statuses of the helper (run_canary_helper), named in the alert.
constexpr int kHelperNoGo = 71;
constexpr int kHelperOpenFailed = 72;
constexpr int kHelperSocketFailed = 73;
constexpr int kHelperExecFailed = 74;

std::string helper_status_text(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status)) return "ended with status " + std::to_string(status);
  switch (WEXITSTATUS(status)) {
    case kHelperNoGo:
      return "did not get the go from the agent";
    case kHelperOpenFailed:
      return "could not create its marked file";
    case kHelperSocketFailed:
      return "could not create a socket";
    case kHelperExecFailed:
      return "could not exec /bin/true";
    default:
      return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
}

// `path` is `dir` or below it (path components, not characters).
bool under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::string_view to_string(CanaryOp op) {
  switch (op) {
    case CanaryOp::kExec:
      return "exec";
    case CanaryOp::kOpen:
      return "open";
    case CanaryOp::kConnect:
      return "connect";
  }
  return "?";
}

std::optional<CanaryOp> canary_op_of(EventType type) {
  switch (type) {
    case EventType::kProcessExec:
      return CanaryOp::kExec;
    case EventType::kFileOpen:
    case EventType::kFileCreate:
      return CanaryOp::kOpen;
    case EventType::kNetworkConnect:
      return CanaryOp::kConnect;
    default:
      return std::nullopt;
  }
}

std::vector<CanaryCheck> plan_canary_checks(const CanaryPlanInput& in) {
  std::vector<CanaryCheck> out;
  auto add = [&out](const CanarySensor& s, CanaryOp op) {
    out.push_back({s.name, s.mechanism, s.level, op});
  };
  const std::string marked_file = in.canary_dir + "/x";
  const bool opens_reported = in.file.opens != policy::OpenReporting::kNone;
  for (const CanarySensor& s : in.live) {
    if (s.name == "process_ebpf" || s.name == "process_proc_connector") {
      add(s, CanaryOp::kExec);
    } else if (s.name == "file_ebpf") {
      // Reports opens (the helper's is a write: O_CREAT) under any watched path.
      const bool watched = std::any_of(in.file.watch.begin(), in.file.watch.end(),
                                       [&](const auto& w) { return under(marked_file, w.path); });
      if (opens_reported && watched) add(s, CanaryOp::kOpen);
    } else if (s.name == "file_fanotify") {
      // Reports the file's creation when a mark covers the canary directory: a directory mark
      // on it, or a filesystem/mount mark on a path under which it lies on the same device.
      const auto dir_dev = in.device_of ? in.device_of(in.canary_dir) : std::nullopt;
      const bool covered =
          std::any_of(in.file.watch.begin(), in.file.watch.end(), [&](const auto& w) {
            if (w.mark == policy::MarkKind::kDirectory) return w.path == in.canary_dir;
            if (!under(in.canary_dir, w.path) || !dir_dev || !in.device_of) return false;
            return in.device_of(w.path) == dir_dev;
          });
      if (covered) add(s, CanaryOp::kOpen);
    } else if (s.name == "network_ebpf") {
      add(s, CanaryOp::kConnect);
    } else if (s.name == "hook_server" && in.helper_preloaded) {
      add(s, CanaryOp::kExec);
      if (in.hooks_report_files && opens_reported) add(s, CanaryOp::kOpen);
      if (in.hooks_report_network) add(s, CanaryOp::kConnect);
    }
  }
  return out;
}

CanaryRound::CanaryRound(std::vector<CanaryCheck> checks)
    : checks_(std::move(checks)), seen_(checks_.size(), false), remaining_(checks_.size()) {}

bool CanaryRound::observe(const Event& ev) {
  const auto op = canary_op_of(ev.type());
  if (!op) return false;
  const auto mech = ev.get_str(Field::kRingsideSensor);
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < checks_.size(); ++i) {
    const CanaryCheck& c = checks_[i];
    if (seen_[i] || c.op != *op || c.level != ev.level() || !mech || c.mechanism != *mech) {
      continue;
    }
    seen_[i] = true;
    --remaining_;
  }
  return remaining_ == 0;
}

std::vector<CanaryCheck> CanaryRound::missed() const {
  std::lock_guard lock(mu_);
  std::vector<CanaryCheck> out;
  for (size_t i = 0; i < checks_.size(); ++i) {
    if (!seen_[i]) out.push_back(checks_[i]);
  }
  return out;
}

Canary::Canary(Config config, IntervalFn interval, PlanFn plan, RaiseFn raise)
    : cfg_(std::move(config)),
      interval_(std::move(interval)),
      plan_(std::move(plan)),
      raise_(std::move(raise)) {}

Canary::~Canary() { stop(); }

Result<void> Canary::start() {
  std::error_code ec;
  std::filesystem::create_directories(cfg_.dir, ec);
  if (ec) return Error{"canary: cannot create " + cfg_.dir + ": " + ec.message()};
  chmod(cfg_.dir.c_str(), 0700);
  // Files a killed agent's helper left behind.
  for (const auto& entry : std::filesystem::directory_iterator(cfg_.dir, ec)) {
    if (entry.path().filename().string().rfind(kMarkerPrefix, 0) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  port_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (port_fd_ < 0) return Error{"canary: socket: " + errno_text(errno)};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(port_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(port_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int err = errno;
    close_fd(port_fd_);
    return Error{"canary: reserve a loopback port: " + errno_text(err)};
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { loop(); });
  name_thread(thread_, "rs-canary");
  if (cfg_.fault) {
    fault_thread_ = std::thread([this] {
      if (sleep_for_ms(cfg_.fault_after_ms)) cfg_.fault();
    });
    name_thread(fault_thread_, "rs-canary-fault");
  }
  return ok();
}

void Canary::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fault_thread_.joinable()) fault_thread_.join();
  close_fd(port_fd_);
}

Canary::Stats Canary::stats() const {
  return {rounds_.load(), alerts_.load(), helper_failures_.load()};
}

void Canary::observe(const Event& ev) {
  const pid_t helper = helper_pid_.load(std::memory_order_relaxed);
  if (helper <= 0) return;
  const auto pid = ev.get_int(Field::kProcessPid);
  if (!pid || *pid != helper) return;
  std::shared_ptr<CanaryRound> round;
  {
    std::lock_guard lock(mu_);
    round = round_;
  }
  if (round && round->observe(ev)) {
    { std::lock_guard lock(mu_); }  // the canary thread is waiting or will see it done
    cv_.notify_all();
  }
}

bool Canary::sleep_for_ms(int64_t ms) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void Canary::loop() {
  uint64_t round = 0;
  int64_t next = clock::monotonic_ns();
  while (true) {
    const int64_t interval_ms = interval_();
    if (interval_ms <= 0) {  // paused by a reload
      if (!sleep_for_ms(1000)) return;
      next = clock::monotonic_ns();
      continue;
    }
    next += interval_ms * 1000000;
    const int64_t wait_ms = (next - clock::monotonic_ns()) / 1000000;
    if (!sleep_for_ms(std::max<int64_t>(wait_ms, 0))) return;
    run_round(interval_ms, ++round);
    // A round that overran its interval does not make the next ones pile up.
    next = std::max(next, clock::monotonic_ns() - interval_ms * 1000000);
  }
}

void Canary::alert(const CanaryCheck* check, std::string_view op, std::string message) {
  Event ev(EventType::kRingsideAlert, clock::realtime_ns());
  ev.set_origin(check != nullptr ? check->level : Level::kUser, "canary");
  ev.set(Field::kEventOutcome, "failure");
  if (check != nullptr) ev.set(Field::kRingsideCanarySensor, check->sensor);
  ev.set(Field::kRingsideCanaryOperation, op);
  log().warn("{}", message);
  ev.set(Field::kRingsideMessage, std::move(message));
  alerts_.fetch_add(1);
  raise_(std::move(ev));
}

void Canary::run_round(int64_t interval_ms, uint64_t round) {
  rounds_.fetch_add(1);
  const bool preload = !cfg_.preload_lib.empty() && access(cfg_.preload_lib.c_str(), R_OK) == 0;
  auto checks = plan_(preload);
  const std::string token =
      std::string(kMarkerPrefix) + std::to_string(getpid()) + "-" + std::to_string(round);
  const std::string port = std::to_string(port_);
  // Everything the child needs is built before the spawn.
  std::vector<std::string> args{cfg_.helper_binary, "canary-helper", cfg_.dir, token, port};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.rfind("LD_PRELOAD=", 0) == 0 || kv.rfind("RINGSIDE_SOCKET=", 0) == 0 ||
        kv.rfind("ASAN_OPTIONS=", 0) == 0) {
      continue;
    }
    env.emplace_back(kv);
  }
  if (preload) {
    env.push_back("LD_PRELOAD=" + cfg_.preload_lib);
    env.push_back("RINGSIDE_SOCKET=" + cfg_.hook_socket);
    // A sanitizer build of the helper must accept a preloaded library ahead of its runtime.
    env.emplace_back("ASAN_OPTIONS=verify_asan_link_order=0");
  }
  std::vector<char*> argv;
  std::vector<char*> envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    helper_failures_.fetch_add(1);
    alert(nullptr, "helper", "canary: pipe: " + errno_text(errno));
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, go[0], kHelperGoFd);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(go[0]);
  if (rc != 0) {
    close(go[1]);
    helper_failures_.fetch_add(1);
    alert(nullptr, "helper", "canary: cannot start " + cfg_.helper_binary + ": " + errno_text(rc));
    return;
  }
  auto current = std::make_shared<CanaryRound>(std::move(checks));
  {
    std::lock_guard lock(mu_);
    round_ = current;
  }
  helper_pid_.store(pid);
  // The helper acts only after this: its marked operations carry a pid the agent knows.
  const char byte = 'g';
  const bool released = write(go[1], &byte, 1) == 1;
  close(go[1]);

  // The helper should finish at once; it gets at most max(interval, 5 s).
  const int64_t helper_deadline =
      clock::monotonic_ns() + std::max<int64_t>(interval_ms, 5000) * 1000000;
  int status = 0;
  bool reaped = false;
  bool stopping = false;
  bool timed_out = false;
  while (true) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (!sleep_for_ms(5)) {
      stopping = true;
      break;
    }
    if (clock::monotonic_ns() > helper_deadline) {
      timed_out = true;
      break;
    }
  }
  if (!reaped) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (timed_out) {
    helper_failures_.fetch_add(1);
    alert(nullptr, "helper",
          "canary: the helper (pid " + std::to_string(pid) +
              ") did not finish in time and was killed");
  }
  if (!stopping && reaped && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    helper_failures_.fetch_add(1);
    alert(nullptr, "helper",
          "canary: the helper (pid " + std::to_string(pid) + ") " + helper_status_text(status) +
              (released ? "" : " (the go could not be sent)"));
  } else if (!stopping && reaped) {
    // Sensors report asynchronously (rings, sockets): wait for the events, bounded.
    const int64_t grace_ms = std::clamp<int64_t>(interval_ms / 2, 300, 10000);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(grace_ms),
                 [&] { return stopping_ || current->missed().empty(); });
    stopping = stopping_;
  }
  helper_pid_.store(0);
  {
    std::lock_guard lock(mu_);
    round_.reset();
  }
  std::error_code ec;
  std::filesystem::remove(cfg_.dir + "/" + token, ec);
  if (stopping || !reaped || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return;
  for (const CanaryCheck& c : current->missed()) {
    alert(&c, to_string(c.op),
          "canary: sensor " + c.sensor + " (" + std::string(to_string(c.level)) + " level, " +
              c.mechanism + ") missed the marked " + std::string(to_string(c.op)) + " of pid " +
              std::to_string(pid) + " (" + token + ")");
  }
}

int run_canary_helper(const std::string& dir, const std::string& token, uint16_t port) {
  char go = 0;
  ssize_t n = 0;
  do {
    n = read(kHelperGoFd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return kHelperNoGo;
  close(kHelperGoFd);
  const std::string path = dir + "/" + token;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return kHelperOpenFailed;
  close(fd);
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return kHelperSocketFailed;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Refused (the port is bound, never listening): the attempt is what sensors see.
  (void)connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(s);
  std::string marker = token;
  char* const argv[] = {const_cast<char*>("true"), marker.data(), nullptr};
  execve("/bin/true", argv, environ);
  return kHelperExecFailed;
}

}  // namespace ringside
