// ringside hook install | uninstall | status: the system-wide interposer, /etc/ld.so.preload.
//
// A broken preload file breaks every program on the machine, so the order is fixed:
//   install:   copy the library next to its final name, prove that it loads, rename it into
//              place, then add its line to the preload file (temporary file + rename);
//   uninstall: remove the line first (temporary file + rename), then the library.
// At no point does the preload file name a library that is missing or unproven.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/result.hpp"
#include "sensors/user/hook_protocol.h"
#include "sensors/user/preload/hook_logic.h"

extern char** environ;

namespace ringside::cli {

namespace {

constexpr const char* kLibraryName = "libringside-preload.so";
constexpr std::chrono::seconds kVerifyTimeout{10};

struct HookArgs {
  std::string preload_file = "/etc/ld.so.preload";
  std::string lib_dir = "/usr/local/lib/ringside";
  std::string library;  // install: the library to copy (default: next to the ringside binary)
  std::string socket;   // status
};

std::string installed_path(const HookArgs& a) { return a.lib_dir + "/" + kLibraryName; }

Result<std::string> read_file(const std::string& path, bool missing_ok) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (missing_ok && errno == ENOENT) return std::string();
    return errno_error("cannot read " + path);
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = errno_error("cannot read " + path);
      close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

Result<void> fsync_dir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open " + dir);
  const int rc = fsync(fd);
  const int saved = errno;
  close(fd);
  if (rc != 0) return errno_error("cannot sync " + dir, saved);
  return ok();
}

// Writes `content` to a new temporary file next to `final_path`, synced to disk; returns its
// name. The caller renames it into place or removes it.
Result<std::string> write_temporary(const std::string& final_path, std::string_view content,
                                    mode_t mode) {
  const std::filesystem::path p(final_path);
  std::string tmpl =
      (p.parent_path() / ("." + p.filename().string() + ".ringside-XXXXXX")).string();
  const int fd = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return errno_error("cannot create a temporary file next to " + final_path);
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  const bool written = off == content.size() && fchmod(fd, mode) == 0 && fsync(fd) == 0;
  const int saved = errno;
  close(fd);
  if (!written) {
    unlink(tmpl.c_str());
    return errno_error("cannot write " + tmpl, saved);
  }
  return tmpl;
}

Result<void> commit(const std::string& tmp, const std::string& final_path) {
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    auto e = errno_error("cannot rename " + tmp + " to " + final_path);
    unlink(tmp.c_str());
    return e;
  }
  return fsync_dir(std::filesystem::path(final_path).parent_path().string());
}

Result<void> replace_file(const std::string& path, std::string_view content, mode_t mode) {
  auto tmp = write_temporary(path, content, mode);
  if (!tmp) return std::move(tmp).error();
  return commit(*tmp, path);
}

// Runs `cat /proc/self/maps` with the library preloaded: it must exit 0 and list the library
// among its mappings (ld.so only warns and carries on when a preload fails to load).
Result<void> verify_loads(const std::string& library) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return errno_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDERR_FILENO);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) env_store.emplace_back(*e);
  }
  env_store.push_back("LD_PRELOAD=" + library);
  std::vector<char*> envp;
  envp.reserve(env_store.size() + 1);
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string cat = "/bin/cat", maps = "/proc/self/maps";
  char* argv[] = {cat.data(), maps.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return errno_error("cannot run /bin/cat to check the library", rc);
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + kVerifyTimeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{out[0], POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    char buf[4096];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) return Error{"checking " + library + " timed out"};
  bool mapped = false;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("cannot be preloaded") != std::string::npos) {
      return Error{library + " does not load: " + line};
    }
    const size_t space = line.rfind(' ');
    if (space != std::string::npos && line.substr(space + 1) == library) mapped = true;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error{"a program preloading " + library + " failed (status " + std::to_string(status) +
                 "): " + output.substr(0, 200)};
  }
  if (!mapped) return Error{library + " was not mapped by a program that preloads it"};
  return ok();
}

// The preload file as lines; entries are separated by white space (or ':'), '#' starts a comment.
bool lists_library(const std::string& content, const std::string& library) {
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::replace(line.begin(), line.end(), ':', ' ');
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (w == library) return true;
    }
  }
  return false;
}

// `content` without the entries naming `library`; lines left empty by that are dropped.
std::string without_library(const std::string& content, const std::string& library) {
  std::istringstream in(content);
  std::string out, line;
  while (std::getline(in, line)) {
    const size_t hash = line.find('#');
    std::string entries = line.substr(0, hash);
    const std::string comment = hash == std::string::npos ? "" : line.substr(hash);
    std::replace(entries.begin(), entries.end(), ':', ' ');
    std::istringstream words(entries);
    std::string kept, w;
    bool removed = false;
    while (words >> w) {
      if (w == library) {
        removed = true;
        continue;
      }
      kept += (kept.empty() ? "" : " ") + w;
    }
    if (!removed) {
      out.append(line).append("\n");
    } else if (!kept.empty() || !comment.empty()) {
      out.append(kept).append(kept.empty() || comment.empty() ? "" : " ");
      out.append(comment).append("\n");
    }
  }
  return out;
}

int install(const HookArgs& a) {
  const std::string source = a.library.empty() ? self_dir() + "/" + kLibraryName : a.library;
  const std::string target = installed_path(a);
  auto bytes = read_file(source, false);
  if (!bytes) {
    std::cerr << "ringside hook install: " << bytes.error().message << "\n";
    return 1;
  }
  std::error_code ec;
  if (std::filesystem::create_directories(a.lib_dir, ec)) chmod(a.lib_dir.c_str(), 0755);
  if (ec) {
    std::cerr << "ringside hook install: cannot create " << a.lib_dir << ": " << ec.message()
              << "\n";
    return 1;
  }
  auto tmp = write_temporary(target, *bytes, 0644);
  if (!tmp) {
    rmdir(a.lib_dir.c_str());  // only when this left it empty
    std::cerr << "ringside hook install: " << tmp.error().message << "\n";
    return 1;
  }
  if (auto v = verify_loads(*tmp); !v) {
    unlink(tmp->c_str());
    rmdir(a.lib_dir.c_str());
    std::cerr << "ringside hook install: not installing: " << v.error().message << "\n";
    return 1;
  }
  if (auto c = commit(*tmp, target); !c) {
    std::cerr << "ringside hook install: " << c.error().message << "\n";
    return 1;
  }
  auto current = read_file(a.preload_file, true);
  if (!current) {
    std::cerr << "ringside hook install: " << current.error().message << "\n";
    return 1;
  }
  if (lists_library(*current, target)) {
    std::cout << target << " updated; " << a.preload_file << " already lists it\n";
    return 0;
  }
  std::string content = *current;
  if (!content.empty() && content.back() != '\n') content += "\n";
  content += target + "\n";
  if (auto w = replace_file(a.preload_file, content, 0644); !w) {
    std::cerr << "ringside hook install: " << w.error().message << "\n";
    return 1;
  }
  std::cout << "installed " << target << " in " << a.preload_file << "\n";
  return 0;
}

int uninstall(const HookArgs& a) {
  const std::string target = installed_path(a);
  auto current = read_file(a.preload_file, true);
  if (!current) {
    std::cerr << "ringside hook uninstall: " << current.error().message << "\n";
    return 1;
  }
  if (lists_library(*current, target)) {
    const std::string rest = without_library(*current, target);
    // Nothing else was preloaded: remove the file rather than leave an empty one.
    const bool remove = rest.find_first_not_of(" \t\n") == std::string::npos;
    Result<void> updated = ok();
    if (!remove) {
      updated = replace_file(a.preload_file, rest, 0644);
    } else if (unlink(a.preload_file.c_str()) != 0) {
      updated = errno_error("cannot remove " + a.preload_file);
    }
    if (!updated) {
      std::cerr << "ringside hook uninstall: " << updated.error().message
                << "; the library stays\n";
      return 1;
    }
    std::cout << "removed " << target << " from " << a.preload_file << "\n";
  }
  if (unlink(target.c_str()) == 0) {
    std::cout << "removed " << target << "\n";
  } else if (errno != ENOENT) {
    std::cerr << "ringside hook uninstall: cannot remove " << target << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  rmdir(a.lib_dir.c_str());  // only when empty
  return 0;
}

int status(const HookArgs& a) {
  const std::string target = installed_path(a);
  auto current = read_file(a.preload_file, true);
  const bool listed = current && lists_library(*current, target);
  const bool present = access(target.c_str(), R_OK) == 0;
  std::cout << "library:      " << target << (present ? "" : " (missing)") << "\n";
  std::cout << "preload file: " << a.preload_file
            << (listed ? " (lists the library)" : " (does not list the library)") << "\n";
  std::string socket = a.socket;
  if (socket.empty()) {
    const char* env = std::getenv("RINGSIDE_SOCKET");  // NOLINT(concurrency-mt-unsafe)
    socket = env != nullptr && *env != '\0' ? env : RS_HOOK_DEFAULT_SOCKET;
  }
  const rs_hook_state* state = rs_hook_state_map((socket + RS_HOOK_STATE_SUFFIX).c_str());
  rs_hook_state_view view{};
  rs_hook_state_read(state, &view);
  rs_hook_state_unmap(state);
  std::cout << "agent:        ";
  if (view.valid && view.agent_pid > 0) {
    std::cout << "pid " << view.agent_pid << " on " << socket << ", exec "
              << ((view.sync_ops & RS_HOOK_OP_EXEC) != 0 ? "waits for a verdict" : "reported only")
              << "\n";
  } else {
    std::cout << "not running on " << socket << "\n";
  }
  if (listed && !present) {
    std::cout << "BROKEN: the preload file names a missing library\n";
    return 2;
  }
  return listed ? 0 : 1;
}

}  // namespace

void add_hook(CLI::App& app, int& status_out) {
  auto args = std::make_shared<HookArgs>();
  CLI::App* cmd =
      app.add_subcommand("hook", "Manage the system-wide interposer (/etc/ld.so.preload)");
  cmd->require_subcommand(1);
  auto common = [args](CLI::App* sub) {
    sub->add_option("--preload-file", args->preload_file, "Preload list to edit")
        ->capture_default_str();
    sub->add_option("--lib-dir", args->lib_dir, "Where the installed library lives")
        ->capture_default_str();
  };
  CLI::App* inst = cmd->add_subcommand(
      "install",
      "Copy the interposer to --lib-dir, check that it loads, add it to the preload file");
  common(inst);
  inst->add_option("--library", args->library,
                   "Library to install (default: libringside-preload.so next to ringside)");
  inst->callback([args, &status_out] { status_out = install(*args); });
  CLI::App* uninst = cmd->add_subcommand(
      "uninstall", "Remove the interposer from the preload file, then delete the library");
  common(uninst);
  uninst->callback([args, &status_out] { status_out = uninstall(*args); });
  CLI::App* stat = cmd->add_subcommand(
      "status", "Show whether the interposer is installed and whether an agent is listening");
  common(stat);
  stat->add_option("--socket", args->socket, "Agent hook socket");
  stat->callback([args, &status_out] { status_out = status(*args); });
}

}  // namespace ringside::cli
