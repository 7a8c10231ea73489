// report.html: one self-contained page (inline CSS, inline SVG charts drawn here, no script,
// no external URL): the pros/cons table, coverage and blocking bars per area and level, the
// coverage matrix, bypasses, overhead bars per level and peer, peers and noise.

#include <fmt/format.h>

#include "lab/report.hpp"

namespace ringside::lab {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222;background:#fff}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #bbb;padding:3px 6px;
font-size:13px;vertical-align:top}th{background:#eee}.seen,.blocked{background:#c8ecc8}
.missed,.not_blocked{background:#f6c6c6}.error{background:#f3e08c}.skipped{background:#ddd}
small{color:#555}h2{margin-top:28px}svg text{font-size:12px;font-family:sans-serif})";

// Horizontal bars, one per (label, value in 0..max).
std::string bar_chart(const std::vector<std::pair<std::string, double>>& bars, double max,
                      const std::string& unit, const std::string& color) {
  const int row = 22, label_w = 220, bar_w = 420;
  const int height = static_cast<int>(bars.size()) * row + 10;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">",
      label_w + bar_w + 90, height);
  int y = 5;
  for (const auto& [label, value] : bars) {
    const double w = max > 0 ? bar_w * std::min(value, max) / max : 0;
    s += fmt::format("<text x=\"0\" y=\"{}\">{}</text>", y + 14, esc(label));
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#eee\"/>", label_w,
                     y + 2, bar_w, row - 6);
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>",
                     label_w, y + 2, w, row - 6, color);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{:.1f}{}</text>", label_w + bar_w + 6, y + 14, value,
                     unit);
    y += row;
  }
  return s + "</svg>";
}

std::string cell_td(const Cell* c) {
  if (c == nullptr) return "<td>—</td>";
  std::string title = c->detail;
  for (const auto& f : c->wrong_fields) title += " wrong: " + f;
  std::string s =
      fmt::format("<td class=\"{}\" title=\"{}\">{}", esc(c->result), esc(title), esc(c->result));
  if (!c->cause.empty()) s += "<br><small>" + esc(c->cause) + "</small>";
  return s + "</td>";
}

}  // namespace

std::string render_html(const LabReport& r) {
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  o += "<title>ringside lab report</title><style>" + std::string(kStyle) + "</style></head><body>";
  o += "<h1>ringside lab report</h1>";
  o += fmt::format(
      "<p>Run <code>{}</code> started {} on {}{}: {} scenarios in {:.1f} s. Load: {}.</p>",
      esc(r.run_id), esc(r.started), esc(r.host), r.quick ? " (--quick)" : "", r.rows.size(),
      r.elapsed_s, esc(r.load));

  o += "<h2>Pros and cons, measured</h2><table><tr><th>area</th><th>level</th>"
       "<th>coverage (monitor)</th><th>blocked (deny)</th><th>misses and causes</th>"
       "<th>overhead</th></tr>";
  std::vector<std::pair<std::string, double>> cov, blk;
  for (const auto& area : lab_areas()) {
    for (const auto& level : r.levels) {
      const AreaSummary s = summarize(r, area, level);
      if (s.scenarios == 0) continue;
      cov.emplace_back(area + " / " + level, s.coverage_pct());
      blk.emplace_back(area + " / " + level, s.block_pct());
      std::string misses;
      for (const auto& m : s.misses) misses += esc(m) + "<br>";
      std::string overhead = "not measured in this run";
      for (const auto& ov : r.overhead) {
        if (ov.area == area && ov.level_or_peer == level) {
          overhead = fmt::format("×{:.2f}, {:.1f} µs CPU/op, ±{:.0f} %", ov.ratio,
                                 ov.agent_cpu_us_per_op, ov.noise_pct);
        }
      }
      o += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{:.0f} % ({}/{})</td><td>{:.0f} % ({}/{})</td>"
          "<td>{}</td><td>{}</td></tr>",
          area, level, s.coverage_pct(), s.seen, s.monitor_runs, s.block_pct(), s.blocked,
          s.deny_runs, misses.empty() ? "none" : misses, esc(overhead));
    }
  }
  o += "</table>";
  o += "<h3>Coverage in monitor mode (% of scenarios seen with the right fields)</h3>";
  o += bar_chart(cov, 100, " %", "#3a7bd5");
  o += "<h3>Blocked in deny mode (% of scenarios stopped, event saying deny)</h3>";
  o += bar_chart(blk, 100, " %", "#c0392b");

  o += "<h2>Coverage matrix</h2><table><tr><th>scenario</th><th>area</th>";
  for (const auto& level : r.levels) {
    o += fmt::format("<th>{} monitor</th><th>{} deny</th>", esc(level), esc(level));
  }
  o += "</tr>";
  for (const auto& row : r.rows) {
    o += fmt::format("<tr><td><code>{}</code><br><small>{}</small></td><td>{}</td>", esc(row.id),
                     esc(row.title), esc(row.area));
    for (const auto& level : r.levels) {
      o += cell_td(row.cell(level, "monitor")) + cell_td(row.cell(level, "deny"));
    }
    o += "</tr>";
  }
  o += "</table>";

  o += "<h2>Seen at one level only (bypasses and blind spots)</h2><ul>";
  const auto one = one_level_records(r);
  for (const auto& c : one) {
    o += fmt::format("<li><code>{}</code> {} pid {}: seen by {} only</li>", esc(c.scenario),
                     esc(c.action), c.pid, esc(c.seen_by.empty() ? "?" : c.seen_by.front()));
  }
  if (one.empty()) o += "<li>none</li>";
  o += fmt::format("</ul><p>{} operations correlated into one record seen by both levels.</p>",
                   r.correlated.size() - one.size());

  o += "<h2>Overhead</h2>";
  if (r.overhead.empty()) {
    o += "<p>Not measured in this run.</p>";
  } else {
    std::vector<std::pair<std::string, double>> bars;
    double max = 1;
    for (const auto& ov : r.overhead) {
      bars.emplace_back(ov.area + " / " + ov.level_or_peer, ov.ratio);
      max = std::max(max, ov.ratio);
    }
    o += "<p>Workload time with the monitor divided by time without (1.0 = no cost).</p>";
    o += bar_chart(bars, max, "×", "#8e44ad");
    o += "<table><tr><th>area</th><th>level or peer</th><th>ratio</th><th>agent CPU µs/op</th>"
         "<th>RSS MiB</th><th>noise</th><th>note</th></tr>";
    for (const auto& ov : r.overhead) {
      o += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{:.3f}</td><td>{:.2f}</td><td>{:.1f}</td>"
          "<td>±{:.1f} %</td><td>{}</td></tr>",
          esc(ov.area), esc(ov.level_or_peer), ov.ratio, ov.agent_cpu_us_per_op, ov.rss_mib,
          ov.noise_pct, esc(ov.note));
    }
    o += "</table>";
  }

  o += "<h2>Peers</h2>";
  if (r.peers.empty()) {
    o += "<p>Not measured in this run.</p>";
  } else {
    o += "<table><tr><th>peer</th><th>ran</th><th>saw</th><th>blocked</th></tr>";
    for (const auto& p : r.peers) {
      int saw = 0, blocked = 0;
      for (const auto& s : p.scenarios) {
        saw += s.saw ? 1 : 0;
        blocked += s.blocked ? 1 : 0;
      }
      o += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(p.name),
                       p.available ? "yes" : "no: " + esc(p.reason), saw, blocked);
    }
    o += "</table>";
    const SideBySide sbs = side_by_side(r);
    if (!sbs.rows.empty()) {
      o += "<table><tr><th>scenario</th>";
      for (const auto& c : sbs.columns) o += "<th>" + esc(c) + "</th>";
      o += "</tr>";
      for (const auto& [id, cells] : sbs.rows) {
        o += "<tr><td>" + esc(id) + "</td>";
        for (const auto& c : cells) o += "<td>" + (c.empty() ? std::string("—") : esc(c)) + "</td>";
        o += "</tr>";
      }
      o += "</table>";
    }
  }

  o += "<h2>Noise</h2><ul>";
  for (const auto& n : r.noise) o += "<li>" + esc(n) + "</li>";
  o += "</ul>";
  if (!r.errors.empty()) {
    o += "<h2>Runner errors</h2><ul>";
    for (const auto& e : r.errors) o += "<li>" + esc(e) + "</li>";
    o += "</ul>";
  }
  return o + "</body></html>\n";
}

}  // namespace ringside::lab
