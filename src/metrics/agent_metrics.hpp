// Prometheus metrics of a running agent: per sensor and level events seen / dropped / errors /
// denied / defaulted, verdicts by level and rule, the decision latency histogram, the event
// queue (depth, capacity, drops), per sink written / failed with the sink lag, and records lost
// per channel.
//
// Counters that live elsewhere (sensors, queue, sinks) are read when scraped, through a
// snapshot function the agent provides; only decisions are recorded here, on the sensor
// threads, without blocking on the scrape.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"
#include "sensors/sensor.hpp"

namespace ringside {

struct MetricsSnapshot {
  struct SensorSample {
    std::string name, mechanism, level, domain, state;
    SensorStats stats;
  };
  struct SinkSample {
    std::string name;
    uint64_t written = 0, failed = 0;
  };
  std::vector<SensorSample> sensors;
  std::vector<SinkSample> sinks;
  struct LossSample {
    std::string channel, accuracy;
    uint64_t total = 0;
  };
  std::vector<LossSample> lost;  // per channel, as reported in ringside.lost events
  uint64_t queue_depth = 0, queue_max_depth = 0, queue_capacity = 0, queue_pushed = 0,
           queue_dropped = 0;
  double sink_lag_seconds = 0;  // age of the newest event when the sinks last wrote it
};

class AgentMetrics final : public prometheus::Collectable {
 public:
  // Upper bounds of the decision latency buckets, in seconds.
  static constexpr std::array<double, 14> kLatencyBuckets = {
      1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 1e-1};

  explicit AgentMetrics(std::function<MetricsSnapshot()> snapshot)
      : snapshot_(std::move(snapshot)) {}

  // One policy decision (any thread).
  void record_decision(Level level, Verdict verdict, std::string_view rule, int64_t latency_ns);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<MetricsSnapshot()> snapshot_;
  mutable std::mutex mu_;
  std::map<std::tuple<Level, Verdict, std::string>, uint64_t> verdicts_;
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> latency_sum_ns_{0};
};

// The HTTP endpoint: GET /metrics on one thread of its own; ADDR is "127.0.0.1:PORT" (a
// loopback address only). prometheus-cpp's own server (civetweb) is not used: its worker
// threads get ~100 KiB stacks, which the agent's static TLS leaves too small.
class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& addr,
                                                      std::shared_ptr<AgentMetrics> metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }

 private:
  MetricsServer() = default;
  void serve();
  void answer(int fd);

  std::shared_ptr<AgentMetrics> metrics_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that ends serve()
  int port_ = 0;
  std::atomic<uint64_t> scrapes_{0};
  std::thread thread_;
};

// Renders families in the Prometheus text exposition format (version 0.0.4).
std::string metrics_text(const std::vector<prometheus::MetricFamily>& families);

}  // namespace ringside
