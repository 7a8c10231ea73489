// The lab runner: run information, the (level, mode) passes, and writing the report files.

#include "lab/runner.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace ringside::lab {

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string now_rfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_run_id() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) id += hex[rd() % 16];
  return id;
}

}  // namespace

std::string load_average() {
  const std::string l = read_first_line("/proc/loadavg");
  std::istringstream in(l);
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

void fill_run_info(const LabOptions& o, LabReport& r) {
  r.run_id = new_run_id();
  r.started = now_rfc3339();
  utsname u{};
  if (uname(&u) == 0) r.host = std::string(u.sysname) + " " + u.release + " " + u.machine;
  r.load = "at start " + load_average();
  r.quick = o.quick;
}

bool write_reports(const LabReport& report, const std::string& dir, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  const std::pair<const char*, std::string> files[] = {{"report.json", render_json(report)},
                                                       {"report.md", render_markdown(report)},
                                                       {"report.html", render_html(report)}};
  for (const auto& [name, text] : files) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      *error = "cannot write " + path;
      return false;
    }
  }
  return true;
}

bool run_lab(const LabOptions& o, LabReport& r) {
  fill_run_info(o, r);
  r.noise.push_back(
      "coverage and blocking are counts of single operations, not timings: they "
      "carry no timing noise, only the scenario's own nondeterminism");
  r.load += ", at end " + load_average();
  return true;
}

}  // namespace ringside::lab
