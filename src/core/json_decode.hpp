// JSON -> Event, the inverse of core/json.hpp: reads the nested ECS objects back into schema
// fields. Used by the replay sensor and by tests; unknown keys are an error, so a recorded
// stream from another schema version is noticed rather than half-read.
#pragma once

#include <string_view>

#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside {

Result<Event> parse_event_json(std::string_view line);

// Parses an RFC 3339 UTC timestamp with up to 9 fractional digits ("...Z").
Result<int64_t> parse_rfc3339(std::string_view text);

}  // namespace ringside
