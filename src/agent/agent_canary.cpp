// The agent's side of the canary heartbeat (agent/canary.hpp): which live sensors must see
// the helper's marked operations, and the fault injection its end-to-end test uses.
#include <sys/stat.h>

#include <filesystem>

#include "agent/agent.hpp"
#include "core/log.hpp"

namespace ringside {

Result<void> Agent::start_canary() {
  if (policy()->settings().canary.interval_ms <= 0 || canary_) return ok();
  const auto run_dir = std::filesystem::path(opts_.hook_socket).parent_path();
  Canary::Config cfg;
  cfg.helper_binary = opts_.agent_binary;
  if (cfg.helper_binary.empty()) {
    return Error{"canary: the agent's own binary is unknown (needed for the helper)"};
  }
  cfg.dir = (run_dir / "canary").string();
  cfg.hook_socket = opts_.hook_socket;
  for (size_t i = 0; i < sensors_.size(); ++i) {
    if (states_[i].name == "hook_server" && states_[i].state == "live") {
      cfg.preload_lib =
          (std::filesystem::path(opts_.agent_binary).parent_path() / "libringside-preload.so")
              .string();
    }
  }
  if (!opts_.fault_stop_sensor.empty()) {
    cfg.fault = [this] { inject_fault(); };
    cfg.fault_after_ms = opts_.fault_after_ms;
  }
  canary_ = std::make_unique<Canary>(
      cfg, [this] { return policy()->settings().canary.interval_ms; },
      [this](bool preloaded) { return plan_canary(preloaded); },
      [this](Event&& ev) { emit(std::move(ev)); });
  if (auto r = canary_->start(); !r) {
    canary_.reset();
    return r;
  }
  log().info("canary: heartbeat every {} ms (helper {}, interposer {})",
             policy()->settings().canary.interval_ms, cfg.helper_binary,
             cfg.preload_lib.empty() ? "not loaded" : cfg.preload_lib);
  return ok();
}

std::vector<CanaryCheck> Agent::plan_canary(bool helper_preloaded) const {
  CanaryPlanInput in;
  for (const auto& s : states_) {
    if (s.state == "live") in.live.push_back({s.name, s.mechanism, s.level, s.domain});
  }
  in.file = policy()->settings().file;
  in.canary_dir = (std::filesystem::path(opts_.hook_socket).parent_path() / "canary").string();
  in.helper_preloaded = helper_preloaded;
  in.hooks_report_files = opts_.domains.count(Domain::kFile) > 0;
  in.hooks_report_network = opts_.domains.count(Domain::kNetwork) > 0;
  in.device_of = [](const std::string& path) -> std::optional<uint64_t> {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.st_dev);
  };
  return plan_canary_checks(in);
}

// --fault-stop-sensor NAME: the sensor's mechanism is stopped (programs detached, marks
// removed, threads joined) --fault-after-ms after the start, but its state stays "live", so the
// agent believes it still sees; only the canary can tell.
void Agent::inject_fault() {
  for (auto& s : sensors_) {
    if (s->name() != opts_.fault_stop_sensor) continue;
    log().warn("fault injection: stopping sensor {}; the agent still counts it live", s->name());
    s->stop();
    log().warn("fault injection: sensor {} stopped", s->name());
    return;
  }
  log().warn("fault injection: no sensor named {}", opts_.fault_stop_sensor);
}

}  // namespace ringside
