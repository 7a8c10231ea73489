// The lab runner: starts the real agent once per (level, mode), runs every scenario under it,
// reads the agent's JSON lines and fills the report's coverage matrix and correlation.
#pragma once

#include <string>

#include "lab/report.hpp"

namespace ringside::lab {

struct LabOptions {
  bool quick = false;
  std::string out_dir;
  std::string bin_dir;  // holds ringside, libringside-preload.so and the lab's helper programs
};

// Fills `report` (run information, matrix, correlation, noise, errors). Progress goes to
// stderr. Returns false when the lab could not run at all (the reason is in report.errors).
bool run_lab(const LabOptions& options, LabReport& report);

// Writes report.json, report.md and report.html into `dir`; false with `error` set on failure.
bool write_reports(const LabReport& report, const std::string& dir, std::string* error);

}  // namespace ringside::lab
