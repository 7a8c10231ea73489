#include "store/store_schema.hpp"

#include <algorithm>
#include <set>

namespace ringside::store {

namespace {

// Columns that get an index wherever a table has them: time, pid, path and address.
constexpr std::string_view kIndexed[] = {"timestamp", "process_pid", "file_path", "source_ip",
                                         "destination_ip"};

// What the events view shows as one line of detail per table.
std::string detail_expr(const Table& t) {
  auto has = [&t](std::string_view c) {
    return std::any_of(t.columns.begin(), t.columns.end(),
                       [c](const Column& col) { return col.name == c; });
  };
  if (t.name == "process" && has("process_args")) return "process_args";
  if (has("file_path")) return "file_path";
  if (has("destination_ip") && has("destination_port")) {
    return "destination_ip || ':' || destination_port";
  }
  if (has("key_name")) return "coalesce(key_text, key_name)";
  if (has("ringside_message")) return "ringside_message";
  return "NULL";
}

std::vector<Table> build_tables() {
  std::vector<Table> out;
  for (const auto& et : schema::kEventTypes) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&et](const Table& t) { return t.name == et.category; });
    if (it == out.end()) {
      out.push_back(Table{std::string(et.category), {}, {}});
      it = out.end() - 1;
    }
    std::set<int> have;
    for (const auto& c : it->columns) have.insert(field_index(c.field));
    std::vector<int> fields(schema::kCommonFields.begin(), schema::kCommonFields.end());
    fields.insert(fields.end(), et.fields, et.fields + et.num_fields);
    for (int idx : fields) {
      if (!have.insert(idx).second) continue;
      const auto& fi = schema::kFieldInfo[static_cast<size_t>(idx)];
      it->columns.push_back(Column{column_name(fi.name), fi.id, fi.type});
    }
  }
  // Stable column order: schema field order, which only grows at the end of each id range.
  for (auto& t : out) {
    std::sort(t.columns.begin(), t.columns.end(), [](const Column& a, const Column& b) {
      return field_index(a.field) < field_index(b.field);
    });
    for (std::string_view c : kIndexed) {
      if (std::any_of(t.columns.begin(), t.columns.end(),
                      [c](const Column& col) { return col.name == c; })) {
        t.indexed.emplace_back(c);
      }
    }
  }
  return out;
}

std::string quote_ident(std::string_view s) { return "\"" + std::string(s) + "\""; }

Result<std::set<std::string>> existing_columns(sqlite3* db, const std::string& table) {
  std::set<std::string> cols;
  sqlite3_stmt* st = nullptr;
  const std::string sql = "PRAGMA table_info(" + quote_ident(table) + ")";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return Error{"store: cannot read columns of " + table + ": " + sqlite3_errmsg(db)};
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    cols.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  }
  sqlite3_finalize(st);
  return cols;
}

Result<int> user_version(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK) {
    return Error{std::string("store: cannot read its version: ") + sqlite3_errmsg(db)};
  }
  int v = 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

}  // namespace

std::string column_name(std::string_view field_name) {
  std::string out;
  for (char c : field_name) {
    if (c == '@') continue;
    out += (c == '.') ? '_' : c;
  }
  return out;
}

std::string_view sql_type(FieldType t) {
  switch (t) {
    case FieldType::kInt:
    case FieldType::kTimestamp:
      return "INTEGER";
    case FieldType::kString:
    case FieldType::kIp:
    case FieldType::kStrings:
      return "TEXT";
  }
  return "TEXT";
}

const std::vector<Table>& tables() {
  static const std::vector<Table> kTables = build_tables();
  return kTables;
}

int table_of(EventType type) {
  static const std::vector<int> kByType = [] {
    std::vector<int> v(schema::kNumEventTypes, -1);
    const auto& ts = tables();
    for (size_t i = 0; i < schema::kNumEventTypes; ++i) {
      for (size_t j = 0; j < ts.size(); ++j) {
        if (ts[j].name == schema::kEventTypes[i].category) v[i] = static_cast<int>(j);
      }
    }
    return v;
  }();
  const int i = schema::event_type_index(static_cast<uint16_t>(type));
  return i < 0 ? -1 : kByType[static_cast<size_t>(i)];
}

Result<void> exec(sqlite3* db, const std::string& sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = "store: " + std::string(what) + ": " + (err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return Error{msg};
  }
  return ok();
}

Result<void> migrate(sqlite3* db) {
  auto version = user_version(db);
  if (!version) return std::move(version).error();
  if (*version > kStoreVersion) {
    return Error{"store: written by a newer ringside (layout " + std::to_string(*version) +
                 ", this build knows up to " + std::to_string(kStoreVersion) + ")"};
  }
  if (auto r = exec(db, "BEGIN IMMEDIATE", "begin migration"); !r) return r;
  auto fail = [db](Result<void> r) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return r;
  };
  // Version 0 (new or pre-versioned file) and 1 share the layout; a schema that gained fields
  // since the store was written gets the new columns.
  for (const Table& t : tables()) {
    std::string create =
        "CREATE TABLE IF NOT EXISTS " + quote_ident(t.name) + " (id INTEGER PRIMARY KEY";
    for (const Column& c : t.columns) {
      create += ", " + quote_ident(c.name) + " " + std::string(sql_type(c.type));
    }
    create += ")";
    if (auto r = exec(db, create, "create table " + t.name); !r) return fail(r);
    auto have = existing_columns(db, t.name);
    if (!have) return fail(std::move(have).error());
    for (const Column& c : t.columns) {
      if (have->count(c.name)) continue;
      const std::string alter = "ALTER TABLE " + quote_ident(t.name) + " ADD COLUMN " +
                                quote_ident(c.name) + " " + std::string(sql_type(c.type));
      if (auto r = exec(db, alter, "add column " + t.name + "." + c.name); !r) return fail(r);
    }
    for (const std::string& c : t.indexed) {
      const std::string idx = "CREATE INDEX IF NOT EXISTS " + quote_ident(t.name + "_" + c) +
                              " ON " + quote_ident(t.name) + "(" + quote_ident(c) + ")";
      if (auto r = exec(db, idx, "index " + t.name + "." + c); !r) return fail(r);
    }
  }
  std::string view = "DROP VIEW IF EXISTS events; CREATE VIEW events AS ";
  bool first = true;
  for (const Table& t : tables()) {
    if (!first) view += " UNION ALL ";
    first = false;
    view += "SELECT '" + t.name + "' AS source_table, id, timestamp, ";
    view += "strftime('%Y-%m-%dT%H:%M:%fZ', timestamp / 1000000000.0, 'unixepoch') AS time";
    for (int16_t idx : schema::kCommonFields) {
      const std::string c = column_name(schema::kFieldInfo[static_cast<size_t>(idx)].name);
      if (c == "timestamp") continue;
      view += ", " + quote_ident(c);
    }
    view += ", " + detail_expr(t) + " AS detail FROM " + quote_ident(t.name);
  }
  if (auto r = exec(db, view, "create the events view"); !r) return fail(r);
  if (auto r = exec(db, "PRAGMA user_version = " + std::to_string(kStoreVersion), "set version");
      !r) {
    return fail(r);
  }
  return exec(db, "COMMIT", "commit migration");
}

}  // namespace ringside::store
