// The agent: the composition root that wires sensors -> enrichment -> policy -> actions ->
// sinks, and the SensorContext every sensor talks to.
//
//   sensor thread(s):  record -> Event -> decide() [enrich + policy] -> enforce -> emit()
//   sink thread:       EventQueue -> every Sink (JSONL, console, ...)
//
// Decisions are made on the sensor's own thread so that a blocked caller never waits behind
// the sinks; emit() never blocks (a full queue is counted and reported as a ringside.lost
// event).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/canary.hpp"
#include "agent/event_queue.hpp"
#include "agent/hash_cache.hpp"
#include "agent/loss_ledger.hpp"
#include "agent/options.hpp"
#include "agent/policy_watcher.hpp"
#include "agent/preload_env_watch.hpp"
#include "agent/process_table.hpp"
#include "agent/tamper_watch.hpp"
#include "core/lost_event.hpp"
#include "metrics/agent_metrics.hpp"
#include "sensors/sensor.hpp"
#include "sinks/sink.hpp"

namespace ringside {

struct SensorState {
  std::string name;
  std::string mechanism;
  Level level;
  Domain domain;
  std::string state;   // live | failed | unavailable | stopped
  std::string reason;  // why not live
};

class Agent final : public SensorContext {
 public:
  // Loads the policy and opens the sinks; sensors are chosen here too. Errors name the policy
  // file and position.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options);
  // For tests and the replay pipeline: explicit sensors and sinks, no probing.
  static Result<std::unique_ptr<Agent>> create_with(AgentOptions options,
                                                    std::shared_ptr<const policy::Policy> policy,
                                                    std::vector<std::unique_ptr<Sensor>> sensors,
                                                    std::vector<std::unique_ptr<Sink>> sinks);
  ~Agent() override;

  // Starts the sink thread and every sensor (with per-area fallback); writes the ready file.
  Result<void> start();
  // Blocks until SIGINT or SIGTERM; SIGHUP reloads the policy. Signals must already be
  // blocked in every thread (block_agent_signals() before create()).
  void run_until_signal();
  // Stops sensors (detaching everything), drains the queue and flushes every sink.
  void stop();
  // Re-reads the policy file; a broken file keeps the running policy and says why.
  Result<void> reload_policy();

  const std::vector<SensorState>& sensor_states() const { return states_; }
  std::string stats_json() const;

  // SensorContext
  policy::Decision decide(Event& ev) override;
  void emit(Event&& ev) override;
  void emit_all(EventBatch& batch) override;
  ProcessTable& processes() override { return processes_; }
  std::shared_ptr<const policy::Policy> policy() const override;
  bool is_agent_file(std::string_view path) const override;
  std::vector<std::string> agent_files() const override { return agent_files_; }
  std::optional<std::string> sha256_of(std::string_view path, const FileIdentity& id) override;

  // Fills fields a sensor did not have from the process table and the hash cache.
  void enrich(Event& ev);

 private:
  // The policy decide() uses: this thread's copy, refreshed when a policy was installed since
  // (no lock and no reference count per event, as policy() takes).
  const policy::Policy& policy_for_this_thread() const;
  std::optional<Event> stamp(Event& ev);
  Agent(AgentOptions options, std::shared_ptr<const policy::Policy> policy);
  void build_sensors();
  Result<void> start_sensor(size_t index);
  void sink_loop();
  void write_ready_file();
  void start_tamper_watch();
  // Rewritten only when a counter changed since the last write (an idle agent's file stays as it
  // is: on ext4, replacing a file costs a writeback of the new one); `final` writes regardless.
  void write_stats_file(bool final = false);
  // Atomically replaced (write a temporary file, rename), so a reader never sees half a file.
  static bool write_file_atomically(const std::string& path, const std::string& text);
  void report_losses();
  MetricsSnapshot metrics_snapshot() const;
  void sink_heartbeat(const std::vector<EventBatch>& batches);
  // agent_canary.cpp: the canary heartbeat (settings.canary) and its fault injection.
  Result<void> start_canary();
  std::vector<CanaryCheck> plan_canary(bool helper_preloaded) const;
  void inject_fault();

  AgentOptions opts_;
  std::vector<std::string> agent_files_;  // absolute: binary, policy, outputs
  mutable std::mutex policy_mu_;
  std::shared_ptr<const policy::Policy> policy_;
  // Which installation policy_ is, unique across agents in the process (threads' copies compare
  // it); set under policy_mu_.
  std::atomic<uint64_t> policy_generation_{0};
  policy::EvalEnv env_;

  ProcessTable processes_;
  HashCache hashes_;
  EventQueue queue_;
  std::vector<std::unique_ptr<Sensor>> sensors_;
  std::vector<SensorState> states_;
  std::unique_ptr<Canary> canary_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::thread sink_thread_;
  std::atomic<uint64_t> sequence_{0};
  // Losses: the queue's and each sink's channel (sink thread only), and every channel's total.
  LossChannel queue_losses_{Level::kUser, "agent", "event_queue", LossAccuracy::kExact};
  std::vector<LossChannel> sink_losses_;  // one per sink, same order
  LossLedger losses_;
  // Metrics endpoint (--metrics) and what the sink thread publishes for it.
  std::shared_ptr<AgentMetrics> metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  mutable std::mutex sink_stats_mu_;
  std::string stats_written_;  // the stats file's text as last written (sink thread, then stop)
  std::vector<MetricsSnapshot::SinkSample> sink_samples_;
  double sink_lag_seconds_ = 0;
  int64_t watchdog_interval_ns_ = 0;  // systemd WatchdogSec / 2; 0: off
  int64_t last_watchdog_ns_ = 0;
  std::unique_ptr<PolicyWatcher> policy_watcher_;       // reload on a change of the file
  std::unique_ptr<TamperWatch> tamper_watch_;           // settings.tamper.watch
  std::unique_ptr<PreloadEnvWatch> preload_env_watch_;  // the same, with both levels
  bool policy_from_file_ = false;  // create() loaded it (create_with was handed one)
  bool started_ = false;
  bool stopped_ = false;
};

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in threads it creates) and
// ignores SIGPIPE; call before creating the agent.
void block_agent_signals();

}  // namespace ringside
