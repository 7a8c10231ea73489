// ringside run: the agent in the foreground.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "agent/agent.hpp"
#include "agent/capabilities.hpp"
#include "agent/supervisor.hpp"
#include "cli/commands.hpp"
#include "core/log.hpp"
#include "policy/policy.hpp"

namespace ringside::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct RunArgs {
  std::string policy = "policy/default.yaml";
  std::string levels = "kernel,user";
  std::string domains = "process";
  std::string jsonl;
  std::string db;
  std::string state_dir;
  std::string db_max_age;
  std::string db_max_size;
  std::string syslog;
  std::string kafka;
  std::string kafka_topic;
  std::vector<std::string> kafka_options;
  std::string metrics;
  std::string ready_file;
  std::string stats_file;
  std::string hook_socket;
  bool force_fallback = false;
  bool no_supervisor = false;
  std::string fault_stop_sensor;
  int64_t fault_after_ms = 0;
  size_t queue_capacity = 0;
  size_t ring_bytes = 0;
  int64_t sink_delay_us = 0;
  bool quiet = false;
  std::string log_level = "info";
};

int run_agent(const AgentOptions& o);

int run(const RunArgs& a) {
  AgentOptions o;
  o.policy_path = a.policy;
  o.kernel_level = o.user_level = false;
  for (const auto& l : split_list(a.levels)) {
    if (l == "kernel") {
      o.kernel_level = true;
    } else if (l == "user") {
      o.user_level = true;
    } else {
      std::cerr << "ringside run: unknown level '" << l << "' (kernel, user)\n";
      return 2;
    }
  }
  o.domains.clear();
  for (const auto& d : split_list(a.domains)) {
    if (d == "process") {
      o.domains.insert(Domain::kProcess);
    } else if (d == "file") {
      o.domains.insert(Domain::kFile);
    } else if (d == "network") {
      o.domains.insert(Domain::kNetwork);
    } else if (d == "keyboard") {
      o.domains.insert(Domain::kKeyboard);
    } else {
      std::cerr << "ringside run: unknown domain '" << d
                << "' (process, file, network, keyboard)\n";
      return 2;
    }
  }
  o.jsonl_path = a.jsonl;
  o.db_path = a.db;
  if (!a.db_max_age.empty()) {
    auto v = parse_duration_ns(a.db_max_age);
    if (!v) {
      std::cerr << "ringside run: --db-max-age: " << v.error().message << " (e.g. 30d, 12h)\n";
      return 2;
    }
    o.exports.db_max_age_ns = *v;
  }
  if (!a.db_max_size.empty()) {
    auto v = parse_size_bytes(a.db_max_size);
    if (!v) {
      std::cerr << "ringside run: --db-max-size: " << v.error().message << " (e.g. 512M, 2G)\n";
      return 2;
    }
    o.exports.db_max_bytes = *v;
  }
  o.exports.syslog_url = a.syslog;
  o.exports.kafka_brokers = a.kafka;
  o.exports.kafka_topic = a.kafka_topic;
  for (const auto& kv : a.kafka_options) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "ringside run: --kafka-option '" << kv << "' is not KEY=VALUE\n";
      return 2;
    }
    o.exports.kafka_config.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  o.metrics_addr = a.metrics;
  o.ready_file = a.ready_file;
  o.stats_file = a.stats_file;
  o.console = !a.quiet;
  o.force_fallback = a.force_fallback;
  o.fault_stop_sensor = a.fault_stop_sensor;
  o.fault_after_ms = a.fault_after_ms;
  if (a.queue_capacity != 0) o.queue_capacity = a.queue_capacity;
  o.ring_bytes = a.ring_bytes;
  if (!a.state_dir.empty()) o.state_dir = a.state_dir;
  o.sink_delay_us = a.sink_delay_us;
  if (!a.hook_socket.empty()) {
    o.hook_socket = a.hook_socket;
  } else if (const char* env = std::getenv("RINGSIDE_SOCKET"); env && *env) {  // NOLINT
    o.hook_socket = env;
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) o.agent_binary.assign(exe, static_cast<size_t>(n));

  log().set_level(spdlog::level::from_str(a.log_level));
  block_agent_signals();
  // Only the capabilities the sensors and sinks use, from here on, for the supervisor, the
  // agent and everything they start (docs/architecture.md, "Privileges").
  if (auto dropped = drop_unneeded_capabilities(); !dropped) {
    log().warn("{}; keeping the capabilities ringside was started with", dropped.error().message);
  } else {
    log().debug("capabilities dropped: {}", *dropped);
  }
  // Under systemd the service manager's watchdog supervises; otherwise our own supervisor does,
  // forked now, before any sensor holds a permission fd.
  const bool under_systemd = std::getenv("NOTIFY_SOCKET") != nullptr ||  // NOLINT
                             std::getenv("WATCHDOG_USEC") != nullptr;    // NOLINT
  if (a.no_supervisor || under_systemd) return run_agent(o);
  return run_supervised([&o](SupervisorLink& link) {
    AgentOptions supervised = o;
    supervised.on_policy = [&link](const policy::Policy& p) {
      link.set_settings(p.settings().supervisor.bound_ms, p.settings().supervisor.restart);
    };
    return run_agent(supervised);
  });
}

int run_agent(const AgentOptions& o) {
  auto agent = Agent::create(o);
  if (!agent) {
    std::cerr << agent.error().message << "\n";
    return agent.error().code == 2 ? 2 : 1;
  }
  auto started = (*agent)->start();
  if (!started) {
    std::cerr << "ringside run: " << started.error().message << "\n";
    return 1;
  }
  (*agent)->run_until_signal();
  (*agent)->stop();
  return 0;
}

}  // namespace

void add_run(CLI::App& app, int& status) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run the agent in the foreground until SIGINT/SIGTERM");
  cmd->add_option("--policy", args->policy, "Policy file")->capture_default_str();
  cmd->add_option("--levels", args->levels, "Comma-separated: kernel,user")->capture_default_str();
  cmd->add_option("--domains", args->domains, "Comma-separated: process,file,network,keyboard")
      ->capture_default_str();
  cmd->add_option("--jsonl", args->jsonl, "Write JSON lines to PATH, or - for standard output");
  cmd->add_option("--db", args->db, "Event store (SQLite), e.g. /var/lib/ringside/events.db");
  cmd->add_option("--state-dir", args->state_dir,
                  "Where the agent keeps what must outlive it (default /var/lib/ringside)");
  cmd->add_option("--db-max-age", args->db_max_age,
                  "Delete stored events older than this (e.g. 30d, 12h; default: keep)");
  cmd->add_option("--db-max-size", args->db_max_size,
                  "Delete the oldest stored events beyond this size (e.g. 512M, 2G)");
  cmd->add_option("--syslog", args->syslog,
                  "Send events as RFC 5424 syslog to tcp://HOST:PORT or udp://HOST:PORT");
  cmd->add_option("--kafka", args->kafka, "Send events to these Kafka brokers (host:port,...)");
  cmd->add_option("--kafka-topic", args->kafka_topic,
                  "One Kafka topic for every event (default: ringside.<category>)");
  cmd->add_option("--kafka-option", args->kafka_options,
                  "librdkafka setting KEY=VALUE (repeatable), e.g. message.timeout.ms=10000");
  cmd->add_option("--metrics", args->metrics,
                  "Serve Prometheus metrics on this loopback address, e.g. 127.0.0.1:9464");
  cmd->add_option("--ready-file", args->ready_file,
                  "Write the sensors' states as JSON here once every selected sensor is live");
  cmd->add_option("--stats-file", args->stats_file,
                  "Write counters (per sensor, queue, sinks) as JSON here every second (when one "
                  "changed) and at exit");
  cmd->add_option("--hook-socket", args->hook_socket,
                  "Interposer socket (default $RINGSIDE_SOCKET or /run/ringside/hook.sock)");
  cmd->add_flag("--force-fallback", args->force_fallback,
                "Use the proc connector instead of eBPF for process events");
  cmd->add_option("--fault-stop-sensor", args->fault_stop_sensor,
                  "Testing: stop this sensor --fault-after-ms after the start while it still "
                  "counts as live (the canary heartbeat must notice)");
  cmd->add_option("--fault-after-ms", args->fault_after_ms, "See --fault-stop-sensor")
      ->capture_default_str();
  cmd->add_option("--queue-capacity", args->queue_capacity,
                  "Events the queue to the sinks holds before it drops (default 65536)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  cmd->add_option("--ring-bytes", args->ring_bytes,
                  "Size of each eBPF sensor's ring buffer, of the proc connector's socket buffer "
                  "and of the fanotify file sensor's buffer: a power of two, at least 4096 "
                  "(default 8 MiB, file 16 MiB, proc connector 4 MiB, fanotify 16 MiB, at least "
                  "64 KiB; small sizes are for loss tests)")
      ->check([](const std::string& v) -> std::string {
        const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
        return n >= 4096 && (n & (n - 1)) == 0 ? "" : "must be a power of two, at least 4096";
      });
  cmd->add_option("--sink-delay-us", args->sink_delay_us,
                  "Testing: add a sink that takes this many microseconds per event (a slow sink)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  cmd->add_flag("--no-supervisor", args->no_supervisor,
                "No supervisor process (which kills and restarts an agent that stops responding)");
  cmd->add_flag("-q,--quiet", args->quiet, "No human-readable event lines on standard output");
  cmd->add_option("--log-level", args->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  cmd->callback([args, &status] { status = run(*args); });

  // The canary heartbeat's helper (agent/canary.hpp), started by the agent; not for people.
  auto helper = std::make_shared<std::vector<std::string>>();
  CLI::App* h = app.add_subcommand("canary-helper", "");
  h->group("");
  h->add_option("args", *helper)->expected(3)->required();
  h->callback([helper, &status] {
    const int port = std::atoi((*helper)[2].c_str());
    status = (port > 0 && port < 65536)
                 ? run_canary_helper((*helper)[0], (*helper)[1], static_cast<uint16_t>(port))
                 : 2;
  });
}

}  // namespace ringside::cli
