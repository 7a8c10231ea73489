// ringside query: read-only SQL over the event store.

#include <iostream>

#include "cli/commands.hpp"
#include "store/query.hpp"

namespace ringside::cli {

namespace {

struct QueryArgs {
  std::string db = "/var/lib/ringside/events.db";
  bool json = false;
  bool csv = false;
  std::string sql;
};

int query(const QueryArgs& a) {
  if (a.json && a.csv) {
    std::cerr << "ringside query: choose one of --json and --csv\n";
    return 2;
  }
  auto r = store::run_query(a.db, a.sql);
  if (auto* f = std::get_if<store::QueryFailure>(&r)) {
    std::cerr << "ringside query: " << f->message << "\n";
    return f->kind == store::QueryError::kWrite ? 2 : 1;
  }
  const auto& res = std::get<store::QueryResult>(r);
  if (a.json) {
    std::cout << store::format_json(res);
  } else if (a.csv) {
    std::cout << store::format_csv(res);
  } else {
    std::cout << store::format_table(res);
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

void add_query(CLI::App& app, int& status) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* cmd =
      app.add_subcommand("query", "Read-only SQL over the event store (tables: see docs/store.md)");
  cmd->add_option("--db", args->db, "Event store (SQLite)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Output a JSON array of objects");
  cmd->add_flag("--csv", args->csv, "Output CSV (RFC 4180)");
  cmd->add_option("sql", args->sql, "One SQL statement (SELECT, WITH, ...)")->required();
  cmd->callback([args, &status] { status = query(*args); });
}

}  // namespace ringside::cli
