// fapolicyd as a lab peer (lab/peers.hpp): exec control with permission events, contained to
// a ramfs the lab mounts. fapolicyd reads its configuration only from /etc/fapolicyd, so the
// lab puts its own there while it runs and puts the host's back on every path.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "lab/peer_setup.hpp"
#include "lab/peers.hpp"
#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kEtc = "/etc/fapolicyd";
constexpr const char* kVarLib = "/var/lib/fapolicyd";
// The host's configuration while the lab's is in place (outside the run directory, so that a
// crashed lab's change is undone by the next start).
constexpr const char* kSaved = "/var/tmp/ringside-lab-fapolicyd.saved";

bool ramfs_in_use() { return read_all("/proc/mounts").find(" ramfs ") != std::string::npos; }

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

// Puts a saved /etc/fapolicyd back: every file the save has, and nothing else.
void restore_config() {
  std::error_code ec;
  if (!fs::exists(kSaved, ec)) return;
  fs::remove_all(kEtc, ec);
  fs::copy(kSaved, kEtc, fs::copy_options::recursive, ec);
  if (!ec) fs::remove_all(kSaved, ec);
}

class FapolicydPeer final : public Peer {
 public:
  explicit FapolicydPeer(std::string run_id) : run_id_(std::move(run_id)) {}
  ~FapolicydPeer() override { stop(); }
  std::string name() const override { return "fapolicyd"; }
  std::string unavailable_reason() const override {
    if (access("/usr/sbin/fapolicyd", X_OK) != 0) {
      return "fapolicyd is not installed (package fapolicyd)";
    }
    if (auto running = already_running("fapolicyd"); !running.empty()) return running;
    if (ramfs_in_use()) {
      return "a ramfs is mounted on this host: fapolicyd's watch_fs could not be limited to the "
             "lab's own mount";
    }
    return "";
  }
  Result<void> start(const PeerEnv& env) override {
    restore_config();  // a crashed lab's
    mnt_ = env.work_dir + "/fapolicyd-mnt";
    log_ = env.work_dir + "/fapolicyd.log";
    fs::create_directories(mnt_);
    if (mount("ramfs", mnt_.c_str(), "ramfs", 0, "mode=0755") != 0) {
      return Error{"fapolicyd: mount ramfs: " + errno_text(errno)};
    }
    mounted_ = true;
    var_lib_before_ = entries(kVarLib);
    std::error_code ec;
    fs::copy(kEtc, kSaved, fs::copy_options::recursive, ec);
    if (ec) {
      stop();
      return Error{"fapolicyd: cannot save " + std::string(kEtc) + ": " + ec.message()};
    }
    config_replaced_ = true;
    const std::string ok_marker = "rs-peer-" + run_id_ + "-fapolicyd_exec";
    const std::string deny_marker = "rs-peer-" + run_id_ + "-fapolicyd_deny";
    // uid root: this host refuses fapolicyd's switch to its own user.
    const std::string conf =
        "permissive = 0\nnice_val = 0\nq_size = 640\nuid = root\ngid = root\n"
        "do_stat_report = 0\ndetailed_report = 0\ndb_max_size = 8\nsubj_cache_size = 1549\n"
        "obj_cache_size = 8191\nwatch_fs = ramfs\ntrust = file\nintegrity = none\n"
        "syslog_format = rule,dec,perm,auid,pid,exe,:,path,ftype,trust\n"
        "rpm_sha256_only = 0\nallow_filesystem_mark = 0\n";
    const std::string rules = "deny_audit perm=execute all : path=" + mnt_ + "/" + deny_marker +
                              "\nallow perm=any all : all\n";
    if (!write_text(std::string(kEtc) + "/fapolicyd.conf", conf, 0644) ||
        !write_text(std::string(kEtc) + "/compiled.rules", rules, 0644)) {
      stop();
      return Error{"fapolicyd: cannot write its configuration"};
    }
    steps_.clear();
    for (const auto& [id, marker] :
         {std::pair{std::string("process.dynamic_exec"), ok_marker},
          std::pair{std::string("process.dynamic_exec.denied"), deny_marker}}) {
      const std::string program = mnt_ + "/" + marker;
      steps_.push_back(
          {id, marker, {}, {"/bin/sh", "-c", "exec \"$0\" \"$1\"", program, marker}, {}, [program] {
             return copy_file("/bin/true", program, 0755);
           }});
    }
    // The exec workload's program for its overhead runs (the only executions it decides on).
    if (auto e = copy_file("/bin/true", mnt_ + "/true", 0755); !e.empty()) {
      stop();
      return Error{"fapolicyd: " + e};
    }
    auto pid = spawn_logged({"/usr/sbin/fapolicyd", "--debug"}, log_);
    if (!pid) {
      stop();
      return std::move(pid).error();
    }
    pid_ = *pid;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (read_all(log_).find("Starting to listen for events") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline || exited(pid_)) {
        const std::string out = read_all(log_);
        stop();
        return Error{"fapolicyd did not start listening: " + out.substr(0, 1000)};
      }
      std::this_thread::sleep_for(20ms);
    }
    // Its marks must be on the lab's mount only.
    const std::string out = read_all(log_);
    size_t added = 0;
    for (size_t p = out.find("mount point"); p != std::string::npos;
         p = out.find("mount point", p + 1)) {
      ++added;
    }
    if (added != 1 || out.find("added " + mnt_ + " mount point") == std::string::npos) {
      stop();
      return Error{"fapolicyd watched other mounts than the lab's; stopped"};
    }
    return ok();
  }
  pid_t pid() const override { return pid_; }
  std::vector<PeerStep> own_steps() const override { return steps_; }
  bool blocked(const std::string& log, const PeerStep& step) const override {
    for (size_t p = log.find(step.marker); p != std::string::npos;
         p = log.find(step.marker, p + 1)) {
      const size_t line = log.rfind('\n', p);
      const std::string text = log.substr(line == std::string::npos ? 0 : line, p - line);
      if (text.find("dec=deny") != std::string::npos) return true;
    }
    return false;
  }
  std::string stop() override {
    stop_pid(pid_, 15, 5s);
    if (config_replaced_) {
      restore_config();
      config_replaced_ = false;
    }
    if (mounted_) {
      if (umount2(mnt_.c_str(), 0) != 0) umount2(mnt_.c_str(), MNT_DETACH);
      mounted_ = false;
      std::error_code ec;
      fs::remove(mnt_, ec);
      // Its trust database, created by this run.
      for (const auto& e : entries(kVarLib)) {
        if (var_lib_before_.count(e) == 0) fs::remove_all(std::string(kVarLib) + "/" + e, ec);
      }
    }
    return read_all(log_);
  }

 private:
  std::string run_id_, mnt_, log_;
  std::set<std::string> var_lib_before_;
  std::vector<PeerStep> steps_;
  pid_t pid_ = 0;
  bool mounted_ = false;
  bool config_replaced_ = false;
};

}  // namespace

std::string fapolicyd_exec_program(const PeerEnv& env) {
  return env.work_dir + "/fapolicyd-mnt/true";
}

std::unique_ptr<Peer> make_fapolicyd_peer(const std::string& run_id) {
  return std::make_unique<FapolicydPeer>(run_id);
}

}  // namespace ringside::lab
