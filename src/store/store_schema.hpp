// The event store's SQL schema, derived from schema/events.yaml: one table per event category
// (process, file, network, keyboard, ringside), one column per field an event of that category
// may carry, and the `events` view across every table.
//
// Column names are the field names with '.' as '_' (process.pid -> process_pid; @timestamp ->
// timestamp). Integers and timestamps (ns since the epoch) are INTEGER, strings and addresses
// TEXT, string lists TEXT holding a JSON array. A schema that gained fields is migrated by
// adding the columns; PRAGMA user_version records the store layout version.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/result.hpp"

namespace ringside::store {

// Layout version written to PRAGMA user_version. 1: per-category tables, events view.
inline constexpr int kStoreVersion = 1;

struct Column {
  std::string name;  // SQL column name
  Field field;
  FieldType type;
};

struct Table {
  std::string name;  // the event category
  std::vector<Column> columns;
  std::vector<std::string> indexed;  // columns with an index
};

// "@timestamp" -> "timestamp", "process.parent.pid" -> "process_parent_pid".
std::string column_name(std::string_view field_name);
std::string_view sql_type(FieldType t);

// Every table, in schema order of first appearance of its category.
const std::vector<Table>& tables();
// Index into tables() for an event type, or -1.
int table_of(EventType type);

// Creates or upgrades the store in `db` (tables, added columns, indexes, the events view) and
// records kStoreVersion. Refuses a store written by a newer layout.
Result<void> migrate(sqlite3* db);

// Runs `sql` (no rows expected); the error names `what` and sqlite's message.
Result<void> exec(sqlite3* db, const std::string& sql, std::string_view what);

}  // namespace ringside::store
