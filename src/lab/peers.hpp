// The peers side by side (docs/lab.md): tools people would otherwise pick, run on the same
// operations in the same lab run. Each runs only in a contained way:
//
//   auditd     its own auditd (-n, a config in the lab's directory: log there, every
//              disk/space action IGNORE) with an execve rule and a -w watch on the lab's
//              scratch mount, all keyed ringside-lab and removed afterwards; audit enabled
//              and backlog limit put back as they were
//   snoopy     libsnoopy.so preloaded into the scenario's process only (LD_PRELOAD), never
//              /etc/ld.so.preload; /etc/snoopy.ini points at the lab's log while it runs and
//              is restored (a copy outside the run directory survives a crash)
//   fatrace    fanotify notification marks (no permission events) on the scratch mount only
//   fapolicyd  its configuration put in /etc/fapolicyd while it runs (saved and restored; a
//              copy outside the run directory survives a crash): watch_fs limited to ramfs,
//              a filesystem type nothing else on this host uses (checked), on a ramfs the lab
//              mounts; trust from its file backend only; one deny rule naming a file on that
//              mount; started and stopped by pid
//   opensnitch opensnitchd in a network namespace of its own (`ip netns add`), where its NFQUEUE
//              rules, its queue and the network steps live; rules from the lab's directory
//              rejecting the steps' ports and names; the namespace deleted afterwards
//
// Every process a peer starts is stopped by pid with a bounded wait (SIGTERM, then SIGKILL)
// on every path.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "lab/scenario.hpp"

namespace ringside::lab {

// One operation shown to the peers: run argv (with env) and look for the marker in what the
// peer logged.
struct PeerStep {
  std::string id;  // the scenario, e.g. process.dynamic_exec
  std::string marker;
  std::vector<std::string> also;  // other texts naming the operation in a log (an exec's path)
  std::vector<std::string> argv;
  std::vector<std::string> env;          // extra "K=V"
  std::function<std::string()> prepare;  // "" or an error text
};

struct PeerEnv {
  std::string work_dir;  // the peers' configs and logs (created by the caller)
  std::string scratch;   // the lab's scratch mount (tmpfs): watches and marks go there only
  std::string bin_dir;   // the lab's step programs (network peers run the network battery)
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;
  // Why it cannot run here; empty when it can. Must be true of this host.
  virtual std::string unavailable_reason() const = 0;
  // Starts observing (returns once it does).
  virtual Result<void> start(const PeerEnv& env) = 0;
  // Environment for the observed process (snoopy: its preload).
  virtual std::vector<std::string> process_env() const { return {}; }
  // The process whose CPU and memory are the peer's cost (0: it runs inside the workload).
  virtual pid_t pid() const { return 0; }
  // Stops it (idempotent, bounded) and returns what it logged.
  virtual std::string stop() = 0;
  // Steps of its own (after start), run instead of the common ones; empty: the common ones.
  virtual std::vector<PeerStep> own_steps() const { return {}; }
  // Whether its log shows the step (default: the marker, or one of `also`, is in it).
  virtual bool saw(const std::string& log, const PeerStep& step) const {
    if (log.find(step.marker) != std::string::npos) return true;
    for (const auto& a : step.also) {
      if (log.find(a) != std::string::npos) return true;
    }
    return false;
  }
  // Whether its log says it blocked the step.
  virtual bool blocked(const std::string& /*log*/, const PeerStep& /*step*/) const { return false; }
};

std::unique_ptr<Peer> make_auditd_peer();
std::unique_ptr<Peer> make_snoopy_peer();
std::unique_ptr<Peer> make_fatrace_peer();
std::unique_ptr<Peer> make_fapolicyd_peer(const std::string& run_id);
// The copy of true on fapolicyd's mount while it runs (the exec workload's program).
std::string fapolicyd_exec_program(const PeerEnv& env);
// `debug`: its connection lines (needed to tell what it saw); off for the overhead runs.
std::unique_ptr<Peer> make_opensnitch_peer(const std::string& run_id, const std::string& bin_dir,
                                           bool debug = true);
// The network namespace opensnitch runs in while this process runs it (for the workload).
std::string opensnitch_netns_path();

// Every peer, in the order the lab runs them.
inline constexpr const char* kPeerNames[] = {"auditd", "snoopy", "fatrace", "fapolicyd",
                                             "opensnitch"};
// The peer called `name` (one of kPeerNames; nullptr for another name). `for_overhead`: as its
// overhead runs start it (opensnitch without its debug lines).
std::unique_ptr<Peer> make_peer(const std::string& name, const std::string& run_id,
                                const std::string& bin_dir, bool for_overhead);

struct PeerStepResult {
  std::string id;
  bool ran = false;  // the step ran and exited 0
  bool saw = false;  // the marker is in the peer's log
  bool blocked = false;
  std::string detail;
};

struct PeerResult {
  std::string name;
  bool available = false;
  std::string reason;  // when not available, or what went wrong
  std::vector<PeerStepResult> steps;
};

// The steps the exec and file peers are shown: the battery's process and file scenarios (same
// programs, markers and ids as ringside's cells; env.scratch is where their files go), and
// `file.create`, a file created under the scratch mount by a shell whose command line does not
// carry the path (it comes through the environment).
std::vector<PeerStep> default_peer_steps(const LabEnv& env);

// Prepares the steps (before the peer starts, so that it never sees the lab making a step's
// files; a peer's own steps after it started), starts `peer`, runs every step with its
// environment, stops it and looks for the markers.
PeerResult run_peer(Peer& peer, const PeerEnv& env, const std::vector<PeerStep>& steps);

// Every peer in order (auditd, snoopy, fatrace, fapolicyd, opensnitch).
std::vector<PeerResult> run_peers(const PeerEnv& env, const std::string& run_id,
                                  const std::vector<PeerStep>& steps,
                                  const std::function<void(const std::string&)>& progress);

}  // namespace ringside::lab
