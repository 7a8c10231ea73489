// ringside: Linux endpoint monitoring and control at two levels (kernel and user).

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "core/log.hpp"

namespace ringside::cli {

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace ringside::cli

namespace {

int run_cli(int argc, char** argv) {
  CLI::App app{
      "ringside: see and stop what processes, files, network connections and keystrokes "
      "do, at the kernel level and the user level, under one policy"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  int status = 0;
  ringside::cli::add_run(app, status);
  ringside::cli::add_exec(app, status);
  ringside::cli::add_doctor(app, status);
  ringside::cli::add_policy(app, status);
  ringside::cli::add_hook(app, status);
  ringside::cli::add_tty_session(app, status);
  ringside::cli::add_query(app, status);
  ringside::cli::add_lab(app, status);
  ringside::cli::add_lab_workload(app, status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringside: %s\n", e.what());
  } catch (...) {
    std::fputs("ringside: unexpected error\n", stderr);
  }
  return 1;
}
