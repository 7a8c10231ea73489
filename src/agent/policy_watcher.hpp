// Watches the policy file for changes (inotify on its directory, since editors replace a file
// by renaming a new one over it) and asks for a reload: it raises SIGHUP in the agent's
// process, so that a change on disk and a SIGHUP take the same path (Agent::run_until_signal),
// one reload at a time. A burst of changes (write, then rename) gives one reload.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside {

class PolicyWatcher {
 public:
  // `on_change` is called on the watcher's thread once a change settled (default: raise
  // SIGHUP in this process).
  static Result<std::unique_ptr<PolicyWatcher>> start(const std::string& policy_path,
                                                      std::function<void()> on_change = {});
  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // True once after the watcher asked for a reload (tells a change on disk from a SIGHUP).
  bool take_pending() { return pending_.exchange(false); }

 private:
  PolicyWatcher() = default;
  void loop();

  std::string dir_, name_;
  int inotify_ = -1;
  int wake_ = -1;  // eventfd: stop
  std::function<void()> on_change_;
  std::atomic<bool> pending_{false};
  std::thread thread_;
};

// The ringside.policy event for a load or reload: outcome success or failure, the file, what
// triggered it (start | sighup | file_change) and the message (every file:line:column error).
Event policy_event(bool ok, const std::string& path, std::string_view trigger,
                   const std::string& message);

}  // namespace ringside
