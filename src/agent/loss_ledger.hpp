// Records lost per channel, as the agent has reported them in ringside.lost events: the stats
// file, the metrics endpoint and the exit log read it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/event.hpp"

namespace ringside {

class LossLedger {
 public:
  struct Entry {
    std::string channel;
    uint64_t total = 0;
    std::string accuracy;  // exact | lower_bound
  };
  // Any thread: a ringside.lost event raises its channel's total; other events are ignored.
  void observe(const Event& ev);
  std::vector<Entry> snapshot() const;  // ordered by channel

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> channels_;
};

}  // namespace ringside
