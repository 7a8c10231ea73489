#include "store/query.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>

#include "core/json.hpp"

namespace ringside::store {

namespace {

bool only_space_or_semicolons(const char* s) {
  for (; s != nullptr && *s != '\0'; ++s) {
    if (*s != ';' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
  }
  return true;
}

std::string cell_text(const Value& v) {
  if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
  if (std::holds_alternative<double>(v)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", std::get<double>(v));
    return buf;
  }
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return "";
}

// For the table: one row per line, control characters visible.
std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Display width: UTF-8 continuation bytes take no column.
size_t width(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::variant<QueryResult, QueryFailure> run_query(const std::string& db_path,
                                                  const std::string& sql) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  struct Closer {
    sqlite3* db;
    ~Closer() { sqlite3_close(db); }
  } closer{db};
  if (rc != SQLITE_OK) {
    return QueryFailure{QueryError::kOpen, "cannot open the event store " + db_path + ": " +
                                               (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
  }
  sqlite3_busy_timeout(db, 2000);
  if (sqlite3_exec(db, "PRAGMA query_only = 1", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return QueryFailure{QueryError::kOpen,
                        std::string("cannot make the connection read-only: ") + sqlite3_errmsg(db)};
  }
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &st, &tail);
  if (rc != SQLITE_OK) {
    return QueryFailure{QueryError::kSql, std::string("SQL error: ") + sqlite3_errmsg(db)};
  }
  struct Finalizer {
    sqlite3_stmt* st;
    ~Finalizer() { sqlite3_finalize(st); }
  } fin{st};
  if (st == nullptr) return QueryFailure{QueryError::kSql, "SQL error: no statement given"};
  if (!only_space_or_semicolons(tail)) {
    return QueryFailure{QueryError::kSql, "SQL error: give one statement at a time"};
  }
  if (!sqlite3_stmt_readonly(st)) {
    return QueryFailure{QueryError::kWrite,
                        "refused: the statement would modify the event store, which `ringside "
                        "query` opens read-only"};
  }
  QueryResult out;
  const int ncol = sqlite3_column_count(st);
  out.columns.reserve(static_cast<size_t>(ncol));
  for (int i = 0; i < ncol; ++i) out.columns.emplace_back(sqlite3_column_name(st, i));
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<Value> row;
    row.reserve(static_cast<size_t>(ncol));
    for (int i = 0; i < ncol; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, i)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(st, i));
          break;
        case SQLITE_NULL:
          row.emplace_back(std::monostate{});
          break;
        default: {
          const auto* p = static_cast<const char*>(sqlite3_column_blob(st, i));
          row.emplace_back(
              std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st, i))));
        }
      }
    }
    out.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    const int code = sqlite3_extended_errcode(db);
    if (code == SQLITE_READONLY || (code & 0xff) == SQLITE_READONLY) {
      return QueryFailure{
          QueryError::kWrite,
          std::string("refused: the event store is read-only here: ") + sqlite3_errmsg(db)};
    }
    return QueryFailure{QueryError::kSql, std::string("SQL error: ") + sqlite3_errmsg(db)};
  }
  return out;
}

std::string format_table(const QueryResult& r) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> w(r.columns.size());
  for (size_t i = 0; i < r.columns.size(); ++i) w[i] = width(r.columns[i]);
  for (const auto& row : r.rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < row.size(); ++i) {
      line.push_back(escaped(cell_text(row[i])));
      w[i] = std::max(w[i], width(line.back()));
    }
    cells.push_back(std::move(line));
  }
  std::string out;
  auto emit_line = [&](const std::vector<std::string>& line, const std::vector<Value>* row) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      if (i > 0) text += "  ";
      const size_t pad = w[i] - width(line[i]);
      const bool right = row != nullptr && (std::holds_alternative<int64_t>((*row)[i]) ||
                                            std::holds_alternative<double>((*row)[i]));
      if (right) text.append(pad, ' ');
      text += line[i];
      if (!right && i + 1 < line.size()) text.append(pad, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  emit_line(r.columns, nullptr);
  std::vector<std::string> rule;
  for (size_t x : w) rule.emplace_back(x, '-');
  emit_line(rule, nullptr);
  for (size_t i = 0; i < cells.size(); ++i) emit_line(cells[i], &r.rows[i]);
  return out;
}

std::string format_json(const QueryResult& r) {
  std::string out = "[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    out += i == 0 ? "\n  {" : ",\n  {";
    for (size_t c = 0; c < r.columns.size(); ++c) {
      if (c > 0) out += ", ";
      append_json_string(out, r.columns[c]);
      out += ": ";
      const Value& v = r.rows[i][c];
      if (std::holds_alternative<std::monostate>(v)) {
        out += "null";
      } else if (std::holds_alternative<std::string>(v)) {
        append_json_string(out, std::get<std::string>(v));
      } else {
        out += cell_text(v);
      }
    }
    out += '}';
  }
  out += r.rows.empty() ? "]\n" : "\n]\n";
  return out;
}

std::string format_csv(const QueryResult& r) {
  std::string out;
  auto field = [&out](const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) {
      out += s;
      return;
    }
    out += '"';
    for (char c : s) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  };
  for (size_t c = 0; c < r.columns.size(); ++c) {
    if (c > 0) out += ',';
    field(r.columns[c]);
  }
  out += "\r\n";
  for (const auto& row : r.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      field(cell_text(row[c]));
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace ringside::store
