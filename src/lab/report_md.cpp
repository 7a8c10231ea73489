// report.md: the coverage matrix, the per-area pros/cons table, bypasses, overhead, peers and
// the noise the figures carry, as GitHub-flavoured Markdown.

#include <fmt/format.h>

#include "lab/report.hpp"

namespace ringside::lab {

namespace {

std::string cell_text(const Cell* c) {
  if (c == nullptr) return "—";
  std::string s = c->result;
  if (!c->cause.empty()) s += " (" + c->cause + ")";
  return s;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '\n') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string render_markdown(const LabReport& r) {
  std::string o;
  o += "# ringside lab report\n\n";
  o += fmt::format("Run `{}` started {} on {}{}; {} scenarios in {:.1f} s. Load: {}.\n\n", r.run_id,
                   r.started, r.host, r.quick ? " (--quick)" : "", r.rows.size(), r.elapsed_s,
                   r.load);

  o += "## Pros and cons, measured\n\n";
  o += "| area | level | coverage (monitor) | blocked (deny) | misses and causes | overhead |\n";
  o += "|---|---|---|---|---|---|\n";
  for (const auto& area : lab_areas()) {
    for (const auto& level : r.levels) {
      const AreaSummary s = summarize(r, area, level);
      if (s.scenarios == 0) continue;
      std::string misses;
      for (const auto& m : s.misses) misses += (misses.empty() ? "" : "; ") + m;
      std::string overhead = "not measured in this run";
      for (const auto& ov : r.overhead) {
        if (ov.area == area && ov.level_or_peer == level) {
          overhead = fmt::format("×{:.2f}, {:.1f} µs CPU/op, ±{:.0f} %", ov.ratio,
                                 ov.agent_cpu_us_per_op, ov.noise_pct);
        }
      }
      o += fmt::format("| {} | {} | {:.0f} % ({}/{}) | {:.0f} % ({}/{}) | {} | {} |\n", area, level,
                       s.coverage_pct(), s.seen, s.monitor_runs, s.block_pct(), s.blocked,
                       s.deny_runs, misses.empty() ? "none" : escape(misses), overhead);
    }
  }

  o += "\n## Coverage matrix\n\n| scenario | area |";
  for (const auto& level : r.levels) o += fmt::format(" {} monitor | {} deny |", level, level);
  o += "\n|---|---|";
  for (size_t i = 0; i < r.levels.size(); ++i) o += "---|---|";
  o += "\n";
  for (const auto& row : r.rows) {
    o += fmt::format("| `{}` — {} | {} |", row.id, escape(row.title), row.area);
    for (const auto& level : r.levels) {
      o += " " + escape(cell_text(row.cell(level, "monitor"))) + " |";
      o += " " + escape(cell_text(row.cell(level, "deny"))) + " |";
    }
    o += "\n";
  }

  o += "\n## Seen at one level only (bypasses and blind spots)\n\n";
  const auto one = one_level_records(r);
  if (one.empty()) o += "None: every correlated operation was seen by every level that ran.\n";
  for (const auto& c : one) {
    o += fmt::format("- `{}` {} pid {} seen by {} only\n", c.scenario, c.action, c.pid,
                     c.seen_by.empty() ? "?" : c.seen_by.front());
  }
  size_t both = r.correlated.size() - one.size();
  o += fmt::format("\n{} operations correlated to one record seen by both levels.\n", both);

  o += "\n## Overhead\n\n";
  if (r.overhead.empty()) {
    o += "Not measured in this run.\n";
  } else {
    o += "| area | level or peer | time ratio | agent CPU µs/op | RSS MiB | noise | note |\n";
    o += "|---|---|---|---|---|---|---|\n";
    for (const auto& ov : r.overhead) {
      o += fmt::format("| {} | {} | {:.3f} | {:.2f} | {:.1f} | ±{:.1f} % | {} |\n", ov.area,
                       ov.level_or_peer, ov.ratio, ov.agent_cpu_us_per_op, ov.rss_mib, ov.noise_pct,
                       escape(ov.note));
    }
  }

  o += "\n## Peers\n\n";
  if (r.peers.empty()) {
    o += "Not measured in this run.\n";
  } else {
    for (const auto& p : r.peers) {
      if (!p.available) {
        o += fmt::format("- **{}**: not run here: {}\n", p.name, escape(p.reason));
        continue;
      }
      int saw = 0, blocked = 0;
      for (const auto& s : p.scenarios) {
        saw += s.saw ? 1 : 0;
        blocked += s.blocked ? 1 : 0;
      }
      o += fmt::format("- **{}**: saw {} and blocked {} of {} scenarios\n", p.name, saw, blocked,
                       p.scenarios.size());
    }
    const SideBySide sbs = side_by_side(r);
    if (!sbs.rows.empty()) {
      o += "\n| scenario |";
      for (const auto& c : sbs.columns) o += " " + c + " |";
      o += "\n|---|";
      for (size_t i = 0; i < sbs.columns.size(); ++i) o += "---|";
      o += "\n";
      for (const auto& [id, cells] : sbs.rows) {
        o += "| `" + id + "` |";
        for (const auto& c : cells) {
          o += " " + (c.empty() ? std::string("—") : c == "missed" ? "**missed**" : c) + " |";
        }
        o += "\n";
      }
    }
  }

  o += "\n## Noise\n\n";
  for (const auto& n : r.noise) o += "- " + escape(n) + "\n";
  if (!r.errors.empty()) {
    o += "\n## Runner errors\n\n";
    for (const auto& e : r.errors) o += "- " + escape(e) + "\n";
  }
  return o;
}

}  // namespace ringside::lab
