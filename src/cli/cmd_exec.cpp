// ringside exec: run one command with the interposer injected, reporting to the running agent.
//
// The command's own exec is reported and enforced too: this process loads the interposer with
// dlopen and calls the interposer's execvp, which reports, waits for a verdict when the agent
// asks for one, and then runs the command (with LD_PRELOAD set, so that everything the command
// starts is hooked as well). No trampoline process, no copy of the hook's logic.

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "sensors/user/hook_protocol.h"

namespace ringside::cli {

namespace {

constexpr std::string_view kLibraryName = "libringside-preload.so";
constexpr int kCannotRun = 127;

using ExecvpFn = int (*)(const char*, char* const[]);

struct ExecArgs {
  std::string socket;
  std::vector<std::string> command;
};

// True when `list` (LD_PRELOAD: separated by ':' or spaces) already names `lib`.
bool preload_lists(std::string_view list, std::string_view lib) {
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = list.find_first_of(": ", start);
    const std::string_view entry =
        list.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (entry == lib) return true;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return false;
}

// The interposer's execvp: from the copy already loaded into this process (system-wide
// preload), else from a private dlopen of `lib`; nullptr when it cannot be loaded.
ExecvpFn interposed_execvp(const std::string& lib) {
  Dl_info info{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  if (dladdr(reinterpret_cast<void*>(&execvp), &info) != 0 && info.dli_fname != nullptr &&
      std::string_view(info.dli_fname).ends_with(kLibraryName)) {
    return &execvp;
  }
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::cerr << "ringside exec: warning: " << dlerror() << "; the command's own exec is not "
              << "reported\n";
    return nullptr;
  }
  return reinterpret_cast<ExecvpFn>(dlsym(handle, "execvp"));  // NOLINT
}

int run_exec(ExecArgs a) {
  const std::string lib = self_dir() + "/" + std::string(kLibraryName);
  if (access(lib.c_str(), R_OK) != 0) {
    std::cerr << "ringside exec: " << lib << ": " << std::strerror(errno) << "\n";
    return kCannotRun;
  }
  std::string preload = lib;
  if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0') {  // NOLINT
    preload = preload_lists(old, lib) ? std::string(old) : lib + ":" + old;
  }
  std::string socket = a.socket;
  if (socket.empty()) {
    const char* env = std::getenv("RINGSIDE_SOCKET");  // NOLINT(concurrency-mt-unsafe)
    socket = env != nullptr && *env != '\0' ? env : RS_HOOK_DEFAULT_SOCKET;
  }
  // Before loading the interposer: it reads RINGSIDE_SOCKET once, when it is initialised.
  setenv("LD_PRELOAD", preload.c_str(), 1);      // NOLINT(concurrency-mt-unsafe)
  setenv("RINGSIDE_SOCKET", socket.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)

  std::vector<char*> argv;
  argv.reserve(a.command.size() + 1);
  for (auto& s : a.command) argv.push_back(s.data());
  argv.push_back(nullptr);
  const ExecvpFn run = interposed_execvp(lib);
  (run != nullptr ? run : &execvp)(argv[0], argv.data());
  std::cerr << "ringside exec: cannot run " << a.command[0] << ": " << std::strerror(errno) << "\n";
  return kCannotRun;
}

}  // namespace

void add_exec(CLI::App& app, int& status) {
  auto args = std::make_shared<ExecArgs>();
  CLI::App* cmd = app.add_subcommand(
      "exec", "Run one command with the interposer injected, reporting to the running agent");
  cmd->add_option("--socket", args->socket,
                  "Agent hook socket (default $RINGSIDE_SOCKET or " RS_HOOK_DEFAULT_SOCKET ")");
  cmd->add_option("command", args->command, "The command and its arguments")->required();
  // Everything from the command on belongs to the command, options included.
  cmd->positionals_at_end();
  cmd->callback([args, &status] { status = run_exec(*args); });
}

}  // namespace ringside::cli
