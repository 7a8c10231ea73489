// The SQLite store without privileges, in a temporary directory: schema and columns from the
// event schema, inserts of every category, migration of an older file, retention by age and
// size, hostile values, a failing disk, and `ringside query`'s read-only engine and formats.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "sinks/sqlite_sink.hpp"
#include "store/query.hpp"
#include "store/store_schema.hpp"

namespace ringside {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ringside-store-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

Event exec_event(int64_t ts, int pid, std::string exe) {
  Event ev(EventType::kProcessExec, ts);
  ev.set_origin(Level::kKernel, "ebpf");
  ev.set(Field::kProcessPid, static_cast<int64_t>(pid));
  ev.set(Field::kProcessStart, int64_t{777});
  ev.set(Field::kProcessExecutable, exe);
  ev.set(Field::kProcessArgs, {std::string_view(exe), "-c", "x"});
  ev.set_verdict(Verdict::kAlert, "watch");
  return ev;
}

Event open_event(int64_t ts, int pid, std::string path) {
  Event ev(EventType::kFileOpen, ts);
  ev.set_origin(Level::kKernel, "fanotify");
  ev.set(Field::kProcessPid, static_cast<int64_t>(pid));
  ev.set(Field::kProcessStart, int64_t{777});
  ev.set(Field::kFilePath, path);
  return ev;
}

store::QueryResult must_query(const std::string& db, const std::string& sql) {
  auto r = store::run_query(db, sql);
  if (auto* f = std::get_if<store::QueryFailure>(&r)) {
    ADD_FAILURE() << f->message;
    return {};
  }
  return std::get<store::QueryResult>(r);
}

TEST(StoreSchema, ColumnsFollowFieldNames) {
  EXPECT_EQ(store::column_name("@timestamp"), "timestamp");
  EXPECT_EQ(store::column_name("process.parent.pid"), "process_parent_pid");
  std::set<std::string> names;
  for (const auto& t : store::tables()) names.insert(t.name);
  for (const char* want : {"process", "file", "network", "keyboard", "ringside"}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  const auto& file = store::tables()[static_cast<size_t>(store::table_of(EventType::kFileOpen))];
  EXPECT_EQ(file.name, "file");
  auto has = [&file](const std::string& c) {
    return std::any_of(file.columns.begin(), file.columns.end(),
                       [&c](const store::Column& col) { return col.name == c; });
  };
  EXPECT_TRUE(has("file_path"));
  EXPECT_TRUE(has("process_pid"));
  EXPECT_TRUE(has("timestamp"));
  EXPECT_FALSE(has("destination_ip"));
}

TEST(SqliteSink, InsertsEveryCategoryAndTheViewJoins) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  {
    auto sink = SqliteSink::open({.path = db});
    ASSERT_TRUE(sink) << sink.error().message;
    (*sink)->write(exec_event(1000000000, 42, "/usr/bin/cat"));
    (*sink)->write(open_event(1000000500, 42, "/etc/hosts"));
    Event conn(EventType::kNetworkConnect, 1000000600);
    conn.set(Field::kDestinationIp, "10.1.2.3");
    conn.set(Field::kDestinationPort, int64_t{443});
    (*sink)->write(conn);
    Event key(EventType::kKeyboardKeyDown, 1000000700);
    key.set(Field::kKeyName, "a");
    (*sink)->write(key);
    (*sink)->flush();
    EXPECT_EQ((*sink)->stats().written, 4u);
    EXPECT_EQ((*sink)->stats().failed, 0u);
  }
  auto r =
      must_query(db, "SELECT source_table, event_action, detail FROM events ORDER BY timestamp");
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(std::get<std::string>(r.rows[0][2]), R"(["/usr/bin/cat","-c","x"])");
  EXPECT_EQ(std::get<std::string>(r.rows[1][2]), "/etc/hosts");
  EXPECT_EQ(std::get<std::string>(r.rows[2][2]), "10.1.2.3:443");
  EXPECT_EQ(std::get<std::string>(r.rows[3][0]), "keyboard");
  auto j = must_query(db,
                      "SELECT p.process_executable, f.file_path FROM process p JOIN file f "
                      "ON f.process_pid = p.process_pid AND f.process_start = p.process_start");
  ASSERT_EQ(j.rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(j.rows[0][0]), "/usr/bin/cat");
  auto v = must_query(db, "PRAGMA user_version");
  EXPECT_EQ(std::get<int64_t>(v.rows[0][0]), store::kStoreVersion);
  auto idx = must_query(db, "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name");
  std::set<std::string> indexes;
  for (const auto& row : idx.rows) indexes.insert(std::get<std::string>(row[0]));
  for (const char* want :
       {"file_file_path", "file_timestamp", "network_destination_ip", "process_process_pid"}) {
    EXPECT_TRUE(indexes.count(want)) << want;
  }
  // WAL: the file header's read and write versions are 2 (journal_mode is not read-only SQL).
  std::ifstream in(db, std::ios::binary);
  char header[20] = {};
  in.read(header, sizeof header);
  EXPECT_EQ(header[18], 2);
  EXPECT_EQ(header[19], 2);
}

TEST(SqliteSink, HostileValuesRoundTripExactly) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  std::string hostile = "line1\nline2\r\"quoted\" 'single' \\ ,comma;\x01\xff\xfe bad utf8 \xc3";
  hostile += std::string(4096, 'A');
  {
    auto sink = SqliteSink::open({.path = db});
    ASSERT_TRUE(sink) << sink.error().message;
    (*sink)->write(open_event(5, 1, hostile));
  }
  auto r = must_query(db, "SELECT file_path FROM file");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(r.rows[0][0]), hostile);
}

TEST(SqliteSink, MigratesAnOlderFileAddingColumns) {
  TempDir dir;
  const std::string db = dir.file("old.db");
  {
    // A store written before file.inode existed, with no version recorded.
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h,
                           "CREATE TABLE file (id INTEGER PRIMARY KEY, timestamp INTEGER, "
                           "file_path TEXT); INSERT INTO file (timestamp, file_path) "
                           "VALUES (7, '/old');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  {
    auto sink = SqliteSink::open({.path = db});
    ASSERT_TRUE(sink) << sink.error().message;
    Event ev = open_event(8, 2, "/new");
    ev.set(Field::kFileInode, int64_t{99});
    (*sink)->write(ev);
  }
  auto r = must_query(db, "SELECT file_path, file_inode FROM file ORDER BY timestamp");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(r.rows[0][0]), "/old");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(r.rows[0][1]));
  EXPECT_EQ(std::get<int64_t>(r.rows[1][1]), 99);
  auto v = must_query(db, "PRAGMA user_version");
  EXPECT_EQ(std::get<int64_t>(v.rows[0][0]), store::kStoreVersion);
}

TEST(SqliteSink, RefusesAStoreFromANewerLayout) {
  TempDir dir;
  const std::string db = dir.file("new.db");
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  auto sink = SqliteSink::open({.path = db});
  ASSERT_FALSE(sink);
  EXPECT_NE(sink.error().message.find("newer"), std::string::npos) << sink.error().message;
}

// Checkpoints run on the checkpointer thread; the sink thread steps in only past four times the
// checkpoint size, so the WAL stays bounded while rows keep coming, and every row reaches the
// database.
TEST(SqliteSink, CheckpointsKeepTheWalBounded) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  constexpr int kRows = 40000;
  constexpr int kCheckpointPages = 32;  // 512 KiB of 16 KiB pages
  auto sink =
      SqliteSink::open({.path = db, .batch_rows = 500, .checkpoint_pages = kCheckpointPages});
  ASSERT_TRUE(sink) << sink.error().message;
  uintmax_t largest_wal = 0;
  for (int i = 0; i < kRows; ++i) {
    (*sink)->write(open_event(1000 + i, i % 300, "/srv/data/file-" + std::to_string(i % 977)));
    if (i % 500 == 499) {
      std::error_code ec;
      largest_wal = std::max(largest_wal, std::filesystem::file_size(db + "-wal", ec));
    }
  }
  (*sink)->flush();
  const SqliteSinkStats st = (*sink)->detailed_stats();
  EXPECT_EQ(st.written, static_cast<uint64_t>(kRows));
  EXPECT_GT(st.checkpoints + st.inline_checkpoints, 0u);
  // Four checkpoints' worth plus the transaction that crossed the line, with room to spare;
  // without checkpoints the WAL would hold every row (several MiB).
  EXPECT_LT(largest_wal, uintmax_t{12} * kCheckpointPages * 16384) << largest_wal;
  auto r = must_query(db, "SELECT count(*) FROM file");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0]), kRows);
}

TEST(SqliteSink, RetentionByAge) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  const int64_t now = clock::realtime_ns();
  const int64_t hour = 3600LL * 1000000000;
  auto sink = SqliteSink::open({.path = db, .max_age_ns = hour});
  ASSERT_TRUE(sink) << sink.error().message;
  (*sink)->write(exec_event(now - 2 * hour, 1, "/old"));
  (*sink)->write(open_event(now - 2 * hour, 1, "/old"));
  (*sink)->write(exec_event(now - hour / 2, 2, "/new"));
  (*sink)->flush();
  auto removed = (*sink)->apply_retention(now);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 2u);
  auto r = must_query(db, "SELECT process_executable FROM events");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(r.rows[0][0]), "/new");
}

TEST(SqliteSink, RetentionBySizeKeepsTheNewest) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  // Above the ~0.3 MiB an empty store takes (tables, indexes, 16 KiB pages).
  const int64_t limit = 1024 * 1024;
  auto sink = SqliteSink::open({.path = db, .max_bytes = limit});
  ASSERT_TRUE(sink) << sink.error().message;
  const std::string pad(200, 'p');
  constexpr int kRows = 10000;
  for (int i = 0; i < kRows; ++i) (*sink)->write(open_event(1000 + i, i, "/f/" + pad));
  (*sink)->flush();
  EXPECT_GT((*sink)->used_bytes(), limit);
  auto removed = (*sink)->apply_retention(clock::realtime_ns());
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_GT(*removed, 0u);
  EXPECT_LE((*sink)->used_bytes(), limit);
  auto r = must_query(db, "SELECT max(timestamp), count(*) FROM file");
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0]), 1000 + kRows - 1);
  EXPECT_EQ(std::get<int64_t>(r.rows[0][1]), kRows - static_cast<int64_t>(*removed));
}

TEST(SqliteSink, AFullDiskIsCountedAndTheSinkRecovers) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  auto sink = SqliteSink::open({.path = db});
  ASSERT_TRUE(sink) << sink.error().message;
  // A maximum page count just above what the store uses stands in for a full disk.
  (*sink)->flush();
  auto pages = must_query(db, "PRAGMA page_count");
  const int64_t base = std::get<int64_t>(pages.rows[0][0]);
  const std::string big(64 * 1024, 'x');
  SqliteSinkStats before = (*sink)->detailed_stats();
  // Fill with rows until a commit fails because the file may not grow.
  (*sink)->set_max_page_count(base + 4);
  for (int i = 0; i < 64; ++i) (*sink)->write(open_event(i, i, big));
  (*sink)->flush();
  const SqliteSinkStats after = (*sink)->detailed_stats();
  EXPECT_GT(after.failed, before.failed);
  EXPECT_GT(after.failed_batches, before.failed_batches);
  // Room again: the next batch is stored.
  (*sink)->set_max_page_count(1 << 30);
  (*sink)->write(open_event(100, 1, "/after"));
  (*sink)->flush();
  EXPECT_EQ((*sink)->detailed_stats().written, after.written + 1);
  auto r = must_query(db, "SELECT count(*) FROM file WHERE file_path = '/after'");
  EXPECT_EQ(std::get<int64_t>(r.rows[0][0]), 1);
}

TEST(Query, RefusesWritesAndReportsSqlErrors) {
  TempDir dir;
  const std::string db = dir.file("events.db");
  { ASSERT_TRUE(SqliteSink::open({.path = db})); }
  for (const char* sql : {"DELETE FROM process", "INSERT INTO file (file_path) VALUES ('x')",
                          "DROP TABLE file", "PRAGMA user_version = 5", "CREATE TABLE t (x)"}) {
    auto r = store::run_query(db, sql);
    auto* f = std::get_if<store::QueryFailure>(&r);
    ASSERT_NE(f, nullptr) << sql;
    EXPECT_EQ(f->kind, store::QueryError::kWrite) << sql << ": " << f->message;
  }
  auto bad = store::run_query(db, "SELEC nonsense");
  ASSERT_TRUE(std::holds_alternative<store::QueryFailure>(bad));
  EXPECT_EQ(std::get<store::QueryFailure>(bad).kind, store::QueryError::kSql);
  EXPECT_NE(std::get<store::QueryFailure>(bad).message.find("syntax error"), std::string::npos);
  auto nocol = store::run_query(db, "SELECT no_such_column FROM file");
  EXPECT_NE(std::get<store::QueryFailure>(nocol).message.find("no such column"), std::string::npos);
  auto missing = store::run_query(dir.file("absent.db"), "SELECT 1");
  EXPECT_EQ(std::get<store::QueryFailure>(missing).kind, store::QueryError::kOpen);
}

store::QueryResult sample() {
  store::QueryResult r;
  r.columns = {"name", "n", "x"};
  r.rows.push_back({std::string("a,b"), int64_t{7}, std::monostate{}});
  r.rows.push_back({std::string("say \"hi\"\nnext"), int64_t{12345}, 1.5});
  return r;
}

TEST(QueryFormat, AlignedTable) {
  EXPECT_EQ(store::format_table(sample()),
            "name            n      x\n"
            "--------------  -----  ---\n"
            "a,b                 7\n"
            "say \"hi\"\\nnext  12345  1.5\n");
}

TEST(QueryFormat, Json) {
  const auto j = nlohmann::json::parse(store::format_json(sample()));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "a,b");
  EXPECT_EQ(j[0]["n"], 7);
  EXPECT_TRUE(j[0]["x"].is_null());
  EXPECT_EQ(j[1]["name"], "say \"hi\"\nnext");
  EXPECT_EQ(j[1]["x"], 1.5);
  EXPECT_EQ(store::format_json({{"a"}, {}}), "[]\n");
}

TEST(QueryFormat, CsvRfc4180) {
  EXPECT_EQ(store::format_csv(sample()),
            "name,n,x\r\n"
            "\"a,b\",7,\r\n"
            "\"say \"\"hi\"\"\nnext\",12345,1.5\r\n");
}

}  // namespace
}  // namespace ringside
