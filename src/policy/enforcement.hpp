// Where a rule takes effect. `ringside policy check` prints this for every rule, so that an
// operator knows which rules are guaranteed (kernel enforcement a program cannot bypass from
// user space) and which are advisory (user-level hooks).
#pragma once

#include <string>
#include <vector>

#include "policy/policy.hpp"

namespace ringside::policy {

struct EnforcementPoint {
  Level level = Level::kKernel;
  std::string mechanism;  // e.g. "fanotify exec permission"
  bool guaranteed = false;
  std::string effect;  // what happens, e.g. "execve fails with EPERM before the image runs"
};

// Fields the kernel knows when an exec permission event arrives, before the new image runs
// (the file, its hash, the caller and its ancestry), as opposed to argv and cwd of the new image.
bool known_before_exec(Field f);

std::vector<EnforcementPoint> enforcement_points(const Rule& rule);

}  // namespace ringside::policy
