#include "lab/peers.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "lab/peer_setup.hpp"

extern char** environ;  // NOLINT: peers inherit the lab's environment

namespace ringside::lab {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kAuditKey = "ringside-lab";
constexpr const char* kSnoopyLib = "/lib/x86_64-linux-gnu/libsnoopy.so";
constexpr const char* kSnoopyIni = "/etc/snoopy.ini";
// Survives a crashed lab (the run directory may be gone): put back at the next start.
constexpr const char* kSnoopyIniSaved = "/var/tmp/ringside-lab-snoopy.ini.saved";

std::string audit_status_value(const std::string& key) {
  const auto st = run_command({"auditctl", "-s"}, 10s).out;
  const size_t p = st.find(key + " ");
  if (p == std::string::npos) return "";
  const size_t b = p + key.size() + 1;
  return st.substr(b, st.find('\n', b) - b);
}

class AuditdPeer final : public Peer {
 public:
  ~AuditdPeer() override { stop(); }
  std::string name() const override { return "auditd"; }
  std::string unavailable_reason() const override {
    if (access("/sbin/auditd", X_OK) != 0 || access("/sbin/auditctl", X_OK) != 0) {
      return "auditd is not installed (package auditd)";
    }
    const std::string pid = audit_status_value("pid");
    if (!pid.empty() && pid != "0") {
      return "an audit daemon (pid " + pid +
             ") already runs on this host; the lab does not "
             "take its place";
    }
    return "";
  }
  Result<void> start(const PeerEnv& env) override {
    dir_ = env.work_dir + "/auditd";
    std::filesystem::create_directories(dir_ + "/plugins.d");
    log_ = dir_ + "/audit.log";
    const std::string conf =
        "local_events = yes\nwrite_logs = yes\nlog_file = " + log_ +
        "\nlog_group = root\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\nfreq = 50\n"
        "max_log_file = 256\nnum_logs = 1\nmax_log_file_action = IGNORE\nspace_left = 2\n"
        "space_left_action = IGNORE\nadmin_space_left = 1\nadmin_space_left_action = IGNORE\n"
        "disk_full_action = IGNORE\ndisk_error_action = IGNORE\nq_depth = 2000\n"
        "overflow_action = IGNORE\nmax_restarts = 0\nplugin_dir = " +
        dir_ + "/plugins.d\nend_of_event_timeout = 2\n";
    if (!write_text(dir_ + "/auditd.conf", conf, 0640)) return Error{"auditd: cannot write config"};
    enabled_before_ = audit_status_value("enabled");
    backlog_before_ = audit_status_value("backlog_limit");
    auto pid = spawn_logged({"/sbin/auditd", "-n", "-c", dir_}, dir_ + "/auditd.out");
    if (!pid) return std::move(pid).error();
    pid_ = *pid;
    const auto deadline = Clock::now() + 5s;
    while (audit_status_value("pid") != std::to_string(pid_)) {
      if (Clock::now() > deadline || exited(pid_)) {
        pid_ = 0;
        stop();
        return Error{"auditd did not register with the kernel: " + read_all(dir_ + "/auditd.out")};
      }
      std::this_thread::sleep_for(20ms);
    }
    started_ = true;
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"auditctl", "-b", "8192"},
          {"auditctl", "-e", "1"},
          {"auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-k",
           kAuditKey},
          {"auditctl", "-w", env.scratch, "-p", "rwxa", "-k", kAuditKey}}) {
      const auto r = run_command(cmd, 10s);
      if (r.status != 0) {
        stop();
        return Error{"auditd: " + cmd[1] + " failed: " + r.out};
      }
    }
    return ok();
  }
  pid_t pid() const override { return pid_; }
  std::string stop() override {
    if (!started_ && pid_ == 0) return "";
    if (started_) {
      (void)run_command({"auditctl", "-D", "-k", kAuditKey}, 10s);
      if (!enabled_before_.empty()) (void)run_command({"auditctl", "-e", enabled_before_}, 10s);
      if (!backlog_before_.empty()) (void)run_command({"auditctl", "-b", backlog_before_}, 10s);
    }
    stop_pid(pid_);
    started_ = false;
    return read_all(log_);
  }

 private:
  std::string dir_, log_, enabled_before_, backlog_before_;
  pid_t pid_ = 0;
  bool started_ = false;
};

void restore_snoopy_ini() {
  if (access(kSnoopyIniSaved, F_OK) != 0) return;
  const std::string saved = read_all(kSnoopyIniSaved);
  if (write_text(kSnoopyIni, saved, 0644)) unlink(kSnoopyIniSaved);
}

class SnoopyPeer final : public Peer {
 public:
  ~SnoopyPeer() override { stop(); }
  std::string name() const override { return "snoopy"; }
  std::string unavailable_reason() const override {
    if (access(kSnoopyLib, R_OK) != 0) return "snoopy is not installed (package snoopy)";
    return "";
  }
  Result<void> start(const PeerEnv& env) override {
    restore_snoopy_ini();  // a crashed lab's change
    log_ = env.work_dir + "/snoopy.log";
    if (!write_text(kSnoopyIniSaved, read_all(kSnoopyIni), 0600)) {
      return Error{"snoopy: cannot save " + std::string(kSnoopyIni)};
    }
    active_ = true;
    if (!write_text(kSnoopyIni, "[snoopy]\noutput = file:" + log_ + "\n", 0644)) {
      stop();
      return Error{"snoopy: cannot write " + std::string(kSnoopyIni)};
    }
    return ok();
  }
  std::vector<std::string> process_env() const override {
    return {"LD_PRELOAD=" + std::string(kSnoopyLib)};
  }
  std::string stop() override {
    if (!active_) return "";
    restore_snoopy_ini();
    active_ = false;
    return read_all(log_);
  }

 private:
  std::string log_;
  bool active_ = false;
};

class FatracePeer final : public Peer {
 public:
  ~FatracePeer() override { stop(); }
  std::string name() const override { return "fatrace"; }
  std::string unavailable_reason() const override {
    if (access("/usr/sbin/fatrace", X_OK) != 0) return "fatrace is not installed (package fatrace)";
    return "";
  }
  Result<void> start(const PeerEnv& env) override {
    log_ = env.work_dir + "/fatrace.log";
    // -c: the mount of the working directory only, the lab's scratch mount.
    auto pid = spawn_logged({"/usr/sbin/fatrace", "-c", "-t"}, log_, env.scratch);
    if (!pid) return std::move(pid).error();
    pid_ = *pid;
    // fatrace has no readiness signal: it marks the mount right after start.
    std::this_thread::sleep_for(300ms);
    if (exited(pid_)) {
      pid_ = 0;
      return Error{"fatrace exited: " + read_all(log_)};
    }
    return ok();
  }
  pid_t pid() const override { return pid_; }
  std::string stop() override {
    if (pid_ == 0) return "";
    stop_pid(pid_, SIGINT);  // fatrace flushes its output on SIGINT
    return read_all(log_);
  }

 private:
  std::string log_;
  pid_t pid_ = 0;
};

}  // namespace

std::unique_ptr<Peer> make_auditd_peer() { return std::make_unique<AuditdPeer>(); }
std::unique_ptr<Peer> make_snoopy_peer() { return std::make_unique<SnoopyPeer>(); }
std::unique_ptr<Peer> make_fatrace_peer() { return std::make_unique<FatracePeer>(); }

std::unique_ptr<Peer> make_peer(const std::string& name, const std::string& run_id,
                                const std::string& bin_dir, bool for_overhead) {
  if (name == "auditd") return make_auditd_peer();
  if (name == "snoopy") return make_snoopy_peer();
  if (name == "fatrace") return make_fatrace_peer();
  if (name == "fapolicyd") return make_fapolicyd_peer(run_id);
  if (name == "opensnitch") return make_opensnitch_peer(run_id, bin_dir, !for_overhead);
  return nullptr;
}

std::vector<PeerStep> default_peer_steps(const LabEnv& env) {
  std::vector<PeerStep> steps;
  for (const auto& list : {process_scenarios(env), file_scenarios(env)}) {
    for (const Scenario& sc : list) {
      PeerStep st{sc.id, sc.marker, {}, sc.argv, sc.env, sc.prepare};
      for (const auto& c : sc.identify) {
        if (c.field == "process.executable") st.also = c.any_of;
      }
      steps.push_back(std::move(st));
    }
  }
  const std::string file_marker = "rs-peer-" + env.run_id + "-file_create";
  steps.push_back({"file.create",
                   file_marker,
                   {},
                   {"/bin/sh", "-c", ": > \"$RS_PEER_TARGET\""},
                   {"RS_PEER_TARGET=" + env.scratch + "/" + file_marker},
                   [] { return std::string(); }});
  return steps;
}

PeerResult run_peer(Peer& peer, const PeerEnv& env, const std::vector<PeerStep>& steps) {
  PeerResult res;
  res.name = peer.name();
  res.reason = peer.unavailable_reason();
  if (!res.reason.empty()) return res;
  // The common steps' files are made before the peer watches.
  std::vector<std::string> prepared(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].prepare) prepared[i] = steps[i].prepare();
  }
  if (auto r = peer.start(env); !r) {
    res.reason = "could not start: " + r.error().message;
    return res;
  }
  res.available = true;
  const std::vector<PeerStep> own = peer.own_steps();
  const std::vector<PeerStep>& run = own.empty() ? steps : own;
  for (size_t i = 0; i < run.size(); ++i) {
    const PeerStep& s = run[i];
    PeerStepResult sr;
    sr.id = s.id;
    if (!own.empty() && s.prepare) {
      sr.detail = s.prepare();
    } else if (own.empty()) {
      sr.detail = prepared[i];
    }
    if (sr.detail.empty()) {
      std::vector<std::string> cmd = {"env"};
      for (const auto& e : peer.process_env()) cmd.push_back(e);
      for (const auto& e : s.env) cmd.push_back(e);
      cmd.insert(cmd.end(), s.argv.begin(), s.argv.end());
      const auto r = run_command(cmd, 10s);
      sr.ran = r.status == 0;
      if (r.timed_out) {
        sr.detail = "did not finish within 10 s (killed): " + r.out;
      } else if (!sr.ran) {
        sr.detail = "exit status " + std::to_string(r.status) + ": " + r.out;
      }
    }
    res.steps.push_back(std::move(sr));
  }
  std::this_thread::sleep_for(200ms);  // peers that write asynchronously (auditd) catch up
  const std::string log = peer.stop();
  for (size_t i = 0; i < run.size(); ++i) {
    res.steps[i].saw = peer.saw(log, run[i]);
    res.steps[i].blocked = peer.blocked(log, run[i]);
  }
  return res;
}

std::vector<PeerResult> run_peers(const PeerEnv& env, const std::string& run_id,
                                  const std::vector<PeerStep>& steps,
                                  const std::function<void(const std::string&)>& progress) {
  std::vector<PeerResult> out;
  for (const char* name : kPeerNames) {
    if (progress) progress("peers: " + std::string(name));
    const std::unique_ptr<Peer> p = make_peer(name, run_id, env.bin_dir, false);
    out.push_back(run_peer(*p, env, steps));
  }
  return out;
}

}  // namespace ringside::lab
