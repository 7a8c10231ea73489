// Read-only SQL over the event store (`ringside query`): open the file read-only, refuse any
// statement that would write, and format what a query returns as an aligned table, JSON or CSV.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace ringside::store {

// One cell: NULL, an integer, a real, or text (blobs are shown as text).
using Value = std::variant<std::monostate, int64_t, double, std::string>;

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

enum class QueryError { kNone, kOpen, kWrite, kSql };

struct QueryFailure {
  QueryError kind = QueryError::kNone;
  std::string message;
};

// Runs one statement read-only (SQLITE_OPEN_READONLY and PRAGMA query_only). A statement that
// would write is refused (kWrite); SQL errors carry sqlite's message (kSql).
std::variant<QueryResult, QueryFailure> run_query(const std::string& db_path,
                                                  const std::string& sql);

// Column-aligned text with a header and a rule line; NULL shows as an empty cell; control
// characters in text are shown escaped (\n, \t, \xNN) so one row stays one line.
std::string format_table(const QueryResult& r);
// A JSON array of objects keyed by column name; invalid UTF-8 becomes U+FFFD.
std::string format_json(const QueryResult& r);
// RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled.
std::string format_csv(const QueryResult& r);

}  // namespace ringside::store
