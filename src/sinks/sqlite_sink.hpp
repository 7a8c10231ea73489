// The embedded event store: every event into its category's SQLite table (see
// store/store_schema.hpp and docs/store.md). WAL mode, one transaction per batch, prepared
// statements; retention by age and by size runs on the sink thread between batches. WAL
// checkpoints run on a thread of their own with its own connection, so the sink thread does not
// wait for them; past four times the checkpoint size the sink thread checkpoints itself, which
// bounds the WAL when the checkpointer cannot keep up.
// A failed batch (full disk, I/O error) is rolled back, counted and logged; the next batch is
// tried afresh, so a disk that frees up resumes the store without a restart.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/sink.hpp"

namespace ringside {

struct SqliteSinkOptions {
  std::string path;
  int64_t max_age_ns = 0;     // 0: keep forever
  int64_t max_bytes = 0;      // 0: no limit; pages in use, WAL excluded
  size_t batch_rows = 32768;  // a transaction commits at this many rows, or at flush()
  // flush() commits only when this long has passed since the last commit, or when nothing was
  // written since the previous flush (the pipeline is idle, or stopping); 0: every flush.
  // Fewer, larger transactions rewrite hot index pages into the WAL less often.
  int64_t commit_interval_ns = 0;
  int64_t retention_interval_ns = 10LL * 1000 * 1000 * 1000;
  // WAL pages (16 KiB) after which a checkpoint copies them into the database (~40 MiB).
  int checkpoint_pages = 2560;
};

struct SqliteSinkStats {
  uint64_t written = 0, failed = 0, batches = 0, failed_batches = 0, retention_deleted = 0;
  uint64_t checkpoints = 0, inline_checkpoints = 0;  // background / on the sink thread
};

class SqliteSink final : public Sink {
 public:
  static Result<std::unique_ptr<SqliteSink>> open(const SqliteSinkOptions& options);
  ~SqliteSink() override;

  std::string_view name() const override { return "sqlite"; }
  void write(const Event& ev) override;
  void flush() override;
  SinkStats stats() const override { return {st_.written, st_.failed}; }
  SqliteSinkStats detailed_stats() const;

  // Applies retention now (flush() does it every retention_interval_ns); returns rows removed.
  Result<uint64_t> apply_retention(int64_t now_ns);
  // Caps the file at `pages` pages (PRAGMA max_page_count): what a full disk looks like to
  // SQLite, without filling one.
  void set_max_page_count(int64_t pages);
  // Bytes of pages in use.
  int64_t used_bytes() const;

 private:
  SqliteSink(sqlite3* db, SqliteSinkOptions options) : db_(db), opts_(std::move(options)) {}
  Result<void> prepare();
  Result<void> start_checkpointer();
  void stop_checkpointer();
  void checkpoint_loop();
  static int on_wal(void* self, sqlite3* db, const char* name, int pages);
  void commit();
  void fail_batch(const std::string& why);

  sqlite3* db_;
  SqliteSinkOptions opts_;
  std::vector<sqlite3_stmt*> inserts_;  // one per store::tables() entry
  // Per table, per dense field index: the field's parameter in the insert (0: no column).
  std::vector<std::vector<int>> params_;
  std::string scratch_;
  bool in_txn_ = false;
  uint64_t pending_ = 0;
  int64_t last_retention_ns_ = 0;
  int64_t last_commit_ns_ = 0;
  bool wrote_since_flush_ = false;
  uint64_t warnings_ = 0;
  SqliteSinkStats st_;
  // The checkpointer: its connection and thread; wanted_ is set by the WAL hook after a commit.
  sqlite3* checkpoint_db_ = nullptr;
  std::thread checkpointer_;
  mutable std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;       // guarded by checkpoint_mu_
  bool checkpoint_stop_ = false;         // guarded by checkpoint_mu_
  uint64_t background_checkpoints_ = 0;  // guarded by checkpoint_mu_
};

}  // namespace ringside
