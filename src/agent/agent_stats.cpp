// The agent's counters: the stats file, the metrics snapshot, and the sink thread's heartbeat
// (sink samples for the metrics endpoint, systemd's watchdog).
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/agent.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"

namespace ringside {

// Atomically replaced, so a reader never sees half a file.
bool Agent::write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  bool written = false;
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    out.close();
    written = static_cast<bool>(out);
  }
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    log().error("cannot write {}: {}", path, errno_text(errno));
    return false;
  }
  return true;
}

// Publishes the sinks' counters for the metrics endpoint and pings systemd's watchdog: the
// sink thread runs about every 100 ms (timer slack: at most ~120 ms), so a stuck pipeline stops
// the pings.
void Agent::sink_heartbeat(const std::vector<EventBatch>& batches) {
  if (metrics_) {
    std::vector<MetricsSnapshot::SinkSample> samples;
    for (const auto& s : sinks_) {
      samples.push_back({std::string(s->name()), s->stats().written, s->stats().failed});
    }
    std::lock_guard lock(sink_stats_mu_);
    sink_samples_ = std::move(samples);
    if (!batches.empty() && !batches.back().empty()) {
      sink_lag_seconds_ =
          static_cast<double>(clock::realtime_ns() - batches.back().back().timestamp_ns()) / 1e9;
    }
  }
  if (watchdog_interval_ns_ > 0) {
    const int64_t now = clock::monotonic_ns();
    if (now - last_watchdog_ns_ >= watchdog_interval_ns_) {
      sd_notify(0, "WATCHDOG=1");
      last_watchdog_ns_ = now;
    }
  }
}

MetricsSnapshot Agent::metrics_snapshot() const {
  MetricsSnapshot s;
  for (size_t i = 0; i < sensors_.size(); ++i) {
    s.sensors.push_back(
        {states_[i].name, states_[i].mechanism, std::string(to_string(states_[i].level)),
         std::string(to_string(states_[i].domain)), states_[i].state, sensors_[i]->stats()});
  }
  s.queue_depth = queue_.depth();
  s.queue_max_depth = queue_.max_depth();
  s.queue_capacity = queue_.capacity();
  s.queue_pushed = queue_.pushed();
  s.queue_dropped = queue_.dropped();
  for (const auto& l : losses_.snapshot()) s.lost.push_back({l.channel, l.accuracy, l.total});
  std::lock_guard lock(sink_stats_mu_);
  s.sinks = sink_samples_;
  s.sink_lag_seconds = sink_lag_seconds_;
  return s;
}

void Agent::write_stats_file(bool final) {
  if (opts_.stats_file.empty()) return;
  std::string text = stats_json();
  if (!final && text == stats_written_) return;
  // A write that failed is tried again next second, changed or not.
  stats_written_ = write_file_atomically(opts_.stats_file, text) ? std::move(text) : std::string();
}

std::string Agent::stats_json() const {
  nlohmann::json j;
  j["queue"] = {{"pushed", queue_.pushed()},
                {"dropped", queue_.dropped()},
                {"max_depth", queue_.max_depth()},
                {"capacity", queue_.capacity()}};
  for (size_t i = 0; i < sensors_.size(); ++i) {
    const SensorStats st = sensors_[i]->stats();
    j["sensors"][std::string(sensors_[i]->name())] = {
        {"state", states_[i].state}, {"seen", st.seen},     {"dropped", st.dropped},
        {"errors", st.errors},       {"denied", st.denied}, {"defaulted", st.defaulted}};
  }
  for (const auto& s : sinks_) {
    j["sinks"][std::string(s->name())] = {{"written", s->stats().written},
                                          {"failed", s->stats().failed}};
  }
  for (const auto& l : losses_.snapshot()) {
    j["lost"][l.channel] = {{"total", l.total}, {"accuracy", l.accuracy}};
  }
  const auto h = hashes_.stats();
  j["hash_cache"] = {
      {"hits", h.hits}, {"misses", h.misses}, {"too_large", h.too_large}, {"errors", h.errors}};
  return j.dump();
}

}  // namespace ringside
