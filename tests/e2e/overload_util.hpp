// What the overload tests share: the ringside.lost events of a run, summed per channel, and an
// agent start that fails the test when the agent does not come up.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "e2e_util.hpp"

namespace ringside::e2e {

struct Losses {
  int64_t count = 0;  // sum of ringside.lost.count
  int64_t total = 0;  // highest ringside.lost.total
  int events = 0;
  std::string accuracy;
};

inline std::map<std::string, Losses> losses_by_channel(const std::vector<json>& events) {
  std::map<std::string, Losses> out;
  for (const json& ev : events) {
    if (str_field(ev, "event.category") != "ringside" || str_field(ev, "event.action") != "lost") {
      continue;
    }
    Losses& l = out[str_field(ev, "ringside.lost.channel")];
    l.count += int_field(ev, "ringside.lost.count", 0);
    l.total = std::max(l.total, int_field(ev, "ringside.lost.total", 0));
    l.accuracy = str_field(ev, "ringside.lost.accuracy");
    ++l.events;
  }
  return out;
}

inline std::unique_ptr<AgentProcess> start_agent(const AgentProcess::Options& o) {
  std::string error;
  auto agent = AgentProcess::start(o, &error);
  if (!agent) ADD_FAILURE() << error;
  return agent;
}

}  // namespace ringside::e2e
