#include "agent/agent.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "sensors/kernel/audit_tty.hpp"
#include "sensors/kernel/evdev.hpp"
#include "sensors/kernel/exec_fanotify.hpp"
#include "sensors/kernel/file_ebpf.hpp"
#include "sensors/kernel/file_fanotify.hpp"
#include "sensors/kernel/immutable_guard.hpp"
#include "sensors/kernel/network_ebpf.hpp"
#include "sensors/kernel/nfqueue.hpp"
#include "sensors/kernel/open_fanotify.hpp"
#include "sensors/kernel/proc_connector.hpp"
#include "sensors/kernel/process_ebpf.hpp"
#include "sensors/user/hook_protocol.h"
#include "sensors/user/hook_server.hpp"
#include "sensors/user/x11.hpp"
#include "sinks/console_sink.hpp"
#include "sinks/delay_sink.hpp"
#include "sinks/export_sinks.hpp"
#include "sinks/jsonl_sink.hpp"

namespace ringside {

namespace {

constexpr size_t kHashCacheEntries = 4096;
// The sink thread wakes when this many events wait (or after 100 ms): a busy agent then wakes it
// a few times a second, not dozens (each wake-up of a sleeping thread costs tens of
// microseconds of CPU on a virtual machine), and a burst is still taken long before the queue
// fills (a quarter of its capacity at most).
constexpr size_t kSinkWakeDepth = 2048;
constexpr int64_t kExitedGraceNs = 10LL * 1000 * 1000 * 1000;

}  // namespace

void block_agent_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

namespace {
// Every policy installed by any agent in this process gets the next number.
std::atomic<uint64_t> g_policy_installs{0};
}  // namespace

Agent::Agent(AgentOptions options, std::shared_ptr<const policy::Policy> policy)
    : opts_(std::move(options)),
      policy_(std::move(policy)),
      hashes_(kHashCacheEntries, policy_->settings().hash_max_bytes),
      queue_(opts_.queue_capacity,
             std::max<size_t>(1, std::min(kSinkWakeDepth, opts_.queue_capacity / 4))) {
  policy_generation_.store(g_policy_installs.fetch_add(1) + 1, std::memory_order_release);
  env_.sha256_of = [this](std::string_view path) { return hashes_.sha256_of_path(path); };
  for (const std::string* f : {&opts_.agent_binary, &opts_.policy_path, &opts_.jsonl_path,
                               &opts_.db_path, &opts_.stats_file, &opts_.ready_file}) {
    if (f->empty() || *f == "-") continue;
    std::error_code ec;
    const auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(*f, ec), ec);
    if (!ec) agent_files_.push_back(abs.string());
  }
  // Before any sensor emits: emit() reads it from every sensor thread.
  if (opts_.kernel_level && opts_.user_level && opts_.domains.count(Domain::kProcess) != 0 &&
      policy_->settings().tamper.watch) {
    preload_env_watch_ = std::make_unique<PreloadEnvWatch>();
  }
}

Agent::~Agent() { stop(); }

namespace {

// Standard output is /dev/null (a service, a benchmark): formatting console lines for it would
// cost CPU per event for nothing.
bool stdout_discarded() {
  struct stat out {};
  struct stat null {};
  return fstat(STDOUT_FILENO, &out) == 0 && S_ISCHR(out.st_mode) && stat("/dev/null", &null) == 0 &&
         out.st_rdev == null.st_rdev;
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options) {
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::load_file(options.policy_path, &errors);
  if (!pol) {
    std::string msg;
    for (const auto& e : errors) msg += e.to_string() + "\n";
    if (msg.empty()) msg = pol.error().message;
    if (msg.back() == '\n') msg.pop_back();
    return Error{msg, 2};
  }
  std::unique_ptr<Agent> agent(new Agent(std::move(options), std::move(pol).value()));
  agent->policy_from_file_ = true;
  if (!agent->opts_.jsonl_path.empty()) {
    auto sink = JsonlSink::open(agent->opts_.jsonl_path);
    if (!sink) return std::move(sink).error();
    agent->sinks_.push_back(std::move(sink).value());
  }
  {
    ExportOptions exports = agent->opts_.exports;
    exports.db_path = agent->opts_.db_path;
    auto opened = open_export_sinks(exports);
    if (!opened) return std::move(opened).error();
    for (auto& s : *opened) agent->sinks_.push_back(std::move(s));
  }
  if (agent->opts_.sink_delay_us > 0) {
    agent->sinks_.push_back(
        std::make_unique<DelaySink>(std::chrono::microseconds(agent->opts_.sink_delay_us)));
  }
  if (!agent->opts_.metrics_addr.empty()) {
    Agent* self = agent.get();
    agent->metrics_ = std::make_shared<AgentMetrics>([self] { return self->metrics_snapshot(); });
  }
  if (agent->opts_.console && agent->opts_.jsonl_path != "-" && !stdout_discarded()) {
    agent->sinks_.push_back(
        std::make_unique<ConsoleSink>(STDOUT_FILENO, isatty(STDOUT_FILENO) == 1));
  }
  agent->build_sensors();
  return agent;
}

Result<std::unique_ptr<Agent>> Agent::create_with(AgentOptions options,
                                                  std::shared_ptr<const policy::Policy> policy,
                                                  std::vector<std::unique_ptr<Sensor>> sensors,
                                                  std::vector<std::unique_ptr<Sink>> sinks) {
  std::unique_ptr<Agent> agent(new Agent(std::move(options), std::move(policy)));
  agent->sensors_ = std::move(sensors);
  agent->sinks_ = std::move(sinks);
  for (const auto& s : agent->sensors_) {
    agent->states_.push_back({std::string(s->name()), std::string(s->mechanism()), s->level(),
                              s->domain(), "stopped", ""});
  }
  return agent;
}

// The one place where sensors are chosen and wired.
void Agent::build_sensors() {
  auto add = [this](std::unique_ptr<Sensor> s) {
    states_.push_back({std::string(s->name()), std::string(s->mechanism()), s->level(), s->domain(),
                       "stopped", ""});
    sensors_.push_back(std::move(s));
  };
  if (opts_.domains.count(Domain::kProcess)) {
    if (opts_.kernel_level) {
      if (opts_.force_fallback) {
        add(std::make_unique<ProcConnectorSensor>(opts_.ring_bytes));
      } else {
        ProcessEbpfSensor::Options po;
        if (opts_.ring_bytes != 0) po.ring_bytes = opts_.ring_bytes;
        add(std::make_unique<ProcessEbpfSensor>(po));
      }
      add(std::make_unique<ExecFanotifySensor>());
    }
  }
  if (opts_.domains.count(Domain::kFile) && opts_.kernel_level) {
    add(std::make_unique<FileEbpfSensor>(opts_.ring_bytes));
    FileFanotifySensor::Options fo;
    fo.buffer_bytes = opts_.ring_bytes;
    add(std::make_unique<FileFanotifySensor>(fo));
    add(std::make_unique<OpenFanotifySensor>());
    add(std::make_unique<ImmutableGuard>(ImmutableGuard::Options{opts_.state_dir, nullptr}));
  }
  if (opts_.domains.count(Domain::kNetwork) && opts_.kernel_level) {
    const auto sock_dir = std::filesystem::path(opts_.hook_socket).parent_path();
    auto ebpf =
        std::make_unique<NetworkEbpfSensor>((sock_dir / "origdst.sock").string(), opts_.ring_bytes);
    const FlowOwners* owners = ebpf.get();
    add(std::move(ebpf));
    add(std::make_unique<NfqueueSensor>(owners));
  }
  // Keystrokes: only when asked for (--domains keyboard); see docs/keyboard.md.
  if (opts_.domains.count(Domain::kKeyboard)) {
    if (opts_.kernel_level) {
      add(std::make_unique<AuditTtySensor>());
      add(std::make_unique<EvdevSensor>());
    }
    const char* display = std::getenv("DISPLAY");  // NOLINT: read once while wiring
    if (opts_.user_level && (!policy_->settings().keyboard.display.empty() ||
                             (display != nullptr && *display != '\0'))) {
      add(std::make_unique<X11Sensor>());
    } else if (opts_.user_level) {
      log().warn(
          "keyboard: no X display (DISPLAY or settings.keyboard.display); the x11 sensor is not "
          "started");
    }
  }
  if (opts_.user_level) {
    // The interposer reports files and sockets only for the domains the agent watches.
    uint32_t ops = 0;
    if (opts_.domains.count(Domain::kFile)) ops |= RS_HOOK_OP_FILE;
    if (opts_.domains.count(Domain::kNetwork)) ops |= RS_HOOK_OP_NETWORK;
    add(std::make_unique<HookServerSensor>(opts_.hook_socket, ops));
  }
}

Result<void> Agent::start_sensor(size_t i) {
  Sensor& s = *sensors_[i];
  auto r = s.start(*this);
  if (r) {
    auto pol = policy();
    r = s.apply_policy(*pol);
    if (!r) s.stop();
  }
  if (r) {
    states_[i].state = "live";
    log().info("sensor {} ({} level, {}) live", s.name(), to_string(s.level()), s.mechanism());
    return ok();
  }
  states_[i].state = "failed";
  states_[i].reason = r.error().message;
  return std::move(r).error();
}

Result<void> Agent::start() {
  if (started_) return ok();
  started_ = true;
  // The policy's settings for whoever runs the agent (the supervisor's bound) apply from the
  // start: a client that acts on the ready file, or a sensor that hangs while starting, must
  // not find the default bound still in force.
  if (opts_.on_policy) opts_.on_policy(*policy());
  sink_thread_ = std::thread([this] { sink_loop(); });
  name_thread(sink_thread_, "rs-sink");
  const size_t loaded = processes_.load_from_proc();
  log().debug("process table seeded with {} processes", loaded);
  // Files a killed agent left immutable are released by whichever agent starts next, before
  // any sensor can fail (the guard, usable on its own, looks again at its start and finds
  // nothing left).
  release_leftovers(opts_.state_dir, *system_file_attributes());
  for (size_t i = 0; i < sensors_.size(); ++i) {
    auto r = start_sensor(i);
    if (r) continue;
    // Per-area fallback: the proc connector stands in for eBPF process events.
    if (sensors_[i]->name() == "process_ebpf") {
      log().warn("eBPF process sensor unavailable ({}); falling back to the proc connector",
                 r.error().message);
      sensors_.push_back(std::make_unique<ProcConnectorSensor>(opts_.ring_bytes));
      states_.push_back({"process_proc_connector", "proc_connector", Level::kKernel,
                         Domain::kProcess, "stopped", ""});
      auto fb = start_sensor(sensors_.size() - 1);
      if (fb) continue;
      r = std::move(fb);
    }
    // Without the eBPF network sensor, NFQUEUE still decides and attributes packets from /proc
    // (the ready file lists the sensor as failed, with the reason).
    if (sensors_[i]->name() == "network_ebpf") {
      log().warn("eBPF network sensor unavailable ({}); NFQUEUE attributes packets from /proc",
                 r.error().message);
      continue;
    }
    log().error("sensor {} failed to start: {}", sensors_[i]->name(), r.error().message);
    stop();
    return Error{"sensor " + std::string(sensors_[i]->name()) + " failed: " + r.error().message};
  }
  if (auto c = start_canary(); !c) {
    stop();
    return std::move(c).error();
  }
  write_ready_file();
  if (metrics_) {
    auto server = MetricsServer::start(opts_.metrics_addr, metrics_);
    if (!server) {
      stop();
      return std::move(server).error();
    }
    metrics_server_ = std::move(server).value();
    log().info("metrics on http://{}/metrics", opts_.metrics_addr);
  }
  // systemd (Type=notify): ready once the ready file would be written; sd_notify does nothing
  // without NOTIFY_SOCKET.
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    watchdog_interval_ns_ = static_cast<int64_t>(watchdog_usec) * 1000 / 2;
  }
  // Reload on a change of the policy file too (docs/policy.md), not only on SIGHUP.
  if (policy_from_file_) {
    if (auto w = PolicyWatcher::start(opts_.policy_path)) {
      policy_watcher_ = std::move(w).value();
    } else {
      log().warn("{}; the policy is reloaded on SIGHUP only", w.error().message);
    }
    emit(policy_event(true, opts_.policy_path, "start", "policy loaded"));
  }
  start_tamper_watch();
  sd_notify(0, "READY=1\nSTATUS=sensors live");
  return ok();
}

void Agent::write_ready_file() {
  if (opts_.ready_file.empty()) return;
  nlohmann::json j;
  j["pid"] = getpid();
  j["policy"] = opts_.policy_path;
  j["sensors"] = nlohmann::json::array();
  for (const auto& s : states_) {
    nlohmann::json e{{"name", s.name},
                     {"mechanism", s.mechanism},
                     {"level", to_string(s.level)},
                     {"domain", to_string(s.domain)},
                     {"state", s.state}};
    if (!s.reason.empty()) e["reason"] = s.reason;
    j["sensors"].push_back(e);
  }
  write_file_atomically(opts_.ready_file, j.dump(2));
}

void Agent::run_until_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      const bool on_disk = policy_watcher_ && policy_watcher_->take_pending();
      auto r = reload_policy();
      if (!r)
        log().error("policy reload failed, keeping the running policy:\n{}", r.error().message);
      emit(policy_event(static_cast<bool>(r), opts_.policy_path, on_disk ? "file_change" : "sighup",
                        r ? "policy reloaded" : r.error().message));
      continue;
    }
    log().info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
}

Result<void> Agent::reload_policy() {
  std::vector<policy::ParseError> errors;
  auto pol = policy::Policy::load_file(opts_.policy_path, &errors);
  if (!pol) {
    std::string msg;
    for (const auto& e : errors) msg += e.to_string() + "\n";
    return Error{msg.empty() ? pol.error().message : msg};
  }
  // Every live sensor reconfigures for the new policy; if one refuses, the ones that already
  // switched go back to the running policy, so enforcement never mixes two policies.
  const auto old = policy();
  for (size_t i = 0; i < sensors_.size(); ++i) {
    if (states_[i].state != "live") continue;
    auto r = sensors_[i]->apply_policy(**pol);
    if (r) continue;
    for (size_t j = 0; j < i; ++j) {
      if (states_[j].state != "live") continue;
      if (auto back = sensors_[j]->apply_policy(*old); !back) {
        log().error("sensor {} could not return to the running policy: {}", sensors_[j]->name(),
                    back.error().message);
      }
    }
    return Error{"sensor " + std::string(sensors_[i]->name()) +
                 " rejected the new policy: " + r.error().message};
  }
  hashes_.set_max_bytes((*pol)->settings().hash_max_bytes);
  {
    std::lock_guard lock(policy_mu_);
    policy_ = std::move(pol).value();
    policy_generation_.store(g_policy_installs.fetch_add(1) + 1, std::memory_order_release);
  }
  if (opts_.on_policy) opts_.on_policy(*policy());
  log().info("policy reloaded from {}", opts_.policy_path);
  return ok();
}

// Tamper watch (docs/policy.md): changes to the preload configuration and to the agent's own
// files by anyone but the agent, decided like any event (a rule on ringside.tamper can alert).
void Agent::start_tamper_watch() {
  if (!opts_.kernel_level || !policy()->settings().tamper.watch) return;
  auto w = TamperWatch::start(
      tamper_targets(opts_.agent_binary, policy_from_file_ ? opts_.policy_path : "", opts_.db_path),
      static_cast<int32_t>(getpid()), [this](Event&& ev) {
        decide(ev);
        emit(std::move(ev));
      });
  if (!w) {
    log().warn("{}; changes to the agent's files are not reported", w.error().message);
    return;
  }
  tamper_watch_ = std::move(w).value();
}

void Agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  sd_notify(0, "STOPPING=1");
  tamper_watch_.reset();
  policy_watcher_.reset();
  metrics_server_.reset();
  if (canary_) canary_->stop();
  for (size_t i = sensors_.size(); i-- > 0;) {
    sensors_[i]->stop();
    if (states_[i].state == "live") states_[i].state = "stopped";
  }
  queue_.close();
  if (sink_thread_.joinable()) sink_thread_.join();
  write_stats_file(/*final=*/true);
  for (size_t i = 0; i < sensors_.size(); ++i) {
    const SensorStats st = sensors_[i]->stats();
    log().info("sensor {}: seen {} dropped {} errors {} denied {} defaulted {}",
               sensors_[i]->name(), st.seen, st.dropped, st.errors, st.denied, st.defaulted);
  }
  log().info("events: {} queued, {} dropped at the queue", queue_.pushed(), queue_.dropped());
  for (const auto& sink : sinks_) {
    log().info("sink {}: {} written, {} not delivered", sink->name(), sink->stats().written,
               sink->stats().failed);
  }
  for (const auto& l : losses_.snapshot()) {
    log().info("lost on {}: {} ({})", l.channel, l.total, l.accuracy);
  }
}

std::shared_ptr<const policy::Policy> Agent::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

const policy::Policy& Agent::policy_for_this_thread() const {
  struct Copy {
    uint64_t generation = 0;
    std::shared_ptr<const policy::Policy> policy;
  };
  // Generations are unique across agents, so one equal to the agent's is that agent's policy.
  thread_local Copy copy;
  const uint64_t generation = policy_generation_.load(std::memory_order_acquire);
  if (copy.generation != generation) copy = {generation, policy()};
  return *copy.policy;
}

bool Agent::is_agent_file(std::string_view path) const {
  return std::find(agent_files_.begin(), agent_files_.end(), path) != agent_files_.end();
}

std::optional<std::string> Agent::sha256_of(std::string_view path, const FileIdentity& id) {
  return hashes_.sha256_of_path(path, &id);
}

// What every event goes through on its way to the queue; returns a tamper event it revealed.
std::optional<Event> Agent::stamp(Event& ev) {
  ev.set(Field::kEventSequence, static_cast<int64_t>(sequence_.fetch_add(1) + 1));
  if (!ev.has(Field::kRingsideVerdict)) ev.set(Field::kRingsideVerdict, "allow");
  if (canary_) canary_->observe(ev);
  losses_.observe(ev);
  if (preload_env_watch_) {
    if (auto tamper = preload_env_watch_->observe(ev)) {
      decide(*tamper);
      return tamper;
    }
  }
  return std::nullopt;
}

void Agent::emit(Event&& ev) {
  std::optional<Event> tamper = stamp(ev);
  queue_.push(std::move(ev));  // a full queue counts the drop; the sink thread reports it
  if (tamper) emit(std::move(*tamper));
}

void Agent::emit_all(EventBatch& batch) {
  std::vector<Event> tampers;
  for (Event& ev : batch) {
    if (auto tamper = stamp(ev)) tampers.push_back(std::move(*tamper));
  }
  queue_.push_all(batch);
  for (Event& ev : tampers) emit(std::move(ev));
}

// Sink thread: what the queue dropped and what each sink failed to deliver since the last
// report, as ringside.lost events straight to the sinks (the queue may be the full one).
void Agent::report_losses() {
  std::vector<Event> lost;
  if (auto ev = queue_losses_.report(queue_.dropped(), "event queue full")) {
    lost.push_back(std::move(*ev));
  }
  if (sink_losses_.size() != sinks_.size()) {
    sink_losses_.clear();
    for (const auto& s : sinks_) {
      sink_losses_.emplace_back(Level::kUser, "agent", "sink." + std::string(s->name()),
                                LossAccuracy::kExact);
    }
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (auto ev = sink_losses_[i].report(sinks_[i]->stats().failed, "sink could not deliver")) {
      lost.push_back(std::move(*ev));
    }
  }
  for (Event& ev : lost) {
    ev.set(Field::kEventSequence, static_cast<int64_t>(sequence_.fetch_add(1) + 1));
    losses_.observe(ev);
    for (auto& sink : sinks_) sink->write(ev);
  }
}

void Agent::sink_loop() {
  clock::allow_batch_slack();
  std::vector<EventBatch> batches;
  int64_t last_expire = clock::monotonic_ns();
  while (queue_.pop_all(batches, std::chrono::milliseconds(100))) {
    for (const EventBatch& batch : batches) {
      for (const Event& ev : batch) {
        for (auto& sink : sinks_) sink->write(ev);
      }
    }
    report_losses();
    for (auto& sink : sinks_) sink->flush();
    sink_heartbeat(batches);
    const int64_t now = clock::monotonic_ns();
    if (now - last_expire > 1000000000) {
      processes_.expire(clock::realtime_ns(), kExitedGraceNs);
      write_stats_file();
      last_expire = now;
    }
  }
  report_losses();
  for (auto& sink : sinks_) sink->flush();
}

}  // namespace ringside
