// Each `ringside` subcommand registers itself on the CLI11 app and reports its exit status
// through `status` once the app has parsed the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace ringside::cli {

void add_run(CLI::App& app, int& status);
void add_policy(CLI::App& app, int& status);
void add_doctor(CLI::App& app, int& status);
void add_exec(CLI::App& app, int& status);
void add_hook(CLI::App& app, int& status);
void add_tty_session(CLI::App& app, int& status);
void add_query(CLI::App& app, int& status);
void add_lab(CLI::App& app, int& status);
void add_lab_workload(CLI::App& app, int& status);

// Directory holding the ringside binary (and libringside-preload.so next to it).
std::string self_dir();

}  // namespace ringside::cli
