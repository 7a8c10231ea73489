// A sensor that feeds recorded or synthetic events through the agent exactly as a live sensor
// would (decide, then emit). It lets the whole pipeline and the policy be tested, and
// benchmarked, without a kernel.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sensors/sensor.hpp"

namespace ringside {

class ReplaySensor final : public Sensor {
 public:
  struct Options {
    double events_per_second = 0;  // 0: as fast as possible
    size_t repeat = 1;
    Level level = Level::kKernel;  // level the events claim when they do not say
  };
  ReplaySensor(std::vector<Event> events, Options options);
  // Reads one JSON event per line (the format of the JSONL sink). Errors name the line.
  static Result<std::unique_ptr<ReplaySensor>> from_jsonl(const std::string& path, Options options);
  ~ReplaySensor() override;

  std::string_view name() const override { return "replay"; }
  std::string_view mechanism() const override { return "replay"; }
  Level level() const override { return options_.level; }
  Domain domain() const override { return Domain::kProcess; }
  Result<void> start(SensorContext& ctx) override;
  void stop() override;
  SensorStats stats() const override { return SensorStats::from(counters_); }

  // Blocks until every event was replayed (or stop()).
  void wait_done();

 private:
  void run(SensorContext& ctx);

  std::vector<Event> events_;
  Options options_;
  SensorCounters counters_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringside
