// A sink writes finished events somewhere. Sinks run on the agent's sink thread only, so they
// need no locking of their own; a sink that cannot deliver counts it and carries on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside {

struct SinkStats {
  uint64_t written = 0;
  uint64_t failed = 0;  // events that could not be delivered
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;
  virtual void write(const Event& ev) = 0;
  // Called when the queue is momentarily empty and at shutdown.
  virtual void flush() = 0;
  virtual SinkStats stats() const = 0;
};

}  // namespace ringside
