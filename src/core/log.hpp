// Logging goes through one injected spdlog logger. The daemon points it at stderr (or the
// journal); tests replace it to capture what was said. libbpf's own output is routed here too
// (see sensors/kernel/bpf_object.cpp).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace ringside {

// The process-wide logger; never null.
spdlog::logger& log();

// Replaces the logger (tests, the daemon's start-up).
void set_logger(std::shared_ptr<spdlog::logger> logger);

}  // namespace ringside
