// Every event a decoder accepts must come out as one valid JSON object on one line.
#pragma once

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/event.hpp"
#include "core/json.hpp"

namespace ringside::fuzz {

inline void check_event_json(const Event& ev) {
  std::string line;
  append_event_json(line, ev);
  // One line: the encoder ends it with the only newline it writes.
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) std::abort();
  if (!nlohmann::json::accept(line)) std::abort();
}

}  // namespace ringside::fuzz
