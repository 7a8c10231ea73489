// The lab's scratch state, the agent it runs and the step programs (see lab_agent.hpp).

#include "lab/lab_agent.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ringside::lab {

namespace {

using Clock = std::chrono::steady_clock;

std::string cgroup2_mount() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, rest;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2") return dir;
  }
  return "";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Leftovers of a lab run that was killed: its tmpfs mounts and (empty) cgroups, named after
// its pid; those of a run still alive are left alone.
void remove_stale(const std::string& cgroot) {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, rest;
  std::vector<std::string> mounts;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "tmpfs" && dir.rfind("/tmp/ringside-lab-", 0) == 0 &&
        !owner_alive(dir, "/tmp/ringside-lab-")) {
      mounts.push_back(dir);
    }
  }
  for (const auto& m : mounts) {
    if (umount2(m.c_str(), 0) != 0) umount2(m.c_str(), MNT_DETACH);
    rmdir(m.c_str());
  }
  std::error_code ec;
  if (cgroot.empty()) return;
  for (const auto& e : std::filesystem::directory_iterator(cgroot, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ringside-lab-", 0) == 0 && !owner_alive(name, "ringside-lab-")) {
      rmdir(e.path().c_str());  // only when empty
    }
  }
}

// Async-signal-safe: runs in a forked child before exec.
bool loopback_up() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags |= IFF_UP;
    ok = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  }
  close(fd);
  return ok;
}

std::vector<std::string> child_env(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (key == "LD_PRELOAD" || key == "RINGSIDE_SOCKET") continue;
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || x.substr(0, x.find('=')) == key;
    if (!overridden) out.push_back(entry);
  }
  for (const auto& x : extra) out.push_back(x);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void write_all(int fd, const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

bool owner_alive(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return false;
  const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
  return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

std::unique_ptr<LabSetup> LabSetup::create(std::string* error) {
  const std::string cgroot = cgroup2_mount();
  remove_stale(cgroot);
  std::unique_ptr<LabSetup> s(new LabSetup());
  std::string name = "/tmp/ringside-lab-" + std::to_string(getpid()) + "-XXXXXX";
  char* tmpl = name.data();
  if (mkdtemp(tmpl) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return nullptr;
  }
  if (mount("tmpfs", tmpl, "tmpfs", 0, "size=64m,mode=0755") != 0) {
    *error = std::string("mount tmpfs on ") + tmpl + ": " + std::strerror(errno);
    rmdir(tmpl);
    return nullptr;
  }
  s->scratch_ = tmpl;
  if (cgroot.empty()) {
    *error = "no cgroup2 hierarchy mounted (the network scenarios need a child cgroup)";
    return nullptr;
  }
  s->cgroup_ = cgroot + "/ringside-lab-" + std::to_string(getpid());
  if (mkdir(s->cgroup_.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = "mkdir " + s->cgroup_ + ": " + std::strerror(errno);
    s->cgroup_.clear();
    return nullptr;
  }
  return s;
}

LabSetup::~LabSetup() {
  if (!scratch_.empty()) {
    if (umount2(scratch_.c_str(), 0) != 0) umount2(scratch_.c_str(), MNT_DETACH);
    rmdir(scratch_.c_str());
  }
  // The steps that joined it have exited (each is waited for); retry briefly for the kernel to
  // notice.
  for (int i = 0; i < 50 && !cgroup_.empty(); ++i) {
    if (rmdir(cgroup_.c_str()) == 0 || errno == ENOENT) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::unique_ptr<LabAgent> LabAgent::start(const Options& o, std::string* error) {
  std::unique_ptr<LabAgent> a(new LabAgent());
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  const std::string policy = o.dir + "/policy.yaml";
  std::ofstream(policy) << o.policy_yaml;
  a->jsonl_ = o.dir + "/events.jsonl";
  a->socket_ = o.dir + "/hook.sock";
  a->log_ = o.dir + "/agent.log";
  a->ready_ = o.dir + "/ready.json";
  for (const auto& f : {a->jsonl_, a->socket_, a->ready_}) std::filesystem::remove(f, ec);
  std::vector<std::string> args = {o.bin_dir + "/ringside",
                                   "run",
                                   "--policy",
                                   policy,
                                   "--levels",
                                   o.levels,
                                   "--domains",
                                   o.domains,
                                   "--jsonl",
                                   a->jsonl_,
                                   "--ready-file",
                                   a->ready_,
                                   "--hook-socket",
                                   a->socket_,
                                   "--quiet",
                                   "--stats-file",
                                   o.dir + "/stats.json"};
  auto argv = pointers(args);
  std::vector<std::string> env_store = child_env({});
  auto envp = pointers(env_store);
  const int log_fd = open(a->log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) {
    if (o.own_netns && (unshare(CLONE_NEWNET) != 0 || !loopback_up())) {
      write_all(log_fd, "lab: cannot create the network namespace\n");
      _exit(120);
    }
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(log_fd, 2);
    execve(argv[0], argv.data(), envp.data());
    write_all(2, "lab: cannot exec ringside\n");
    _exit(121);
  }
  close(log_fd);
  close(null_fd);
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return nullptr;
  }
  a->pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::milliseconds(o.ready_timeout_ms);
  while (Clock::now() < deadline) {
    struct stat st {};
    if (stat(a->ready_.c_str(), &st) == 0) return a;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      a->pid_ = 0;
      *error = "the agent exited before it was ready: " + a->log_tail();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "the agent was not ready within " + std::to_string(o.ready_timeout_ms / 1000) +
           " s: " + a->log_tail();
  return nullptr;
}

LabAgent::~LabAgent() { stop(); }

std::string LabAgent::log_tail(size_t max_bytes) const {
  const std::string log = slurp(log_);
  return log.size() > max_bytes ? log.substr(log.size() - max_bytes) : log;
}

std::vector<nlohmann::json> LabAgent::events(size_t* bad_lines) const {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(jsonl_));
  std::string line;
  size_t bad = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ++bad;  // the last line may still be being written
      continue;
    }
    out.push_back(std::move(j));
  }
  if (bad_lines != nullptr) *bad_lines = bad;
  return out;
}

int LabAgent::stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return -SIGKILL;
}

void parse_step_output(const std::string& out, StepResult& r) {
  std::istringstream in(out);
  std::string tok;
  while (in >> tok) {
    const size_t eq = tok.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = tok.substr(0, eq);
    long value = 0;
    try {
      value = std::stol(tok.substr(eq + 1));
    } catch (const std::exception&) {
      continue;
    }
    if (key == "rc") {
      r.rc = value;
      r.printed = true;
    } else if (key == "errno") {
      r.err = static_cast<int>(value);
    } else if (key == "child") {
      r.child = static_cast<pid_t>(value);
    } else if (key == "signal") {
      r.term_signal = static_cast<int>(value);
    }
  }
}

StepResult run_step(const Scenario& s, const StepContext& ctx) {
  if (s.pty) return run_pty_step(s, ctx);
  StepResult r;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  std::vector<std::string> args = s.argv;
  auto argv = pointers(args);
  std::vector<std::string> extra = ctx.env;
  extra.insert(extra.end(), s.env.begin(), s.env.end());
  std::vector<std::string> env_store = child_env(extra);
  auto envp = pointers(env_store);
  const std::string procs = ctx.cgroup + "/cgroup.procs";
  const int netns_fd = s.in_netns ? open(ctx.netns.c_str(), O_RDONLY | O_CLOEXEC) : -1;
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    if (s.in_netns) {
      if (netns_fd < 0 || setns(netns_fd, CLONE_NEWNET) != 0) _exit(122);
      const int cg = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (cg < 0 || write(cg, "0", 1) != 1) _exit(123);
      close(cg);
    }
    if (s.private_resolv) {
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          mount(ctx.resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
        _exit(124);
      }
    }
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(null_fd, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(125);
  }
  close(out[1]);
  if (netns_fd >= 0) close(netns_fd);
  close(null_fd);
  if (pid < 0) {
    close(out[0]);
    return r;
  }
  r.started = true;
  r.pid = pid;
  const auto deadline = t0 + std::chrono::milliseconds(ctx.timeout_ms);
  pollfd pfd{out[0], POLLIN, 0};
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    char buf[512];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  parse_step_output(r.out, r);
  return r;
}

}  // namespace ringside::lab
