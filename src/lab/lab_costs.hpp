// The lab report's overhead and peers sections (docs/lab.md): the ringside levels' overhead on
// the exec, open and connect workloads (lab/overhead.hpp), and the peers side by side
// (lab/peers.hpp) with their own overhead on the same workloads. Creates and removes its own
// scratch mount, work directory and cgroup; checks the host is left as it was found.
#pragma once

#include <functional>
#include <string>

#include "lab/report.hpp"

namespace ringside::lab {

struct CostOptions {
  bool quick = false;
  std::string bin_dir;  // ringside and libringside-preload.so
  std::string run_id;
  bool overhead = true;       // the overhead section
  bool peers = true;          // the peers section
  bool install_peers = true;  // install missing peer packages (apt)
  std::function<void(const std::string&)> progress;
};

// Fills report.overhead and report.peers; problems go to report.errors and report.noise.
void measure_costs(const CostOptions& o, LabReport& report);

}  // namespace ringside::lab
