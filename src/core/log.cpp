#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace ringside {

namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;

}  // namespace

spdlog::logger& log() {
  std::lock_guard lock(g_mu);
  if (!g_logger) {
    g_logger = std::make_shared<spdlog::logger>("ringside",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    g_logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  return *g_logger;
}

void set_logger(std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard lock(g_mu);
  g_logger = std::move(logger);
}

}  // namespace ringside
