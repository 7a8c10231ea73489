#pragma once
// After start-up checks, `ringside run` keeps only the capabilities its sensors and sinks use
// (docs/architecture.md, "Privileges"): it drops every other one from the bounding, permitted,
// effective, inheritable and ambient sets, once, while the process has a single thread, so the
// supervisor, the agent and every thread and program they start inherit the reduced sets.

#include <linux/capability.h>

#include <span>
#include <string>

#include "core/result.hpp"

namespace ringside {

// The capabilities kept, in the order docs/architecture.md lists them.
std::span<const int> kept_capabilities();

// What was dropped, or an error. A process without CAP_SETPCAP (not root) has nothing to drop
// from its bounding set and only clears its other sets.
Result<std::string> drop_unneeded_capabilities();

}  // namespace ringside
