// Correlation: events from both levels for the same operation (same pid, same
// category.action, same scenario marker) become one record whose ringside.seen_by lists the
// levels that saw it; records with one level are the measured bypasses and blind spots.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lab/report.hpp"

namespace ringside::lab {

// `events` are the events already recognised as this scenario's (any level, any order).
// Records come out ordered by pid, then action; seen_by in the order kernel, user.
std::vector<CorrelatedRecord> correlate(const std::string& scenario, const std::string& marker,
                                        const std::vector<nlohmann::json>& events);

// The correlated record as an event line: the first event of the group with
// ringside.seen_by set (what `ringside lab` writes to correlated.jsonl).
nlohmann::json correlated_event(const CorrelatedRecord& record,
                                const std::vector<nlohmann::json>& events);

}  // namespace ringside::lab
