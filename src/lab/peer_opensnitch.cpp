// opensnitch as a lab peer (lab/peers.hpp): a per-process application firewall that queues every
// new outgoing connection to itself through NFQUEUE rules it installs. Those rules would apply
// to the whole host, so the lab runs opensnitchd inside a network namespace of its own
// (`ip netns add`); its iptables rules, its queue and the lab's network steps all live there,
// and the namespace is deleted afterwards. It is shown the lab's network battery (the same
// programs and markers as ringside's cells) with one rule that rejects every step's port or
// host name, so a single run says what it saw and what it stopped.
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "lab/lab_agent.hpp"
#include "lab/peer_setup.hpp"
#include "lab/peers.hpp"
#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kDaemon = "/usr/bin/opensnitchd";
constexpr const char* kConfig = "/etc/opensnitchd/default-config.json";
// The daemon opens the log file its configuration names before it reads -log-file.
constexpr const char* kHostLog = "/var/log/opensnitchd.log";
constexpr const char* kNetnsPrefix = "rs-lab-osn-";
constexpr int kFirstPort = 40000;

bool is_port(const std::string& marker) {
  return !marker.empty() && marker.find_first_not_of("0123456789") == std::string::npos;
}

// Namespaces (and their /etc/netns files) of lab runs whose process is gone.
void remove_stale_namespaces() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kNetnsPrefix, 0) != 0 || owner_alive(name, kNetnsPrefix)) continue;
    (void)run_command({"ip", "netns", "del", name}, 10s);
    std::error_code rec;
    fs::remove_all("/etc/netns/" + name, rec);
  }
}

std::string regex_of(const std::vector<std::string>& values) {
  std::string r = "^(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) r += "|";
    for (char c : values[i]) {
      if (c == '.' || c == '-') r += '\\';
      r += c;
    }
  }
  return r + ")$";
}

std::string reject_rule(const std::string& name, const std::string& operand,
                        const std::string& regex) {
  // opensnitch's rule file format (one rule per file); JSON strings need `\\` for a backslash.
  std::string data;
  for (char c : regex) {
    if (c == '\\') data += '\\';
    data += c;
  }
  return "{\"created\":\"2026-01-01T00:00:00Z\",\"updated\":\"2026-01-01T00:00:00Z\",\"name\":\"" +
         name +
         "\",\"enabled\":true,\"precedence\":true,\"action\":\"reject\",\"duration\":\"always\","
         "\"operator\":{\"type\":\"regexp\",\"operand\":\"" +
         operand + "\",\"sensitive\":false,\"data\":\"" + data + "\",\"list\":[]}}\n";
}

// Whether a line of `log` that contains `needle` also contains each of `also`.
bool line_with(const std::string& log, const std::string& needle,
               const std::vector<std::string>& also) {
  for (size_t p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) {
    const size_t b = log.rfind('\n', p);
    const size_t e = log.find('\n', p);
    const std::string line = log.substr(b == std::string::npos ? 0 : b, e - b);
    bool all = true;
    for (const auto& a : also) all = all && line.find(a) != std::string::npos;
    if (all) return true;
  }
  return false;
}

class OpensnitchPeer final : public Peer {
 public:
  OpensnitchPeer(std::string run_id, std::string bin_dir, bool debug)
      : run_id_(std::move(run_id)), bin_dir_(std::move(bin_dir)), debug_(debug) {}
  ~OpensnitchPeer() override { stop(); }
  std::string name() const override { return "opensnitch"; }
  std::string unavailable_reason() const override {
    if (access(kDaemon, X_OK) != 0) return "opensnitch is not installed (package opensnitch)";
    if (access(kConfig, R_OK) != 0) return std::string(kConfig) + " is missing";
    if (bin_dir_.empty() || access((bin_dir_ + "/ringside-lab-step").c_str(), X_OK) != 0) {
      return "the lab's step program is not in " + bin_dir_;
    }
    return already_running("opensnitchd");
  }
  Result<void> start(const PeerEnv& env) override {
    remove_stale_namespaces();
    netns_ = kNetnsPrefix + std::to_string(getpid());
    dir_ = env.work_dir + "/opensnitch";
    log_ = dir_ + "/opensnitchd.log";
    fs::create_directories(dir_ + "/rules");
    std::error_code ec;
    host_log_existed_ = fs::exists(kHostLog, ec);
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", netns_}, {"ip", "-n", netns_, "link", "set", "lo", "up"}}) {
      const auto r = run_command(argv, 10s);
      if (r.status != 0) {
        stop();
        return Error{"opensnitch: " + argv[1] + " " + argv[2] + ": " + r.out};
      }
      netns_made_ = true;
    }
    // `ip netns exec` binds /etc/netns/NAME/resolv.conf over /etc/resolv.conf: the DNS steps'
    // names go to their own responder on 127.0.0.1.
    fs::create_directories("/etc/netns/" + netns_, ec);
    if (!write_text("/etc/netns/" + netns_ + "/resolv.conf", "nameserver 127.0.0.1\n", 0644)) {
      stop();
      return Error{"opensnitch: cannot write /etc/netns/" + netns_ + "/resolv.conf"};
    }
    LabEnv lab_env{run_id_, env.scratch, bin_dir_, "", kFirstPort};
    std::vector<std::string> ports, hosts;
    steps_.clear();
    for (const Scenario& s : network_scenarios(lab_env)) {
      std::vector<std::string> argv = {"ip", "netns", "exec", netns_};
      argv.insert(argv.end(), s.argv.begin(), s.argv.end());
      steps_.push_back({s.id, s.marker, {}, argv, {}, s.prepare});
      (is_port(s.marker) ? ports : hosts).push_back(s.marker);
    }
    if (!write_text(dir_ + "/rules/rs-lab-ports.json",
                    reject_rule("rs-lab-ports", "dest.port", regex_of(ports)), 0644) ||
        !write_text(dir_ + "/rules/rs-lab-hosts.json",
                    reject_rule("rs-lab-hosts", "dest.host", regex_of(hosts)), 0644)) {
      stop();
      return Error{"opensnitch: cannot write its rules"};
    }
    std::vector<std::string> argv = {"ip",
                                     "netns",
                                     "exec",
                                     netns_,
                                     kDaemon,
                                     "-rules-path",
                                     dir_ + "/rules",
                                     "-log-file",
                                     log_,
                                     "-process-monitor-method",
                                     "proc",
                                     "-ui-socket",
                                     "unix://" + dir_ + "/ui.sock",
                                     "-no-live-reload"};
    // Its connection lines are debug lines; the overhead runs measure it without them.
    argv.emplace_back(debug_ ? "-debug" : "-important");
    auto pid = spawn_logged(argv, dir_ + "/stdout.log");
    if (!pid) {
      stop();
      return std::move(pid).error();
    }
    pid_ = *pid;
    // Ready: the queue is bound (a debug log says so) and its rule sends new connections there
    // (without the debug lines, the rule alone, then a moment for the queue).
    auto ready = [this] {
      if (debug_ && read_all(log_).find("Running on netfilter queue") == std::string::npos) {
        return false;
      }
      return run_command(
                 {"ip", "netns", "exec", netns_, "iptables", "-t", "mangle", "-S", "OUTPUT"}, 10s)
                 .out.find("NFQUEUE") != std::string::npos;
    };
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline || exited(pid_)) {
        const std::string out = read_all(log_) + read_all(dir_ + "/stdout.log");
        stop();
        return Error{"opensnitchd did not start its queue: " + out.substr(0, 1000)};
      }
      std::this_thread::sleep_for(20ms);
    }
    if (!debug_) std::this_thread::sleep_for(300ms);
    return ok();
  }
  pid_t pid() const override { return pid_; }
  std::vector<PeerStep> own_steps() const override { return steps_; }
  // Its debug log has a "new connection ... -> IP:PORT uid: N" line for each connection it
  // was asked about; names appear where it parsed them from DNS answers.
  bool saw(const std::string& log, const PeerStep& step) const override {
    if (is_port(step.marker)) return line_with(log, ":" + step.marker + " uid", {"new connection"});
    return log.find(step.marker) != std::string::npos;
  }
  // A rejected connection is logged with a cross, the destination and the rule's name.
  bool blocked(const std::string& log, const PeerStep& step) const override {
    if (is_port(step.marker))
      return line_with(log, ":" + step.marker + " (rs-lab-ports", {"\u2718"});
    return line_with(log, step.marker, {"\u2718", "(rs-lab-hosts"});
  }
  std::string stop() override {
    stop_pid(pid_, 15, 5s);
    std::error_code ec;
    if (netns_made_) {
      (void)run_command({"ip", "netns", "del", netns_}, 10s);
      netns_made_ = false;
    }
    if (!netns_.empty()) fs::remove_all("/etc/netns/" + netns_, ec);
    // The log file the packaged configuration names, created by this run.
    if (!dir_.empty() && !host_log_existed_) fs::remove(kHostLog, ec);
    return strip_colours(read_all(log_));
  }

 private:
  static std::string strip_colours(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
        size_t j = i + 2;
        while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';')) {
          ++j;
        }
        if (j < s.size() && s[j] == 'm') {
          i = j;
          continue;
        }
      }
      out += s[i];
    }
    return out;
  }

  std::string run_id_, bin_dir_, netns_, dir_, log_;
  std::vector<PeerStep> steps_;
  bool debug_ = true;
  pid_t pid_ = 0;
  bool netns_made_ = false;
  bool host_log_existed_ = true;
};

}  // namespace

std::unique_ptr<Peer> make_opensnitch_peer(const std::string& run_id, const std::string& bin_dir,
                                           bool debug) {
  return std::make_unique<OpensnitchPeer>(run_id, bin_dir, debug);
}

std::string opensnitch_netns_path() {
  return "/run/netns/" + std::string(kNetnsPrefix) + std::to_string(getpid());
}

}  // namespace ringside::lab
