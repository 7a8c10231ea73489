#include "lab/peer_setup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

extern char** environ;  // NOLINT: commands inherit the lab's environment

namespace ringside::lab {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPolicyRcD = "/usr/sbin/policy-rc.d";
constexpr const char* kLdPreload = "/etc/ld.so.preload";

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The policy-rc.d apt runs while installing: ours (removed afterwards), or the host's when it
// already refuses every start (kept as it is), or the host's moved aside and put back.
class StartRefusal {
 public:
  Result<void> install() {
    if (access(kPolicyRcD, F_OK) == 0) {
      const auto r = run_command({kPolicyRcD, "auditd", "start"}, std::chrono::seconds(10));
      if (r.status == 101) return ok();  // the host's own refuses already
      saved_ = std::string(kPolicyRcD) + ".ringside-lab-saved";
      if (rename(kPolicyRcD, saved_.c_str()) != 0) {
        saved_.clear();
        return Error{"cannot move the host's policy-rc.d aside: " + errno_text(errno)};
      }
    }
    std::ofstream out(kPolicyRcD);
    out << "#!/bin/sh\n# ringside lab: no service starts while peer packages install\nexit 101\n";
    out.close();
    if (!out || chmod(kPolicyRcD, 0755) != 0)
      return Error{"cannot write " + std::string(kPolicyRcD)};
    ours_ = true;
    return ok();
  }
  ~StartRefusal() {
    if (ours_) unlink(kPolicyRcD);
    if (!saved_.empty()) rename(saved_.c_str(), kPolicyRcD);
  }

 private:
  bool ours_ = false;
  std::string saved_;
};

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& input) {
  CommandResult res;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return res;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return res;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  std::vector<std::string> args(argv);
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    res.out = "cannot run " + argv[0] + ": " + errno_text(rc);
    return res;
  }
  if (!input.empty()) (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      res.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 200)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const ssize_t got = read(out[0], buf, sizeof buf);
    if (got <= 0) break;
    if (res.out.size() < (1U << 20)) res.out.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_text(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return out.good() && chmod(path.c_str(), mode) == 0;
}

// Starts argv with standard output and error in `log`, in `cwd` when given.
Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log,
                           const std::string& cwd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<std::string> args(argv);
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Error{"cannot start " + argv[0] + ": " + errno_text(rc)};
  return pid;
}

bool exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

// SIGTERM (or `sig`), up to `grace`, then SIGKILL; always reaps.
void stop_pid(pid_t& pid, int sig, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  kill(pid, sig);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (exited(pid)) {
      pid = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  pid = 0;
}

const std::vector<std::string>& peer_packages() {
  static const std::vector<std::string> p = {"auditd", "snoopy", "fatrace", "fapolicyd",
                                             "opensnitch"};
  return p;
}

std::vector<std::string> missing_packages(const std::vector<std::string>& packages) {
  std::vector<std::string> missing;
  for (const auto& p : packages) {
    const auto r = run_command({"dpkg-query", "-W", "-f=${Status}", p}, std::chrono::seconds(20));
    if (r.status != 0 || r.out.find("install ok installed") == std::string::npos) {
      missing.push_back(p);
    }
  }
  return missing;
}

Result<void> install_peer_packages(const std::vector<std::string>& packages,
                                   const std::function<void(const std::string&)>& log) {
  const auto missing = missing_packages(packages);
  if (missing.empty()) return ok();
  if (geteuid() != 0) return Error{"installing peer packages needs root"};
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : " ") + m;
  log("peers: installing " + names + " (no service starts, nothing preloaded system-wide)");
  const auto preload_before = read_text(kLdPreload);
  auto seeded = run_command({"debconf-set-selections"}, std::chrono::seconds(30),
                            "snoopy snoopy/install-ld-preload boolean false\n");
  if (seeded.status != 0) return Error{"debconf-set-selections failed: " + seeded.out};
  CommandResult apt;
  {
    StartRefusal refusal;
    if (auto r = refusal.install(); !r) return r;
    std::vector<std::string> cmd = {
        "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install",
        "-y",  "--no-install-recommends",        "-o",      "Dpkg::Options::=--force-confold"};
    cmd.insert(cmd.end(), missing.begin(), missing.end());
    apt = run_command(cmd, std::chrono::minutes(10));
    if (apt.status != 0 && apt.out.find("Unable to locate") != std::string::npos) {
      (void)run_command({"apt-get", "update"}, std::chrono::minutes(5));
      apt = run_command(cmd, std::chrono::minutes(10));
    }
  }
  // The services stay off for systemd too (this host may not run it: errors are ignored).
  for (const char* unit : {"auditd.service", "fapolicyd.service", "opensnitch.service"}) {
    (void)run_command({"systemctl", "mask", unit}, std::chrono::seconds(20));
  }
  const auto preload_after = read_text(kLdPreload);
  if (preload_after != preload_before) {
    if (preload_before) {
      std::ofstream(kLdPreload) << *preload_before;
    } else {
      unlink(kLdPreload);
    }
    return Error{"the package installation changed /etc/ld.so.preload; restored"};
  }
  if (apt.status != 0) {
    const size_t tail = apt.out.size() > 2000 ? apt.out.size() - 2000 : 0;
    return Error{"apt-get install " + names + " failed (status " + std::to_string(apt.status) +
                 "): " + apt.out.substr(tail)};
  }
  return ok();
}

std::vector<pid_t> peer_processes() {
  static const std::vector<std::string> daemons = {"auditd", "fatrace", "fapolicyd", "opensnitchd"};
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code lec;
    const auto exe = std::filesystem::read_symlink(e.path() / "exe", lec);
    if (lec) continue;
    const std::string base = exe.filename().string();
    if (std::find(daemons.begin(), daemons.end(), base) != daemons.end()) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string already_running(const std::string& daemon) {
  for (pid_t p : peer_processes()) {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(p) + "/exe", ec);
    if (!ec && exe.filename() == daemon) {
      return daemon + " already runs on this host (pid " + std::to_string(p) + ")";
    }
  }
  return "";
}

HostState snapshot_host() {
  HostState s;
  if (auto t = read_text(kLdPreload)) {
    s.ld_preload_exists = true;
    s.ld_preload = *t;
  }
  s.audit_rules = run_command({"auditctl", "-l"}, std::chrono::seconds(10)).out;
  const auto st = run_command({"auditctl", "-s"}, std::chrono::seconds(10)).out;
  if (const size_t p = st.find("enabled "); p != std::string::npos) {
    s.audit_enabled = st.substr(p + 8, st.find('\n', p) - p - 8);
  }
  s.iptables = run_command({"iptables", "-w", "-S"}, std::chrono::seconds(10)).out +
               run_command({"ip6tables", "-w", "-S"}, std::chrono::seconds(10)).out;
  s.peer_processes = peer_processes();
  s.snoopy_ini = read_text("/etc/snoopy.ini").value_or("");
  return s;
}

std::vector<std::string> host_differences(const HostState& before, const HostState& after) {
  std::vector<std::string> d;
  if (before.ld_preload_exists != after.ld_preload_exists ||
      before.ld_preload != after.ld_preload) {
    d.push_back("/etc/ld.so.preload changed");
  }
  if (before.audit_rules != after.audit_rules)
    d.push_back("audit rules changed: " + after.audit_rules);
  if (before.audit_enabled != after.audit_enabled) {
    d.push_back("audit enabled changed from " + before.audit_enabled + " to " +
                after.audit_enabled);
  }
  if (before.iptables != after.iptables) d.push_back("root namespace iptables rules changed");
  for (pid_t p : after.peer_processes) {
    if (std::find(before.peer_processes.begin(), before.peer_processes.end(), p) ==
        before.peer_processes.end()) {
      d.push_back("peer process " + std::to_string(p) + " left running");
    }
  }
  if (before.snoopy_ini != after.snoopy_ini) d.push_back("/etc/snoopy.ini changed");
  return d;
}

}  // namespace ringside::lab
