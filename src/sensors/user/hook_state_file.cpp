#include "sensors/user/hook_state_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.hpp"
#include "sensors/user/preload/hook_logic.h"

namespace ringside {

namespace {

// Which opens hooked programs report: the policy's setting, or all of them while a user-level
// file.open rule could match any open.
uint32_t file_opens(const policy::Policy& policy) {
  for (auto action : {policy::Action::kDeny, policy::Action::kAlert}) {
    if (policy.has_rules_for(EventType::kFileOpen, Level::kUser, action)) return RS_HOOK_OPENS_ALL;
  }
  switch (policy.settings().file.opens) {
    case policy::OpenReporting::kAll:
      return RS_HOOK_OPENS_ALL;
    case policy::OpenReporting::kWrites:
      return RS_HOOK_OPENS_WRITES;
    case policy::OpenReporting::kNone:
      return RS_HOOK_OPENS_NONE;
  }
  return RS_HOOK_OPENS_WRITES;
}

bool has_user_rules(const policy::Policy& policy, std::string_view category,
                    std::initializer_list<policy::Action> actions) {
  for (size_t i = 0; i < schema::kEventTypes.size(); ++i) {
    if (schema::kEventTypes[i].category != category) continue;
    for (auto a : actions) {
      if (policy.has_rules_for(schema::kEventTypes[i].id, Level::kUser, a)) return true;
    }
  }
  return false;
}

}  // namespace

HookDemands hook_demands(const policy::Policy& policy, uint32_t report_ops) {
  HookDemands d;
  if (policy.has_rules_for(EventType::kProcessExec, Level::kUser, policy::Action::kDeny)) {
    d.sync_ops |= RS_HOOK_OP_EXEC;
  }
  if ((report_ops & RS_HOOK_OP_FILE) && has_user_rules(policy, "file", {policy::Action::kDeny})) {
    d.sync_ops |= RS_HOOK_OP_FILE;
  }
  if ((report_ops & RS_HOOK_OP_NETWORK) &&
      has_user_rules(policy, "network", {policy::Action::kDeny, policy::Action::kRedirect})) {
    d.sync_ops |= RS_HOOK_OP_NETWORK;
  }
  const auto& settings = policy.settings();
  d.deadline_ms = static_cast<uint32_t>(settings.decision_deadline_ms);
  d.fail_closed = settings.fail_mode == policy::FailMode::kClosed;
  d.file_opens = file_opens(policy);
  return d;
}

Result<std::unique_ptr<HookStateFile>> HookStateFile::open(const std::string& path,
                                                           int32_t agent_pid) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open hook state file " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    auto e = errno_error("cannot stat hook state file " + path);
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return Error{"hook state file " + path + " is not a regular file owned by the agent's user"};
  }
  // Grow only: a hooked process must never find its mapping past the end of the file.
  if (st.st_size < static_cast<off_t>(sizeof(rs_hook_state)) &&
      ftruncate(fd, sizeof(rs_hook_state)) != 0) {
    auto e = errno_error("cannot size hook state file " + path);
    close(fd);
    return e;
  }
  if (fchmod(fd, 0644) != 0) {
    auto e = errno_error("cannot chmod hook state file " + path);
    close(fd);
    return e;
  }
  void* map = mmap(nullptr, sizeof(rs_hook_state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  close(fd);
  if (map == MAP_FAILED) return errno_error("cannot map hook state file " + path, map_errno);
  std::unique_ptr<HookStateFile> f(
      new HookStateFile(path, static_cast<rs_hook_state*>(map), agent_pid));
  f->publish(0, 0, false);
  return f;
}

HookStateFile::~HookStateFile() { munmap(map_, sizeof(rs_hook_state)); }

void HookStateFile::publish(uint32_t sync_ops, uint32_t deadline_ms, bool fail_closed,
                            uint32_t report_ops, uint32_t file_opens) {
  deadline_ms_ = deadline_ms;
  rs_hook_state_write_reporting(map_, sync_ops, deadline_ms, fail_closed ? 1 : 0, agent_pid_,
                                report_ops, file_opens);
}

void HookStateFile::clear() { rs_hook_state_write(map_, 0, deadline_ms_, 0, 0); }

}  // namespace ringside
