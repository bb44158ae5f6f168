#include "tools/sqlite_query.h"

#include <sqlite3.h>

#include <cctype>
#include <cstdio>
#include <cstring>

namespace r1 {

namespace {

struct Progress {
  const ToolContext* ctx;
};

int progress_handler(void* p) {
  // Non-zero interrupts the statement (SQLITE_INTERRUPT).
  return static_cast<Progress*>(p)->ctx->is_cancelled() ? 1 : 0;
}

int authorizer(void*, int action, const char*, const char*, const char*, const char*) {
  if (action == SQLITE_ATTACH || action == SQLITE_DETACH) return SQLITE_DENY;
  return SQLITE_OK;
}

// True when `tail` holds only whitespace, ';' and SQL comments.
bool only_trivia(const char* tail) {
  const char* p = tail;
  while (*p != '\0') {
    if (std::isspace(static_cast<unsigned char>(*p)) || *p == ';') {
      ++p;
    } else if (p[0] == '-' && p[1] == '-') {
      while (*p != '\0' && *p != '\n') ++p;
    } else if (p[0] == '/' && p[1] == '*') {
      const char* end = std::strstr(p + 2, "*/");
      if (end == nullptr) return true;  // an unterminated comment runs to the end
      p = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

nlohmann::json column_json(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(st, i);
    case SQLITE_TEXT: {
      const char* s = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
      return std::string(s, static_cast<size_t>(sqlite3_column_bytes(st, i)));
    }
    case SQLITE_BLOB:
      return "<blob " + std::to_string(sqlite3_column_bytes(st, i)) + " bytes>";
    default:
      return nullptr;
  }
}

std::string cell_text(const nlohmann::json& v) {
  if (v.is_null()) return "NULL";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

Tool make_sqlite_query_tool(const std::string& db_path, int32_t max_rows) {
  Tool t;
  t.name = "sqlite_query";
  t.description =
      "Runs one read-only SQL statement (SELECT, or PRAGMA that only reads) on the "
      "SQLite database and returns at most " +
      std::to_string(max_rows) +
      " rows, as a JSON array of objects (format \"json\") or a tab-separated table "
      "(format \"table\"). Writes, ATTACH and several statements are refused.";
  t.parameters = {{"type", "object"},
                  {"properties",
                   {{"sql", {{"type", "string"}, {"description", "one SQL statement"}}},
                    {"format", {{"type", "string"}, {"enum", {"json", "table"}}}}}},
                  {"required", {"sql"}},
                  {"additionalProperties", false}};
  t.timeout_s = 30;
  t.handler = [db_path, max_rows](const nlohmann::json& args,
                                  const ToolContext& ctx) -> Result<ToolOutput> {
    std::string sql = args.at("sql").get<std::string>();
    bool table = args.value("format", "json") == "table";
    sqlite3* db = nullptr;
    // SQLITE_OPEN_URI off: the path is a plain file name, so "?mode=rw" tricks do not apply.
    int rc =
        sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      sqlite3_close(db);
      return tool_error("cannot open the database \"" + db_path + "\": " + msg);
    }
    struct Closer {
      sqlite3* db;
      sqlite3_stmt* st = nullptr;
      ~Closer() {
        sqlite3_finalize(st);
        sqlite3_close(db);
      }
    } closer{db};
    sqlite3_busy_timeout(db, 2000);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    char* err = nullptr;
    if (sqlite3_exec(db, "PRAGMA query_only = 1", nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      return tool_error("cannot make the connection read-only: " + msg);
    }
    sqlite3_set_authorizer(db, authorizer, nullptr);
    Progress progress{&ctx};
    sqlite3_progress_handler(db, 1000, progress_handler, &progress);

    const char* tail = nullptr;
    rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &closer.st, &tail);
    if (rc != SQLITE_OK) return tool_error(std::string("SQL error: ") + sqlite3_errmsg(db));
    if (closer.st == nullptr) return tool_error("the SQL text holds no statement");
    if (tail != nullptr && !only_trivia(tail)) {
      return tool_error("only one SQL statement is allowed per call");
    }
    if (!sqlite3_stmt_readonly(closer.st)) {
      return tool_error("the statement would modify the database; this connection is read-only");
    }
    sqlite3_stmt* st = closer.st;
    int n_cols = sqlite3_column_count(st);
    std::vector<std::string> names;
    for (int i = 0; i < n_cols; ++i) {
      const char* n = sqlite3_column_name(st, i);
      names.push_back(n ? n : "?");
    }
    nlohmann::json rows = nlohmann::json::array();
    std::string text;
    for (int i = 0; i < n_cols; ++i) text += (i ? "\t" : "") + names[i];
    text += "\n";
    int32_t count = 0;
    bool more = false;
    while (true) {
      rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        if (rc == SQLITE_INTERRUPT) return tool_error("the query was stopped (time limit)");
        return tool_error(std::string("SQL error: ") + sqlite3_errmsg(db));
      }
      if (count == max_rows) {
        more = true;
        break;
      }
      nlohmann::json row = nlohmann::json::object();
      for (int i = 0; i < n_cols; ++i) {
        nlohmann::json v = column_json(st, i);
        if (table) {
          text += (i ? "\t" : "") + cell_text(v);
        } else {
          row[names[i]] = std::move(v);
        }
      }
      if (table) {
        text += "\n";
      } else {
        rows.push_back(std::move(row));
      }
      ++count;
    }
    ToolOutput out;
    // Invalid UTF-8 in TEXT cells is replaced rather than failing the dump.
    out.content =
        table ? text : rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (more) {
      out.content += "\n[more rows not shown: the limit is " + std::to_string(max_rows) +
                     "; refine the query or add LIMIT/OFFSET]";
    }
    out.metadata["rows"] = count;
    return out;
  };
  return t;
}

}  // namespace r1
