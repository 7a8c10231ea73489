// ringside doctor: which mechanisms this kernel and session offer, and why not. A report, so
// it exits 0 whatever it finds.

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/result.hpp"
#include "sensors/kernel/probe.hpp"

namespace ringside::cli {

namespace {

// The interposer is found next to the ringside binary.
probe::Capability interposer() {
  probe::Capability c;
  c.name = "interposer";
  c.mechanism = "interposer (LD_PRELOAD hooks)";
  c.level = Level::kUser;
  c.area = "process,file,network";
  const std::string lib = self_dir() + "/libringside-preload.so";
  c.available = access(lib.c_str(), R_OK) == 0;
  c.reason = c.available ? lib : lib + ": " + errno_text(errno);
  return c;
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

void print_table(const std::vector<probe::Capability>& caps) {
  size_t w_mech = 9, w_area = 4;
  for (const auto& c : caps) {
    w_mech = std::max(w_mech, c.mechanism.size());
    w_area = std::max(w_area, c.area.size());
  }
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
  std::cout << "kernel " << kernel_release()
            << (geteuid() == 0 ? ""
                               : " (not root: kernel "
                                 "probes may be refused)")
            << "\n\n";
  std::cout << pad("mechanism", w_mech) << "  " << pad("level", 6) << "  " << pad("area", w_area)
            << "  available  reason\n";
  for (const auto& c : caps) {
    std::cout << pad(c.mechanism, w_mech) << "  " << pad(std::string(to_string(c.level)), 6) << "  "
              << pad(c.area, w_area) << "  " << pad(c.available ? "yes" : "no", 9) << "  "
              << c.reason << "\n";
  }
}

int doctor(bool as_json) {
  std::vector<probe::Capability> caps = probe::probe_all();
  caps.push_back(interposer());
  if (!as_json) {
    print_table(caps);
    return 0;
  }
  nlohmann::ordered_json j;
  j["kernel"] = kernel_release();
  j["root"] = geteuid() == 0;
  j["mechanisms"] = nlohmann::ordered_json::object();
  for (const auto& c : caps) {
    j["mechanisms"][c.name] = {{"mechanism", c.mechanism},
                               {"level", std::string(to_string(c.level))},
                               {"area", c.area},
                               {"available", c.available},
                               {"reason", c.reason}};
  }
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace

void add_doctor(CLI::App& app, int& status) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd =
      app.add_subcommand("doctor", "Report which kernel and session mechanisms are available");
  cmd->add_flag("--json", *as_json, "One JSON object instead of a table");
  cmd->callback([as_json, &status] { status = doctor(*as_json); });
}

}  // namespace ringside::cli
