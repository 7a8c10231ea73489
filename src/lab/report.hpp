// The lab's report model: what `ringside lab` measured, as plain data. The runner fills the
// coverage matrix and the correlation; the overhead and peer runs fill their own lists. The
// renderers (report_json.cpp, report_md.cpp, report_html.cpp) turn it into report.json,
// report.md and report.html; a list left empty is rendered as "not measured in this run".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringside::lab {

// One scenario at one level in one mode.
struct Cell {
  std::string level;   // kernel | user
  std::string mode;    // monitor | deny
  std::string result;  // seen | missed | blocked | not_blocked | error | skipped
  // Why the level missed it or did not block it: the scenario's declared reason, reported only
  // when the level actually missed; "unexpected" when no reason was declared.
  std::string cause;
  std::string detail;  // what was measured: exit status, errno, the event's verdict, wrong fields
  std::vector<std::string> wrong_fields;  // required fields an event had wrong (result missed)
  double elapsed_ms = 0;                  // the operation's wall time
};

struct ScenarioRow {
  std::string id;     // e.g. process.static_exec
  std::string area;   // process | file | network | keyboard
  std::string title;  // one line: what the scenario does
  std::string marker;
  std::vector<Cell> cells;
  const Cell* cell(const std::string& level, const std::string& mode) const {
    for (const auto& c : cells) {
      if (c.level == level && c.mode == mode) return &c;
    }
    return nullptr;
  }
};

// The same operation as the levels reported it (correlation of the monitor-mode runs).
struct CorrelatedRecord {
  std::string scenario;
  std::string action;  // event.category.event.action, e.g. process.exec
  int64_t pid = 0;
  std::string marker;
  std::vector<std::string> seen_by;  // ringside.seen_by: kernel, user
};

// Overhead of one area under one level or peer, measured as interleaved A/B runs.
struct OverheadRow {
  std::string area;           // process | file | network | keyboard
  std::string level_or_peer;  // kernel | user | auditd | ...
  double ratio = 0;           // workload time with / without (1.0 = no overhead)
  double agent_cpu_us_per_op = 0;
  double rss_mib = 0;    // agent (or peer) resident set size
  double noise_pct = 0;  // spread of the A/B pairs, percent
  std::string note;
};

struct PeerScenario {
  std::string scenario;
  bool saw = false;
  bool blocked = false;
};

struct PeerRow {
  std::string name;  // auditd | snoopy | fatrace | fapolicyd | opensnitch
  bool available = false;
  std::string reason;  // why it cannot run here (when not available)
  std::vector<PeerScenario> scenarios;
};

// Per area and level: the measured figures of the pros/cons table.
struct AreaSummary {
  std::string area;
  std::string level;
  int scenarios = 0;
  int seen = 0;       // monitor mode
  int blocked = 0;    // deny mode
  int deny_runs = 0;  // deny-mode cells that ran (not skipped)
  int monitor_runs = 0;
  std::vector<std::string> misses;  // "scenario: cause"
  double coverage_pct() const { return monitor_runs ? 100.0 * seen / monitor_runs : 0; }
  double block_pct() const { return deny_runs ? 100.0 * blocked / deny_runs : 0; }
};

struct LabReport {
  std::string run_id;
  std::string started;  // RFC 3339
  std::string host;     // uname: kernel release, machine
  std::string load;     // /proc/loadavg at start and end
  bool quick = false;
  double elapsed_s = 0;
  std::vector<std::string> levels;  // levels that ran
  std::vector<ScenarioRow> rows;
  std::vector<CorrelatedRecord> correlated;
  std::vector<OverheadRow> overhead;
  std::vector<PeerRow> peers;
  // What the figures carry: timing noise, load, anything that makes a cell less than exact.
  std::vector<std::string> noise;
  std::vector<std::string> errors;  // runner problems (an agent that did not start, ...)
};

inline const std::vector<std::string>& lab_areas() {
  static const std::vector<std::string> a = {"process", "file", "network", "keyboard"};
  return a;
}

// Figures of one area at one level, computed from the matrix.
AreaSummary summarize(const LabReport& r, const std::string& area, const std::string& level);

// Operations seen at one level only: the measured bypasses and blind spots.
std::vector<CorrelatedRecord> one_level_records(const LabReport& r);

// ringside's levels next to the peers, for every scenario an available peer was shown (in the
// battery's order, then the peers' own steps): each row is the scenario and one text per
// column -- ringside kernel, ringside user (monitor mode: seen | missed), then each available
// peer (blocked | seen | missed, or "" when that peer was not shown the scenario).
struct SideBySide {
  std::vector<std::string> columns;
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
};
SideBySide side_by_side(const LabReport& r);

std::string render_json(const LabReport& r);
std::string render_markdown(const LabReport& r);
std::string render_html(const LabReport& r);

}  // namespace ringside::lab
