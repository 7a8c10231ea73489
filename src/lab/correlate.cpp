// Correlation of the both-levels monitor pass (see correlate.hpp).

#include "lab/correlate.hpp"

#include <map>
#include <set>

#include "lab/scenario.hpp"

namespace ringside::lab {

namespace {

std::string action_of(const nlohmann::json& ev) {
  return event_text(ev, "event.category") + "." + event_text(ev, "event.action");
}

int64_t pid_of(const nlohmann::json& ev) {
  const nlohmann::json* p = event_field(ev, "process.pid");
  return (p != nullptr && p->is_number_integer()) ? p->get<int64_t>() : 0;
}

}  // namespace

std::vector<CorrelatedRecord> correlate(const std::string& scenario, const std::string& marker,
                                        const std::vector<nlohmann::json>& events) {
  std::map<std::pair<int64_t, std::string>, std::set<std::string>> groups;
  std::map<std::pair<int64_t, std::string>, int64_t> parent;  // group -> process.parent.pid
  std::vector<const nlohmann::json*> no_pid;
  for (const auto& ev : events) {
    const std::string level = event_text(ev, "ringside.level");
    if (level.empty()) continue;
    if (pid_of(ev) == 0) {
      no_pid.push_back(&ev);
      continue;
    }
    const std::pair<int64_t, std::string> key{pid_of(ev), action_of(ev)};
    groups[key].insert(level);
    const nlohmann::json* pp = event_field(ev, "process.parent.pid");
    if (pp != nullptr && pp->is_number_integer()) parent[key] = pp->get<int64_t>();
  }
  // An event without a pid (posix_spawn reported by the caller before the child exists) joins
  // the group of the same action whose process has the same parent.
  for (const auto* ev : no_pid) {
    const nlohmann::json* pp = event_field(*ev, "process.parent.pid");
    const int64_t ppid = (pp != nullptr && pp->is_number_integer()) ? pp->get<int64_t>() : -1;
    bool joined = false;
    for (auto& [key, levels] : groups) {
      auto it = parent.find(key);
      if (key.second == action_of(*ev) && it != parent.end() && it->second == ppid) {
        levels.insert(event_text(*ev, "ringside.level"));
        joined = true;
        break;
      }
    }
    if (!joined) groups[{0, action_of(*ev)}].insert(event_text(*ev, "ringside.level"));
  }
  std::vector<CorrelatedRecord> out;
  for (const auto& [key, levels] : groups) {
    CorrelatedRecord r;
    r.scenario = scenario;
    r.pid = key.first;
    r.action = key.second;
    r.marker = marker;
    for (const char* l : {"kernel", "user"}) {
      if (levels.count(l) != 0) r.seen_by.emplace_back(l);
    }
    for (const auto& l : levels) {
      if (l != "kernel" && l != "user") r.seen_by.push_back(l);
    }
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json correlated_event(const CorrelatedRecord& record,
                                const std::vector<nlohmann::json>& events) {
  for (const auto& ev : events) {
    if (pid_of(ev) != record.pid || action_of(ev) != record.action) continue;
    nlohmann::json out = ev;
    out["ringside"]["seen_by"] = record.seen_by;
    out["ringside"].erase("level");
    return out;
  }
  return nlohmann::json::object();
}

}  // namespace ringside::lab
