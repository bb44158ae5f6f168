// sqlite_query on a real SQLite file: reads work as JSON or a table, writes of every kind are
// refused and leave the file unchanged, one statement only, ATTACH refused, row cap.
#include "tools/sqlite_query.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "tests/tools/temp_dir.h"

namespace r1 {
namespace {

using json = nlohmann::json;

struct Db {
  test::TempDir tmp;
  std::string path = tmp / "data.db";
  Db() {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    std::string sql =
        "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, score REAL, pic BLOB);"
        "INSERT INTO people VALUES (1, 'Ada', 9.5, x'0102'), (2, 'Bob', NULL, NULL);";
    for (int i = 3; i <= 30; ++i) {
      sql += "INSERT INTO people(id, name) VALUES (" + std::to_string(i) + ", 'p" +
             std::to_string(i) + "');";
    }
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  int64_t count() {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM people", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }
};

ToolOutput call(const Tool& t, const json& args) {
  Result<ToolOutput> r = t.handler(args, ToolContext{});
  REQUIRE(r.is_ok());
  return r.value();
}

TEST_CASE("tools: sqlite_query returns rows as JSON objects or a table") {
  Db db;
  Tool t = make_sqlite_query_tool(db.path);
  ToolOutput out =
      call(t, {{"sql", "SELECT id, name, score, pic FROM people WHERE id <= 2 ORDER BY id;"}});
  CHECK_FALSE(out.is_error);
  json rows = json::parse(out.content);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == json{{"id", 1}, {"name", "Ada"}, {"score", 9.5}, {"pic", "<blob 2 bytes>"}});
  CHECK(rows[1]["score"].is_null());
  ToolOutput table =
      call(t, {{"sql", "SELECT id, name FROM people WHERE id <= 2"}, {"format", "table"}});
  CHECK(table.content == "id\tname\n1\tAda\n2\tBob\n");
}

TEST_CASE("tools: sqlite_query refuses writes and leaves the file unchanged") {
  Db db;
  Tool t = make_sqlite_query_tool(db.path);
  for (const char* sql : {"INSERT INTO people(name) VALUES ('Eve')", "DELETE FROM people",
                          "UPDATE people SET name = 'x'", "DROP TABLE people", "CREATE TABLE t(x)",
                          "PRAGMA journal_mode = DELETE",
                          "WITH x AS (SELECT 1) INSERT INTO people(name) SELECT 'w' FROM x"}) {
    CAPTURE(sql);
    ToolOutput out = call(t, {{"sql", sql}});
    CHECK(out.is_error);
  }
  CHECK(db.count() == 30);
}

TEST_CASE("tools: sqlite_query takes one statement, refuses ATTACH and caps rows") {
  Db db;
  Tool t = make_sqlite_query_tool(db.path, 10);
  ToolOutput two = call(t, {{"sql", "SELECT 1; DELETE FROM people"}});
  CHECK(two.is_error);
  CHECK(two.content.find("only one SQL statement") != std::string::npos);
  CHECK_FALSE(call(t, {{"sql", "SELECT 1; -- trailing comment\n"}}).is_error);
  ToolOutput attach = call(t, {{"sql", "ATTACH DATABASE '" + db.tmp / "other.db" + "' AS o"}});
  CHECK(attach.is_error);
  ToolOutput many = call(t, {{"sql", "SELECT id FROM people"}});
  CHECK_FALSE(many.is_error);
  CHECK(many.content.find("[more rows not shown: the limit is 10") != std::string::npos);
  CHECK(many.metadata["rows"] == 10);
  ToolOutput syntax = call(t, {{"sql", "SELEC 1"}});
  CHECK(syntax.is_error);
  CHECK(syntax.content.find("SQL error") == 0);
  Tool missing = make_sqlite_query_tool(db.tmp / "nope.db");
  CHECK(call(missing, {{"sql", "SELECT 1"}}).is_error);  // not created by a read-only open
  CHECK_FALSE(std::filesystem::exists(db.tmp / "nope.db"));
}

}  // namespace
}  // namespace r1
