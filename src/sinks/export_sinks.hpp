// Opens the store and export sinks `ringside run` was asked for (--db, --syslog, --kafka), in
// that order. An option that cannot be honoured (bad URL, unwritable store) is an error at
// start-up; a collector that is merely down is not (its sink counts and retries).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sinks/sink.hpp"

namespace ringside {

struct ExportOptions {
  std::string db_path;        // SQLite store; empty: none
  int64_t db_max_age_ns = 0;  // retention by age; 0: keep
  int64_t db_max_bytes = 0;   // retention by size; 0: no limit
  std::string syslog_url;     // tcp://HOST:PORT | udp://HOST:PORT
  std::string kafka_brokers;  // bootstrap servers
  std::string kafka_topic;    // single topic; empty: ringside.<category>
  std::vector<std::pair<std::string, std::string>> kafka_config;
};

Result<std::vector<std::unique_ptr<Sink>>> open_export_sinks(const ExportOptions& options);

// "30d", "12h", "90m", "45s" -> ns; "0" -> 0.
Result<int64_t> parse_duration_ns(std::string_view text);
// "512M", "2G", "100k", "4096" -> bytes.
Result<int64_t> parse_size_bytes(std::string_view text);

}  // namespace ringside
