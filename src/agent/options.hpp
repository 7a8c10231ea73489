// What `ringside run` was asked to do.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "sensors/sensor.hpp"
#include "sinks/export_sinks.hpp"

namespace ringside {

namespace policy {
class Policy;
}

struct AgentOptions {
  std::string policy_path = "policy/default.yaml";
  bool kernel_level = true;
  bool user_level = true;
  std::set<Domain> domains{Domain::kProcess};
  std::string jsonl_path;  // empty: none; "-": standard output
  std::string db_path;
  std::string ready_file;
  std::string stats_file;       // counters as JSON, rewritten every second (if changed) and at stop
  bool console = true;          // human-readable lines on standard output
  bool force_fallback = false;  // use the proc connector instead of eBPF for processes
  std::string hook_socket = "/run/ringside/hook.sock";
  // What must outlive the agent and a reboot (files it made immutable).
  std::string state_dir = "/var/lib/ringside";
  size_t queue_capacity = 1 << 16;
  size_t ring_bytes = 0;      // eBPF rings, proc connector socket, fanotify buffer; 0: defaults
  int64_t sink_delay_us = 0;  // > 0: a sink that takes this long per event (loss tests)
  std::string agent_binary;   // /proc/self/exe, for "never decide on our own files"
  ExportOptions exports;      // --syslog, --kafka, --db retention (db_path above wins)
  std::string metrics_addr;   // --metrics 127.0.0.1:PORT; empty: no endpoint
  // Fault injection (--fault-stop-sensor, --fault-after-ms): this sensor is stopped that long
  // after the start while the agent still counts it live, as a sensor that silently went
  // blind would be (the canary heartbeat's test).
  std::string fault_stop_sensor;
  int64_t fault_after_ms = 0;
  // Called with the policy in force as the agent starts (before any sensor, and so before the
  // ready file) and after every reload.
  std::function<void(const policy::Policy&)> on_policy;
};

}  // namespace ringside
