// report.json: the whole report model, plus the per-area summary computed from the matrix.

#include <algorithm>
#include <nlohmann/json.hpp>

#include "lab/report.hpp"

namespace ringside::lab {

AreaSummary summarize(const LabReport& r, const std::string& area, const std::string& level) {
  AreaSummary s;
  s.area = area;
  s.level = level;
  for (const auto& row : r.rows) {
    if (row.area != area) continue;
    ++s.scenarios;
    if (const Cell* c = row.cell(level, "monitor"); c != nullptr && c->result != "skipped") {
      ++s.monitor_runs;
      if (c->result == "seen") {
        ++s.seen;
      } else {
        s.misses.push_back(row.id + ": " + (c->cause.empty() ? c->result : c->cause));
      }
    }
    if (const Cell* c = row.cell(level, "deny"); c != nullptr && c->result != "skipped") {
      ++s.deny_runs;
      if (c->result == "blocked") {
        ++s.blocked;
      } else {
        s.misses.push_back(row.id + " (deny): " + (c->cause.empty() ? c->result : c->cause));
      }
    }
  }
  return s;
}

std::vector<CorrelatedRecord> one_level_records(const LabReport& r) {
  std::vector<CorrelatedRecord> out;
  for (const auto& c : r.correlated) {
    if (c.seen_by.size() == 1) out.push_back(c);
  }
  return out;
}

namespace {

nlohmann::json cell_json(const Cell& c) {
  nlohmann::json j = {
      {"level", c.level}, {"mode", c.mode}, {"result", c.result}, {"elapsed_ms", c.elapsed_ms}};
  if (!c.cause.empty()) j["cause"] = c.cause;
  if (!c.detail.empty()) j["detail"] = c.detail;
  if (!c.wrong_fields.empty()) j["wrong_fields"] = c.wrong_fields;
  return j;
}

nlohmann::json correlated_json(const CorrelatedRecord& c) {
  return {{"scenario", c.scenario},
          {"action", c.action},
          {"pid", c.pid},
          {"marker", c.marker},
          {"ringside", {{"seen_by", c.seen_by}}}};
}

}  // namespace

SideBySide side_by_side(const LabReport& r) {
  SideBySide out;
  out.columns = {"ringside kernel", "ringside user"};
  std::vector<const PeerRow*> peers;
  for (const auto& p : r.peers) {
    if (!p.available) continue;
    peers.push_back(&p);
    out.columns.push_back(p.name);
  }
  std::vector<std::string> ids;
  auto add_id = [&ids](const std::string& id) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  for (const auto& row : r.rows) {
    for (const auto* p : peers) {
      for (const auto& s : p->scenarios) {
        if (s.scenario == row.id) add_id(row.id);
      }
    }
  }
  for (const auto* p : peers) {
    for (const auto& s : p->scenarios) add_id(s.scenario);
  }
  for (const auto& id : ids) {
    std::vector<std::string> cells;
    const ScenarioRow* row = nullptr;
    for (const auto& x : r.rows) {
      if (x.id == id) row = &x;
    }
    for (const char* level : {"kernel", "user"}) {
      const Cell* c = row != nullptr ? row->cell(level, "monitor") : nullptr;
      cells.push_back(c != nullptr ? c->result : "");
    }
    for (const auto* p : peers) {
      std::string text;
      for (const auto& s : p->scenarios) {
        if (s.scenario == id) text = s.blocked ? "blocked" : s.saw ? "seen" : "missed";
      }
      cells.push_back(text);
    }
    out.rows.emplace_back(id, std::move(cells));
  }
  return out;
}

std::string render_json(const LabReport& r) {
  nlohmann::json j;
  j["run"] = {{"id", r.run_id},     {"started", r.started},      {"host", r.host},
              {"load", r.load},     {"quick", r.quick},          {"elapsed_s", r.elapsed_s},
              {"levels", r.levels}, {"scenarios", r.rows.size()}};
  j["summary"] = nlohmann::json::array();
  for (const auto& area : lab_areas()) {
    for (const auto& level : r.levels) {
      const AreaSummary s = summarize(r, area, level);
      if (s.scenarios == 0) continue;
      j["summary"].push_back({{"area", area},
                              {"level", level},
                              {"scenarios", s.scenarios},
                              {"seen", s.seen},
                              {"monitor_runs", s.monitor_runs},
                              {"coverage_pct", s.coverage_pct()},
                              {"blocked", s.blocked},
                              {"deny_runs", s.deny_runs},
                              {"block_pct", s.block_pct()},
                              {"misses", s.misses}});
    }
  }
  j["scenarios"] = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json cells = nlohmann::json::array();
    for (const auto& c : row.cells) cells.push_back(cell_json(c));
    j["scenarios"].push_back({{"id", row.id},
                              {"area", row.area},
                              {"title", row.title},
                              {"marker", row.marker},
                              {"cells", cells}});
  }
  j["correlated"] = nlohmann::json::array();
  for (const auto& c : r.correlated) j["correlated"].push_back(correlated_json(c));
  j["bypasses"] = nlohmann::json::array();
  for (const auto& c : one_level_records(r)) j["bypasses"].push_back(correlated_json(c));
  j["overhead"] = {{"measured", !r.overhead.empty()}, {"rows", nlohmann::json::array()}};
  for (const auto& o : r.overhead) {
    j["overhead"]["rows"].push_back({{"area", o.area},
                                     {"level_or_peer", o.level_or_peer},
                                     {"ratio", o.ratio},
                                     {"agent_cpu_us_per_op", o.agent_cpu_us_per_op},
                                     {"rss_mib", o.rss_mib},
                                     {"noise_pct", o.noise_pct},
                                     {"note", o.note}});
  }
  j["peers"] = {{"measured", !r.peers.empty()}, {"rows", nlohmann::json::array()}};
  for (const auto& p : r.peers) {
    nlohmann::json sc = nlohmann::json::array();
    for (const auto& s : p.scenarios) {
      sc.push_back({{"scenario", s.scenario}, {"saw", s.saw}, {"blocked", s.blocked}});
    }
    j["peers"]["rows"].push_back(
        {{"name", p.name}, {"available", p.available}, {"reason", p.reason}, {"scenarios", sc}});
  }
  j["noise"] = r.noise;
  j["errors"] = r.errors;
  return j.dump(2) + "\n";
}

}  // namespace ringside::lab
