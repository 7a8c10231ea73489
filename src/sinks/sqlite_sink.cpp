#include "sinks/sqlite_sink.hpp"

#include <bit>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "store/store_schema.hpp"

namespace ringside {

namespace {

Error sql_error(sqlite3* db, const std::string& what) {
  return Error{"sqlite store: " + what + ": " + sqlite3_errmsg(db), sqlite3_extended_errcode(db)};
}

Result<int64_t> query_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return sql_error(db, sql);
  int64_t v = 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

}  // namespace

Result<std::unique_ptr<SqliteSink>> SqliteSink::open(const SqliteSinkOptions& options) {
  // Memory statistics take a global mutex on every allocation and nothing here reads them.
  // Only possible before SQLite initialises (afterwards a harmless SQLITE_MISUSE).
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e{"sqlite store: cannot open " + options.path + ": " +
            (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<SqliteSink> sink(new SqliteSink(db, options));
  sqlite3_busy_timeout(db, 1000);
  // page_size and auto_vacuum only take effect before the first table exists; later they are
  // no-ops. 16 KiB pages make the index B-trees shallower (inserting into the time, pid and
  // path indexes is most of the cost of a row: about 20 % less CPU per row than 4 KiB pages).
  // A 64 MiB page cache keeps the indexes' hot pages in memory, and reads through a 128 MiB
  // mapping save a copy per page; checkpoints every ~40 MiB of WAL (checkpoint_pages, on the
  // checkpointer thread) instead of 4 MiB cut the fsyncs per row; after one the WAL file is cut
  // back to 64 MiB.
  for (const char* pragma :
       {"PRAGMA page_size = 16384", "PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -65536", "PRAGMA mmap_size = 134217728",
        "PRAGMA journal_size_limit = 67108864"}) {
    if (auto r = store::exec(db, pragma, pragma); !r) {
      return Error{r.error().message + " (" + options.path + ")"};
    }
  }
  if (auto r = store::migrate(db); !r) return Error{r.error().message + " (" + options.path + ")"};
  if (auto r = sink->prepare(); !r) return std::move(r).error();
  if (auto r = sink->start_checkpointer(); !r) return std::move(r).error();
  sink->last_retention_ns_ = clock::monotonic_ns();
  if (options.max_age_ns > 0 || options.max_bytes > 0) {
    if (auto r = sink->apply_retention(clock::realtime_ns()); !r) {
      log().warn("{}", r.error().message);
    }
  }
  return sink;
}

SqliteSink::~SqliteSink() {
  try {
    commit();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing left to report to at this point
  }
  stop_checkpointer();
  for (sqlite3_stmt* st : inserts_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

Result<void> SqliteSink::prepare() {
  for (const store::Table& t : store::tables()) {
    std::string sql = "INSERT INTO \"" + t.name + "\" (";
    std::string values = ") VALUES (";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (i > 0) sql += ", ", values += ", ";
      sql += "\"" + t.columns[i].name + "\"";
      values += "?";
    }
    sql += values + ")";
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
        SQLITE_OK) {
      return sql_error(db_, "prepare insert into " + t.name);
    }
    inserts_.push_back(st);
    std::vector<int> params(schema::kNumFields, 0);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      params[static_cast<size_t>(schema::field_index(t.columns[i].field))] =
          static_cast<int>(i) + 1;
    }
    params_.push_back(std::move(params));
  }
  return ok();
}

Result<void> SqliteSink::start_checkpointer() {
  // The WAL hook replaces the automatic checkpoint of the sink's own connection.
  sqlite3_wal_hook(db_, &SqliteSink::on_wal, this);
  const int rc = sqlite3_open_v2(opts_.path.c_str(), &checkpoint_db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e{"sqlite store: cannot open " + opts_.path + " for checkpoints: " +
            (checkpoint_db_ ? sqlite3_errmsg(checkpoint_db_) : sqlite3_errstr(rc))};
    sqlite3_close(checkpoint_db_);
    checkpoint_db_ = nullptr;
    return e;
  }
  sqlite3_busy_timeout(checkpoint_db_, 1000);
  checkpointer_ = std::thread([this] { checkpoint_loop(); });
  name_thread(checkpointer_, "rs-sqlite-ckpt");
  return ok();
}

SqliteSinkStats SqliteSink::detailed_stats() const {
  SqliteSinkStats s = st_;
  std::lock_guard lock(checkpoint_mu_);
  s.checkpoints = background_checkpoints_;
  return s;
}

void SqliteSink::stop_checkpointer() {
  if (!checkpointer_.joinable()) return;
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  checkpointer_.join();
  sqlite3_close(checkpoint_db_);
  checkpoint_db_ = nullptr;
  sqlite3_wal_hook(db_, nullptr, nullptr);
}

// After each commit of the sink's connection, with the WAL's size in pages.
int SqliteSink::on_wal(void* self, sqlite3* db, const char* name, int pages) {
  auto* sink = static_cast<SqliteSink*>(self);
  if (pages < sink->opts_.checkpoint_pages) return SQLITE_OK;
  if (pages >= 4 * sink->opts_.checkpoint_pages) {
    // The checkpointer is behind (or a reader keeps it from finishing): bound the WAL here.
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++sink->st_.inline_checkpoints;
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(sink->checkpoint_mu_);
    sink->checkpoint_wanted_ = true;
  }
  sink->checkpoint_cv_.notify_one();
  return SQLITE_OK;
}

void SqliteSink::checkpoint_loop() {
  std::unique_lock lock(checkpoint_mu_);
  while (true) {
    checkpoint_cv_.wait(lock, [this] { return checkpoint_wanted_ || checkpoint_stop_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never blocks the writer.
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log().warn("sqlite store: checkpoint failed: {}", sqlite3_errmsg(checkpoint_db_));
    }
    lock.lock();
    ++background_checkpoints_;
  }
}

void SqliteSink::fail_batch(const std::string& why) {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  in_txn_ = false;
  st_.failed += pending_;
  ++st_.failed_batches;
  // Rate-limited: the first failures, then one in a hundred.
  if (warnings_++ < 5 || warnings_ % 100 == 0) {
    log().warn("sqlite store: {}; {} events not stored (total {})", why, pending_, st_.failed);
  }
  pending_ = 0;
}

void SqliteSink::write(const Event& ev) {
  const int ti = store::table_of(ev.type());
  if (ti < 0) {
    ++st_.failed;
    return;
  }
  if (!in_txn_) {
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      ++pending_;
      fail_batch(std::string("cannot begin a transaction: ") + sqlite3_errmsg(db_));
      return;
    }
    in_txn_ = true;
  }
  ++pending_;
  wrote_since_flush_ = true;
  const store::Table& t = store::tables()[static_cast<size_t>(ti)];
  sqlite3_stmt* st = inserts_[static_cast<size_t>(ti)];
  const std::vector<int>& params = params_[static_cast<size_t>(ti)];
  // Only the fields the event has are bound: after the previous row's sqlite3_clear_bindings
  // every parameter is NULL, and an event sets a few of its table's dozens of columns.
  const auto& present = ev.present();
  for (size_t w = 0; w < present.size(); ++w) {
    for (uint64_t bits = present[w]; bits != 0; bits &= bits - 1) {
      const size_t index = (w * 64) + static_cast<size_t>(std::countr_zero(bits));
      const int param = index < params.size() ? params[index] : 0;
      if (param == 0) continue;
      const auto dense = static_cast<int>(index);
      switch (t.columns[static_cast<size_t>(param - 1)].type) {
        case FieldType::kInt:
        case FieldType::kTimestamp:
          sqlite3_bind_int64(st, param, ev.int_at(dense));
          break;
        case FieldType::kString:
        case FieldType::kIp: {
          // event.category and event.action follow from the type; the rest is in the event.
          constexpr int kCategory = schema::field_index(Field::kEventCategory);
          constexpr int kAction = schema::field_index(Field::kEventAction);
          const std::string_view v = dense == kCategory ? ev.category()
                                     : dense == kAction ? ev.action()
                                                        : ev.str_at(dense);
          sqlite3_bind_text(st, param, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
          break;
        }
        case FieldType::kStrings: {
          // The JSON lives until the step below; SQLite copies it (SQLITE_TRANSIENT).
          scratch_.clear();
          scratch_ += '[';
          bool first = true;
          for (std::string_view s : ev.list_at(dense)) {
            if (!first) scratch_ += ',';
            first = false;
            append_json_string(scratch_, s);
          }
          scratch_ += ']';
          sqlite3_bind_text(st, param, scratch_.data(), static_cast<int>(scratch_.size()),
                            SQLITE_TRANSIENT);
          break;
        }
      }
    }
  }
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) {
    fail_batch(std::string("insert failed: ") + sqlite3_errmsg(db_));
    return;
  }
  if (pending_ >= opts_.batch_rows) commit();
}

void SqliteSink::commit() {
  if (!in_txn_) return;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail_batch(std::string("commit failed: ") + sqlite3_errmsg(db_));
    return;
  }
  in_txn_ = false;
  last_commit_ns_ = clock::monotonic_ns();
  st_.written += pending_;
  ++st_.batches;
  pending_ = 0;
}

void SqliteSink::flush() {
  const int64_t now = clock::monotonic_ns();
  if (opts_.commit_interval_ns <= 0 || !wrote_since_flush_ ||
      now - last_commit_ns_ >= opts_.commit_interval_ns) {
    commit();
  }
  wrote_since_flush_ = false;
  if (opts_.max_age_ns <= 0 && opts_.max_bytes <= 0) return;
  if (now - last_retention_ns_ < opts_.retention_interval_ns) return;
  last_retention_ns_ = now;
  if (auto r = apply_retention(clock::realtime_ns()); !r) log().warn("{}", r.error().message);
}

void SqliteSink::set_max_page_count(int64_t pages) {
  const std::string sql = "PRAGMA max_page_count = " + std::to_string(pages);
  sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

int64_t SqliteSink::used_bytes() const {
  auto pages = query_int(db_, "PRAGMA page_count");
  auto free_pages = query_int(db_, "PRAGMA freelist_count");
  auto size = query_int(db_, "PRAGMA page_size");
  if (!pages || !free_pages || !size) return 0;
  return (*pages - *free_pages) * *size;
}

Result<uint64_t> SqliteSink::apply_retention(int64_t now_ns) {
  commit();
  uint64_t removed = 0;
  if (opts_.max_age_ns > 0) {
    const std::string cutoff = std::to_string(now_ns - opts_.max_age_ns);
    for (const store::Table& t : store::tables()) {
      const std::string sql = "DELETE FROM \"" + t.name + "\" WHERE timestamp < " + cutoff;
      if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return sql_error(db_, "retention by age");
      }
      removed += static_cast<uint64_t>(sqlite3_changes64(db_));
    }
  }
  // By size: drop the oldest rows of every table in proportion to the excess over 95 % of
  // the limit (so the limit is not hit again at once), a few rounds at most.
  for (int round = 0; opts_.max_bytes > 0 && round < 8; ++round) {
    const int64_t used = used_bytes();
    if (used <= opts_.max_bytes) break;
    const double target = 0.95 * static_cast<double>(opts_.max_bytes);
    const double share = (static_cast<double>(used) - target) / static_cast<double>(used);
    for (const store::Table& t : store::tables()) {
      const std::string sql = "DELETE FROM \"" + t.name + "\" WHERE id IN (SELECT id FROM \"" +
                              t.name + "\" ORDER BY id LIMIT (SELECT CAST(count(*) * " +
                              std::to_string(share) + " + 1 AS INTEGER) FROM \"" + t.name + "\"))";
      if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return sql_error(db_, "retention by size");
      }
      removed += static_cast<uint64_t>(sqlite3_changes64(db_));
    }
  }
  if (removed > 0) {
    sqlite3_exec(db_, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE)", nullptr,
                 nullptr, nullptr);
    st_.retention_deleted += removed;
    log().info("sqlite store: retention removed {} events", removed);
  }
  return removed;
}

}  // namespace ringside
