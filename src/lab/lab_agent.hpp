// What the lab runner stands on: its scratch tmpfs and child cgroup (removed on every exit
// path, stale ones from a killed run removed first), the real agent started in a network
// namespace of its own, and the step programs started in that namespace and cgroup.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lab/scenario.hpp"

namespace ringside::lab {

class LabSetup {
 public:
  static std::unique_ptr<LabSetup> create(std::string* error);
  ~LabSetup();
  LabSetup(const LabSetup&) = delete;
  LabSetup& operator=(const LabSetup&) = delete;
  const std::string& scratch() const { return scratch_; }
  const std::string& cgroup() const { return cgroup_; }

 private:
  LabSetup() = default;
  std::string scratch_;
  std::string cgroup_;
};

// `ringside run` in a new network namespace (loopback up), with its files in `dir`.
class LabAgent {
 public:
  struct Options {
    std::string bin_dir;
    std::string dir;  // policy.yaml, events.jsonl, agent.log, ready.json, hook.sock
    std::string policy_yaml;
    std::string levels;  // kernel | user | kernel,user
    std::string domains = "process,file,network";
    bool own_netns = true;  // false: the host's (kernel audit answers only there)
    int ready_timeout_ms = 30000;
  };
  static std::unique_ptr<LabAgent> start(const Options& o, std::string* error);
  ~LabAgent();
  LabAgent(const LabAgent&) = delete;
  LabAgent& operator=(const LabAgent&) = delete;

  pid_t pid() const { return pid_; }
  std::string netns_path() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }
  const std::string& socket_path() const { return socket_; }
  const std::string& jsonl_path() const { return jsonl_; }
  std::string log_tail(size_t max_bytes = 2000) const;
  // Every event written so far (lines that do not parse are counted in `bad_lines`).
  std::vector<nlohmann::json> events(size_t* bad_lines = nullptr) const;
  // SIGTERM, then SIGKILL after `timeout_ms`; returns the exit status or -signal.
  int stop(int timeout_ms = 15000);

 private:
  LabAgent() = default;
  pid_t pid_ = 0;
  std::string socket_, jsonl_, log_, ready_;
};

struct StepContext {
  std::string netns;             // join this network namespace (in_netns scenarios)
  std::string cgroup;            // join this cgroup (in_netns scenarios)
  std::string resolv_conf;       // bound over /etc/resolv.conf (private_resolv scenarios)
  std::vector<std::string> env;  // extra KEY=VALUE (the interposer's, at the user level)
  int timeout_ms = 10000;
};

// Runs the scenario's program and parses its "rc=R errno=E pid=P [child=C] [signal=S]" line.
StepResult run_step(const Scenario& s, const StepContext& ctx);

// Whether `name` (prefix + "<pid>" + anything) belongs to a lab run that is still alive: what
// the lab names after its pid (mounts, cgroups, network namespaces) is left alone while it is.
bool owner_alive(const std::string& name, const std::string& prefix);

// A keyboard step on a fresh pty: runs argv, types s.pty_input into it, waits for the end.
StepResult run_pty_step(const Scenario& s, const StepContext& ctx);

// An Xvfb on a free display, stopped by pid when the object dies; display() is "" when it
// could not start (no Xvfb), with the reason in error().
class LabXvfb {
 public:
  LabXvfb();
  ~LabXvfb();
  LabXvfb(const LabXvfb&) = delete;
  LabXvfb& operator=(const LabXvfb&) = delete;
  const std::string& display() const { return display_; }
  const std::string& error() const { return error_; }

 private:
  pid_t pid_ = 0;
  std::string display_, error_;
};

// Parses a step's output line into `r` (rc, err, child; signal= sets term_signal).
void parse_step_output(const std::string& out, StepResult& r);

}  // namespace ringside::lab
