#include "lab/lab_costs.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "lab/overhead.hpp"
#include "lab/peer_setup.hpp"
#include "lab/peers.hpp"

namespace ringside::lab {

namespace {

// Where the cgroup v2 hierarchy is mounted; "" when it is not.
std::string cgroup2_dir() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2") return dir;
  }
  return "";
}

// A work directory under /tmp with a tmpfs scratch mount in it and a child cgroup; all removed
// on every path.
class CostSpace {
 public:
  CostSpace() {
    // Not "ringside-lab-<pid>": the scenario runner removes what looks like a dead run of its own.
    char tmpl[] = "/tmp/ringside-costs-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp: " + errno_text(errno);
      return;
    }
    dir_ = tmpl;
    scratch_ = dir_ + "/scratch";
    work_ = dir_ + "/work";
    std::filesystem::create_directories(scratch_);
    std::filesystem::create_directories(work_);
    if (mount("tmpfs", scratch_.c_str(), "tmpfs", 0, "size=256m,mode=0755") != 0) {
      error_ = "mount tmpfs: " + errno_text(errno);
      return;
    }
    mounted_ = true;
    std::filesystem::create_directories(scratch_ + "/overhead");
    const std::string root = cgroup2_dir();
    if (root.empty()) return;  // the network workload then stays in its own cgroup
    cgroup_ = root + "/ringside-costs-" + std::to_string(getpid());
    rmdir(cgroup_.c_str());
    if (mkdir(cgroup_.c_str(), 0755) != 0) cgroup_.clear();
  }
  ~CostSpace() {
    if (!cgroup_.empty()) rmdir(cgroup_.c_str());
    if (mounted_ && umount2(scratch_.c_str(), 0) != 0) umount2(scratch_.c_str(), MNT_DETACH);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  CostSpace(const CostSpace&) = delete;
  CostSpace& operator=(const CostSpace&) = delete;
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& scratch() const { return scratch_; }
  const std::string& work() const { return work_; }
  const std::string& cgroup() const { return cgroup_; }

 private:
  std::string dir_, scratch_, work_, cgroup_, error_;
  bool mounted_ = false;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

OverheadRow to_row(const OverheadMeasurement& m) {
  OverheadRow r;
  r.area = m.area;
  r.level_or_peer = m.mode;
  r.ratio = m.ratio;
  r.agent_cpu_us_per_op = m.agent_cpu_us_per_op;
  r.rss_mib = m.agent_rss_mib;
  r.noise_pct = m.noise_pct;
  r.note = std::to_string(m.ops) + " ops x " + std::to_string(m.pairs) + " pairs; wall " +
           fmt("%.2f", m.wall_us_per_op) + " us/op (none " + fmt("%.2f", m.base_wall_us_per_op) +
           "); workload CPU " + fmt("%.2f", m.workload_cpu_us_per_op) + " us/op (none " +
           fmt("%.2f", m.base_workload_cpu_us_per_op) + ")";
  if (m.events_per_run > 0) r.note += "; " + fmt("%.0f", m.events_per_run) + " events/run";
  if (!m.note.empty()) r.note += "; " + m.note;
  return r;
}

// The area whose workload a peer is measured on: what it observes.
std::string peer_area(const std::string& peer) {
  return peer == "fatrace" ? "file" : peer == "opensnitch" ? "network" : "process";
}

}  // namespace

void measure_costs(const CostOptions& o, LabReport& report) {
  auto progress = [&o](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  CostSpace space;
  if (!space.ok()) {
    report.errors.push_back("overhead and peers: " + space.error());
    return;
  }
  OverheadOptions base;
  base.ringside = o.bin_dir + "/ringside";
  base.preload_lib = o.bin_dir + "/libringside-preload.so";
  base.work_dir = space.scratch() + "/overhead";
  base.cgroup = space.cgroup();
  base.progress = progress;
  const OverheadOptions sized = o.quick ? quick_overhead_sizes(base) : full_overhead_sizes(base);

  std::vector<std::string> errors;
  if (o.overhead) {
    for (const auto& m : measure_overhead(sized, &errors)) report.overhead.push_back(to_row(m));
  }
  for (auto& e : errors) report.errors.push_back(std::move(e));
  if (o.overhead) {
    report.noise.push_back(
        "overhead: wall ratio = median over pairs of (mode / none) in the same round; noise = "
        "(max - min) / median of those ratios; agent CPU from every agent thread's schedstat");
  }
  if (!o.peers) return;

  // Peers.
  if (o.install_peers) {
    progress("peers: checking packages");
    // A package that could not be installed makes its peer unavailable, with the reason.
    if (auto r = install_peer_packages(peer_packages(), progress); !r) {
      report.noise.push_back("peers: installing packages failed: " + r.error().message);
    }
  }
  // Taken after the installation (which brings auditctl's state and /etc/snoopy.ini to a fresh
  // machine): what must come back as it was is the host the peers' runs found.
  const HostState before = snapshot_host();
  const PeerEnv env{space.work(), space.scratch(), o.bin_dir};
  const LabEnv lab_env{o.run_id, space.scratch(), o.bin_dir, "", 0};
  const auto results = run_peers(env, o.run_id, default_peer_steps(lab_env), progress);
  for (const auto& p : results) {
    PeerRow row;
    row.name = p.name;
    row.available = p.available;
    row.reason = p.reason;
    for (const auto& s : p.steps) row.scenarios.push_back({s.id, s.saw, s.blocked});
    report.peers.push_back(std::move(row));
  }
  // Their overhead on the workload of what they observe.
  for (const auto& p : results) {
    if (!p.available) continue;
    const std::unique_ptr<Peer> peer = make_peer(p.name, o.run_id, o.bin_dir, true);
    if (!peer) continue;
    Peer* raw = peer.get();
    Mode none{"none", {}, "", {}, "", {}, {}};
    Mode with{p.name, {}, "", raw->process_env(), "", {}, {}};
    // opensnitch's connects run in its namespace; without it, in a fresh one of their own.
    if (p.name == "opensnitch") {
      with.workload_env.push_back("RS_LAB_NETNS=" + opensnitch_netns_path());
    }
    // fapolicyd decides on executions from its own mount only: the workload runs the copy of
    // true there; without it, a copy on the scratch tmpfs.
    if (p.name == "fapolicyd") {
      with.workload_env.push_back("RS_LAB_EXEC=" + fapolicyd_exec_program(env));
      const std::string copy = space.scratch() + "/true";
      if (auto e = copy_file("/bin/true", copy, 0755); !e.empty()) {
        report.errors.push_back("peers: fapolicyd: " + e);
        continue;
      }
      none.workload_env.push_back("RS_LAB_EXEC=" + copy);
    }
    with.start = [raw, &env] {
      if (auto r = raw->start(env); !r) throw std::runtime_error(r.error().message);
      return raw->pid();
    };
    with.stop = [raw] { (void)raw->stop(); };
    const std::string area = peer_area(p.name);
    progress("peers: overhead of " + p.name + " (" + area + ")");
    auto m = measure_modes(sized, area, {none, with});
    if (!m) {
      report.errors.push_back("peers: " + p.name + ": " + m.error().message);
      continue;
    }
    for (const auto& x : *m) report.overhead.push_back(to_row(x));
  }
  const HostState after = snapshot_host();
  for (const auto& d : host_differences(before, after)) {
    report.errors.push_back("peers left the host changed: " + d);
  }
}

}  // namespace ringside::lab
