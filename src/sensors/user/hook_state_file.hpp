// The agent's end of the interposer's state file (layout and rules:
// sensors/user/hook_protocol.h): what a policy asks of hooked processes, and the file that
// tells them, created once, then only ever updated in place, so that every hooked process that
// mapped it sees each new policy's requirements.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.hpp"

struct rs_hook_state;

namespace ringside {

namespace policy {
class Policy;
}

// What a policy asks of hooked processes, as the state file tells them.
struct HookDemands {
  uint32_t sync_ops = 0;     // RS_HOOK_OP_* that wait for a verdict
  uint32_t deadline_ms = 0;  // how long they wait
  bool fail_closed = false;  // a verdict not given in time refuses
  uint32_t file_opens = 0;   // RS_HOOK_OPENS_*
};
// `report_ops`: the classes (RS_HOOK_OP_FILE, _NETWORK) the agent watches at all; only those can
// wait for a verdict (an exec is always reported).
HookDemands hook_demands(const policy::Policy& policy, uint32_t report_ops);

class HookStateFile {
 public:
  // Opens or creates `path` (mode 0644, a regular file owned by the agent's user; never a
  // symlink), grows it to the state size if needed, maps it and publishes "nothing to wait for".
  static Result<std::unique_ptr<HookStateFile>> open(const std::string& path, int32_t agent_pid);
  ~HookStateFile();
  HookStateFile(const HookStateFile&) = delete;
  HookStateFile& operator=(const HookStateFile&) = delete;

  // sync_ops: RS_HOOK_OP_* bits that need a synchronous verdict; report_ops: file and network
  // classes reported at all; file_opens: RS_HOOK_OPENS_*.
  void publish(uint32_t sync_ops, uint32_t deadline_ms, bool fail_closed, uint32_t report_ops = 0,
               uint32_t file_opens = 2);
  // The agent is stopping: nothing waits for it any more.
  void clear();
  const std::string& path() const { return path_; }

 private:
  HookStateFile(std::string path, rs_hook_state* map, int32_t agent_pid)
      : path_(std::move(path)), map_(map), agent_pid_(agent_pid) {}
  std::string path_;
  rs_hook_state* map_;
  int32_t agent_pid_;
  uint32_t deadline_ms_ = 0;
};

}  // namespace ringside
