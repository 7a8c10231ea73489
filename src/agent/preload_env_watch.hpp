// Tamper watch, user level: a process the interposer was reporting from (it, or its parent)
// starts a new program whose environment no longer preloads the interposer — `env -u
// LD_PRELOAD`, a cleared environment, a hand-built envp — while /etc/ld.so.preload does not
// preload it either. The new program then runs unhooked; the kernel exec event is the moment
// to notice, and its /proc/PID/environ is the new program's initial environment — read while
// /proc/PID/exe is still the program the event names (a program that has ended, or exec'd
// again, by then is not checked; the next exec is).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/event.hpp"

namespace ringside {

class PreloadEnvWatch {
 public:
  // Reads a file whole, or the target of a symbolic link; nothing when it cannot be read
  // (tests inject their own /proc).
  using ReadFile = std::function<std::optional<std::string>(const std::string& path)>;
  explicit PreloadEnvWatch(ReadFile read_file = {}, ReadFile read_link = {},
                           std::string proc_root = "/proc");

  // Called for every event the agent emits. Returns a ringside.tamper event (target
  // preload_env, change stripped) for the kernel exec of a hooked process's new program that
  // lost the interposer.
  std::optional<Event> observe(const Event& ev);

  // True when an environment (NUL-separated KEY=VALUE) or an ld.so.preload text preloads the
  // interposer library.
  static bool env_preloads(std::string_view environ);
  static bool config_preloads(std::string_view ld_so_preload);

 private:
  ReadFile read_, read_link_;
  std::string proc_root_;
  std::mutex mu_;
  std::unordered_set<int32_t> hooked_;  // pids the interposer reported from; mu_
};

}  // namespace ringside
