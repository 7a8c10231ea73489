#include "sinks/export_sinks.hpp"

#include <filesystem>

#include "sinks/kafka_sink.hpp"
#include "sinks/sqlite_sink.hpp"
#include "sinks/syslog_sink.hpp"

namespace ringside {

namespace {

Result<int64_t> parse_scaled(std::string_view text, std::string_view what, int64_t (*unit)(char)) {
  if (text.empty()) return Error{"empty " + std::string(what)};
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15 || text.size() > digits + 1) {
    return Error{"bad " + std::string(what) + " '" + std::string(text) + "'"};
  }
  const int64_t n = std::stoll(std::string(text.substr(0, digits)));
  const int64_t scale = digits == text.size() ? unit('\0') : unit(text.back());
  if (scale <= 0) return Error{"bad unit in " + std::string(what) + " '" + std::string(text) + "'"};
  return n * scale;
}

}  // namespace

Result<int64_t> parse_duration_ns(std::string_view text) {
  return parse_scaled(text, "duration", [](char c) -> int64_t {
    constexpr int64_t s = 1000000000;
    switch (c) {
      case '\0':
      case 's':
        return s;
      case 'm':
        return 60 * s;
      case 'h':
        return 3600 * s;
      case 'd':
        return 86400 * s;
      default:
        return -1;
    }
  });
}

Result<int64_t> parse_size_bytes(std::string_view text) {
  return parse_scaled(text, "size", [](char c) -> int64_t {
    switch (c) {
      case '\0':
        return 1;
      case 'k':
      case 'K':
        return 1024;
      case 'M':
        return 1024 * 1024;
      case 'G':
        return 1024LL * 1024 * 1024;
      default:
        return -1;
    }
  });
}

Result<std::vector<std::unique_ptr<Sink>>> open_export_sinks(const ExportOptions& o) {
  std::vector<std::unique_ptr<Sink>> out;
  if (!o.db_path.empty()) {
    const auto dir = std::filesystem::path(o.db_path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    // Stored events become visible to readers within a quarter of a second.
    auto db = SqliteSink::open({.path = o.db_path,
                                .max_age_ns = o.db_max_age_ns,
                                .max_bytes = o.db_max_bytes,
                                .commit_interval_ns = 250LL * 1000 * 1000});
    if (!db) return std::move(db).error();
    out.push_back(std::move(db).value());
  }
  if (!o.syslog_url.empty()) {
    auto sys = SyslogSink::open(o.syslog_url);
    if (!sys) return std::move(sys).error();
    out.push_back(std::move(sys).value());
  }
  if (!o.kafka_brokers.empty()) {
    auto k = KafkaSink::open(
        {.brokers = o.kafka_brokers, .topic = o.kafka_topic, .config = o.kafka_config});
    if (!k) return std::move(k).error();
    out.push_back(std::move(k).value());
  }
  return out;
}

}  // namespace ringside
