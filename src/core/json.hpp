// Event -> JSON, one object per line, nested objects as the schema's dotted names imply.
//
// Hand-written rather than a generic JSON library because it is on every event's path: it
// appends straight into a caller-owned buffer and walks the generated object tree once.
// Strings are escaped for JSON; bytes that are not valid UTF-8 become U+FFFD, so any path a
// program can create still yields valid JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/event.hpp"

namespace ringside {

// Appends `s` as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

// Appends `ns` (since the epoch, UTC) as RFC 3339 with nanoseconds, without quotes.
void append_rfc3339(std::string& out, int64_t ns);

// Appends the event as one JSON object followed by '\n'.
void append_event_json(std::string& out, const Event& ev);

}  // namespace ringside
