// ringside.tamper events: a change to a file the agent depends on, made by someone else
// (agent/tamper_watch.hpp), or one of the agent's BPF programs detached (the sensor that owns
// it checks).
#pragma once

#include <string>
#include <string_view>

#include "core/event.hpp"

namespace ringside {

// Kernel level, sensor `mechanism`; `target` and `change` as docs/events.md lists them.
Event tamper_event(std::string_view mechanism, std::string_view target, std::string_view change,
                   const std::string& path, const std::string& message);

}  // namespace ringside
