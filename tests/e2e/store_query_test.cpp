// The event store through the real agent and the real `ringside query`: exec and file events of
// a real run are stored and joined by process (pid + start time), writes are refused with exit
// status 2, SQL errors name sqlite's message, and a hostile file name (newline, quotes, invalid
// UTF-8, 4 KiB) comes back byte for byte.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "e2e_util.hpp"

namespace ringside::e2e {
namespace {

RunResult query(const std::string& db, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {build_dir() + "/ringside", "query", "--db", db};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv);
}

class StoreQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    RINGSIDE_REQUIRE_ROOT();
    watched_ = std::make_unique<ScratchDir>("store-watch");
    db_dir_ = std::make_unique<ScratchDir>("store-db");
    db_ = db_dir_->file("events.db");
    AgentProcess::Options o;
    o.levels = "kernel";
    o.domains = "process,file";
    o.policy_yaml = "settings:\n  file:\n    opens: writes\n    watch: [\"" + watched_->path() +
                    "\"]\nrules: []\n";
    o.extra_args = {"--db", db_};
    std::string error;
    agent_ = AgentProcess::start(o, &error);
    ASSERT_NE(agent_, nullptr) << error;
  }
  void TearDown() override {
    if (agent_) {
      EXPECT_EQ(agent_->stop(), 0) << agent_->log();
    }
  }
  // Waits until the store answers `sql` with a non-empty JSON array.
  json wait_rows(const std::string& sql) {
    json rows = json::array();
    for (int i = 0; i < 100 && rows.empty(); ++i) {
      auto r = query(db_, {"--json", sql});
      if (r.exit_code == 0) rows = json::parse(r.out);
      if (rows.empty()) std::this_thread::sleep_for(100ms);
    }
    return rows;
  }

  std::unique_ptr<ScratchDir> watched_, db_dir_;
  std::string db_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(StoreQuery, ExecAndFileEventsJoinByProcess) {
  const std::string target = watched_->file("made-by-shell.txt");
  auto r = run({"/bin/sh", "-c", "echo hello > " + target});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sql =
      "SELECT p.process_pid AS pid, p.process_executable AS exe, f.event_action AS action, "
      "f.file_path AS path FROM process p JOIN file f ON f.process_pid = p.process_pid AND "
      "f.process_start = p.process_start WHERE p.event_action = 'exec' AND f.file_path = '" +
      target + "' ORDER BY f.timestamp";
  const json rows = wait_rows(sql);
  ASSERT_FALSE(rows.empty()) << agent_->log();
  EXPECT_EQ(rows[0]["exe"], "/usr/bin/dash");
  EXPECT_EQ(rows[0]["pid"], r.pid);
  EXPECT_EQ(rows[0]["path"], target);
  // The events view sees both, in time order, with a readable time.
  auto v = query(db_, {"--csv",
                       "SELECT source_table, event_action, time FROM events WHERE "
                       "process_pid = " +
                           std::to_string(r.pid) + " ORDER BY timestamp"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out.rfind("source_table,event_action,time\r\n", 0), 0u) << v.out;
  EXPECT_NE(v.out.find("process,exec,"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("file,"), std::string::npos) << v.out;
  // The aligned table has a header and a rule line.
  auto t = query(
      db_, {"SELECT count(*) AS n FROM process WHERE process_pid = " + std::to_string(r.pid)});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("n\n-", 0), 0u) << t.out;
}

TEST_F(StoreQuery, WritesAreRefusedAndErrorsAreClear) {
  ASSERT_FALSE(wait_rows("SELECT id FROM process LIMIT 1").empty()) << agent_->log();
  for (const char* sql : {"DELETE FROM process", "DROP TABLE file", "UPDATE file SET file_path='x'",
                          "INSERT INTO process (process_pid) VALUES (1)", "VACUUM"}) {
    auto r = query(db_, {sql});
    EXPECT_EQ(r.exit_code, 2) << sql << ": " << r.err;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  }
  auto bad = query(db_, {"SELECT nope FROM process"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no such column: nope"), std::string::npos) << bad.err;
  auto syntax = query(db_, {"SELEC 1"});
  EXPECT_NE(syntax.err.find("syntax error"), std::string::npos) << syntax.err;
  auto missing = query(db_dir_->file("absent.db"), {"SELECT 1"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
  // Still there, still growing.
  EXPECT_FALSE(wait_rows("SELECT id FROM process LIMIT 1").empty());
}

TEST_F(StoreQuery, HostileFileNameRoundTrips) {
  // 4 KiB of path: nested 200-byte directory names, then a name with a newline, quotes, a
  // backslash and bytes that are not UTF-8.
  std::string dir = watched_->path();
  while (dir.size() < 4000) {
    dir += "/" + std::string(200, 'd');
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  }
  const std::string name = "evil\nname \"q\" 'sq' \\ ,;\xff\xfe\xc3.txt";
  const std::string path = dir + "/" + name;
  ASSERT_GT(path.size(), 4096u - 300);
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "x", 1), 1);
  close(fd);
  // Compare in SQL (hex of the stored bytes) so no output format is involved.
  std::string hex;
  for (unsigned char c : path) {
    char b[3];
    std::snprintf(b, sizeof b, "%02X", c);
    hex += b;
  }
  const json rows =
      wait_rows("SELECT count(*) AS n FROM file WHERE hex(file_path) = '" + hex + "' HAVING n > 0");
  ASSERT_FALSE(rows.empty()) << agent_->log();
  EXPECT_GE(rows[0]["n"].get<int>(), 1);
}

}  // namespace
}  // namespace ringside::e2e
