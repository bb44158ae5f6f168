// The `sqlite_query` tool: one read-only SQL statement against a SQLite database file.
//
// Read-only three ways: the file is opened with SQLITE_OPEN_READONLY, `PRAGMA query_only = 1`
// is set, and a statement that sqlite3_stmt_readonly() says may write is refused before it
// runs. ATTACH is refused (an authorizer), so the query cannot reach other files. Exactly one
// statement (trailing ';' and whitespace allowed). At most `max_rows` rows are returned, then a
// note. A progress handler stops the query at the timeout or on cancellation.
//
// Arguments: {"sql": string, "format": "json" | "table" (default "json")}. JSON output is an
// array of objects keyed by column name (BLOBs as "<blob N bytes>"); "table" is a
// tab-separated header line and rows. Thread-safe: every call opens its own connection.
#pragma once

#include <cstdint>
#include <string>

#include "tools/tool.h"

namespace r1 {

Tool make_sqlite_query_tool(const std::string& db_path, int32_t max_rows = 200);

}  // namespace r1
