// A sink that only takes time: `ringside run --sink-delay-us N` adds it so that loss tests can
// drive the event queue into overload with a deliberately slow sink instead of flooding the
// host. It writes nothing and never fails.
#pragma once

#include <chrono>
#include <thread>

#include "sinks/sink.hpp"

namespace ringside {

class DelaySink final : public Sink {
 public:
  explicit DelaySink(std::chrono::microseconds per_event) : per_event_(per_event) {}
  std::string_view name() const override { return "delay"; }
  void write(const Event& /*ev*/) override {
    std::this_thread::sleep_for(per_event_);
    ++stats_.written;
  }
  void flush() override {}
  SinkStats stats() const override { return stats_; }

 private:
  std::chrono::microseconds per_event_;
  SinkStats stats_;
};

}  // namespace ringside
