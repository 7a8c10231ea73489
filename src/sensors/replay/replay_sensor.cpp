#include "sensors/replay/replay_sensor.hpp"

#include <chrono>
#include <fstream>

#include "core/json_decode.hpp"
#include "core/thread_name.hpp"

namespace ringside {

ReplaySensor::ReplaySensor(std::vector<Event> events, Options options)
    : events_(std::move(events)), options_(options) {}

ReplaySensor::~ReplaySensor() { stop(); }

Result<std::unique_ptr<ReplaySensor>> ReplaySensor::from_jsonl(const std::string& path,
                                                               Options options) {
  std::ifstream in(path);
  if (!in) return errno_error("cannot read " + path);
  std::vector<Event> events;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto ev = parse_event_json(line);
    if (!ev) return Error{path + ":" + std::to_string(n) + ": " + ev.error().message};
    events.push_back(std::move(ev).value());
  }
  return std::make_unique<ReplaySensor>(std::move(events), options);
}

Result<void> ReplaySensor::start(SensorContext& ctx) {
  thread_ = std::thread([this, &ctx] { run(ctx); });
  name_thread(thread_, "rs-replay");
  return ok();
}

void ReplaySensor::run(SensorContext& ctx) {
  using clock = std::chrono::steady_clock;
  const auto begin = clock::now();
  uint64_t sent = 0;
  for (size_t r = 0; r < options_.repeat && !stop_.load(); ++r) {
    for (const Event& recorded : events_) {
      if (stop_.load(std::memory_order_relaxed)) return;
      if (options_.events_per_second > 0) {
        const auto due =
            begin + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
                        static_cast<double>(sent) / options_.events_per_second));
        std::this_thread::sleep_until(due);
      }
      Event ev = recorded;
      if (!ev.has(Field::kRingsideLevel)) {
        ev.set_origin(options_.level, "replay");
      } else if (!ev.has(Field::kRingsideSensor)) {
        ev.set(Field::kRingsideSensor, "replay");
      }
      counters_.seen.fetch_add(1, std::memory_order_relaxed);
      ctx.decide(ev);
      ctx.emit(std::move(ev));
      ++sent;
    }
  }
}

void ReplaySensor::wait_done() {
  if (thread_.joinable()) thread_.join();
}

void ReplaySensor::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace ringside
