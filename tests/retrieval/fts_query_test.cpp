// Safe FTS5 queries: user text becomes quoted terms joined by OR; FTS5 syntax in the input is
// inert. Checked against a real FTS5 table: hostile inputs neither fail nor change meaning.
#include "retrieval/fts_query.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

namespace r1 {
namespace {

TEST_CASE("fts query: terms are quoted, lower-cased, deduplicated and OR-ed") {
  CHECK(fts5_match_query("How does SQLite's WAL work?") == R"("sqlite" OR "s" OR "wal" OR "work")");
  CHECK(fts5_match_query("the the") == R"("the")");  // only stop words: keep them
  CHECK(fts5_match_query("  ?!  ").empty());
  CHECK(fts5_match_query("caf\xC3\xA9 na\xC3\xAFve") == "\"caf\xC3\xA9\" OR \"na\xC3\xAFve\"");
}

TEST_CASE("fts query: FTS5 syntax in user text is plain text") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "CREATE VIRTUAL TABLE t USING fts5(body);"
                       "INSERT INTO t VALUES ('alpha beta'), ('gamma delta'), ('NOT near');",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  auto count = [&](const std::string& user) {
    const std::string q = fts5_match_query(user);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?1", -1, &s, nullptr) ==
            SQLITE_OK);
    sqlite3_bind_text(s, 1, q.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(s);
    CHECK_MESSAGE(rc == SQLITE_ROW, user << " -> " << q << ": " << sqlite3_errmsg(db));
    const int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
  };
  CHECK(count("alpha") == 1);
  CHECK(count("alpha gamma") == 2);
  CHECK(count("alpha AND gamma") == 2);             // "and" is a stop word, the rest OR-ed
  CHECK(count("body:gamma") == 1);                  // "body" is a term, not a column filter
  CHECK(count("nocolumn:alpha") == 1);              // as a filter this would be an FTS5 error
  CHECK(count("\"unbalanced (quote* NEAR(") == 1);  // "near" matches the third row as a word
  CHECK(count("alp*") == 0);                        // no prefix queries
  CHECK(count("-alpha ^beta {x}") == 1);
  CHECK(count("NOT") == 1);
  sqlite3_close(db);
}

}  // namespace
}  // namespace r1
