// AgentStore: the agent database.
//
// ---- File ---------------------------------------------------------------------------------------
// One SQLite 3 file (plus its -wal and -shm while open). journal_mode=WAL, synchronous=FULL (each
// commit is fsynced to the WAL before the call returns), foreign_keys=ON, busy_timeout. Every
// write is one BEGIN IMMEDIATE transaction, so writers in several processes serialize on the
// write lock and a read-modify-write (the audit chain head) never races.
//
// ---- Schema version 1 (PRAGMA user_version = 1)
// --------------------------------------------------
//   schema_migrations(version INTEGER PK, applied_at INTEGER)       -- ms; one row per migration
//   sessions(id TEXT PK,                     -- 16 lowercase hex chars (8 random bytes)
//            agent_name TEXT, created_at INTEGER)
//   runs(id TEXT PK,                         -- 16 lowercase hex chars
//        session_id TEXT -> sessions, agent_name TEXT, input TEXT,
//        status TEXT CHECK IN (running, finished), stop_reason TEXT ('' while running),
//        final_answer TEXT, started_at INTEGER, finished_at INTEGER (0 while running))
//   steps(run_id TEXT -> runs, step INTEGER,  -- UNIQUE (run_id, step); steps 0, 1, 2, ...
//         raw_output TEXT, reasoning TEXT, content TEXT,
//         prompt_tokens, completion_tokens, reasoning_tokens INTEGER,   -- tokens
//         duration_ms INTEGER, created_at INTEGER)
//   messages(seq INTEGER PK,                 -- append order across the whole file
//            session_id TEXT -> sessions,
//            role TEXT CHECK IN (system, user, assistant, tool),
//            content TEXT, reasoning TEXT,  -- thinking is never mixed into content
//            tool_calls_json TEXT ('' or a JSON array), tool_call_id TEXT, name TEXT,
//            run_id TEXT -> runs (NULL outside a run), step INTEGER (-1 outside a step),
//            created_at INTEGER)
//   tool_calls(run_id TEXT -> runs, call_id TEXT, PK (run_id, call_id); rowid = start order,
//              step INTEGER, tool_name TEXT, arguments_json TEXT (as produced; may be malformed),
//              status TEXT CHECK IN (running, ok, error, denied, timeout, interrupted),
//              result_text TEXT, started_at INTEGER, finished_at INTEGER, duration_ms INTEGER)
//   facts(id INTEGER PK, scope TEXT, text TEXT, created_at INTEGER)
//   facts_fts: FTS5(text), external content = facts (content_rowid = id), tokenizer
//              "porter unicode61 remove_diacritics 2"; kept in sync by triggers on facts.
//   audit, audit_head: the hash chain; layout and hash bytes in memory/audit_log.cpp.
// All times are ms since the Unix epoch; all text is UTF-8; JSON is stored as text.
//
// ---- Migrations ---------------------------------------------------------------------------------
// kMigrations lists (version, SQL) in order. open() reads user_version: newer than
// kAgentStoreSchemaVersion is refused; older is brought up to date by applying each later
// migration in one BEGIN IMMEDIATE transaction that also records it in schema_migrations and sets
// user_version (re-read inside the transaction, so two processes creating the file at once apply
// it once). Version 2 is added by appending {2, "ALTER TABLE ..."} and bumping the constant.
#include "memory/agent_store.h"

#include <openssl/rand.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

namespace r1 {
namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  agent_name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  agent_name TEXT NOT NULL,
  input TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'finished')),
  stop_reason TEXT NOT NULL DEFAULT '',
  final_answer TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_session ON runs(session_id);
CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs(id),
  step INTEGER NOT NULL,
  raw_output TEXT NOT NULL,
  reasoning TEXT NOT NULL,
  content TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (run_id, step)
);
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content TEXT NOT NULL,
  reasoning TEXT NOT NULL,
  tool_calls_json TEXT NOT NULL,
  tool_call_id TEXT NOT NULL,
  name TEXT NOT NULL,
  run_id TEXT REFERENCES runs(id),
  step INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_session ON messages(session_id, seq);
CREATE INDEX messages_by_run ON messages(run_id);
CREATE TABLE tool_calls (
  run_id TEXT NOT NULL REFERENCES runs(id),
  call_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  tool_name TEXT NOT NULL,
  arguments_json TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('running', 'ok', 'error', 'denied', 'timeout', 'interrupted')),
  result_text TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, call_id)
);
CREATE TABLE facts (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX facts_by_scope ON facts(scope);
CREATE VIRTUAL TABLE facts_fts USING fts5(
  text, content = 'facts', content_rowid = 'id',
  tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TRIGGER facts_after_insert AFTER INSERT ON facts BEGIN
  INSERT INTO facts_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER facts_after_delete AFTER DELETE ON facts BEGIN
  INSERT INTO facts_fts(facts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  run_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_by_run ON audit(run_id);
CREATE TABLE audit_head (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  last_id INTEGER NOT NULL,
  last_hash TEXT NOT NULL
);
INSERT INTO audit_head(one, last_id, last_hash)
  VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
)sql";

struct Migration {
  int version;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kAgentStoreSchemaVersion,
              "one migration per schema version");

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> random_id() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return Status::internal("agent store: RAND_bytes failed to produce an id");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 0; i < 8; ++i) {
    id[2 * i] = kHex[bytes[i] >> 4];
    id[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return id;
}

std::string expand_home(const std::string& path) {
  if (path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) return std::string(home) + path.substr(1);
  }
  return path;
}

bool is_role(const std::string& role) {
  return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

bool is_final_tool_status(const std::string& s) {
  return s == "ok" || s == "error" || s == "denied" || s == "timeout";
}

// A cached statement bound for one use: reset and unbound when it goes out of scope.
class Query {
 public:
  explicit Query(sqlite3_stmt* s) : s_(s) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Query& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
  }
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  double f64(int col) const { return sqlite3_column_double(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_;
};

// Common English words that carry no topic; dropped from a recall query unless nothing else is
// left, so "what is the name of my cat" ranks by "name" and "cat", not by "the" and "is".
bool is_stopword(const std::string& lower) {
  static const char* const kStopwords[] = {
      "a",     "an",   "and",  "are",  "as",   "at",    "be",    "but",  "by",   "can",
      "did",   "do",   "does", "for",  "from", "had",   "has",   "have", "how",  "i",
      "if",    "in",   "is",   "it",   "its",  "me",    "my",    "no",   "not",  "of",
      "on",    "or",   "our",  "so",   "that", "the",   "their", "them", "then", "there",
      "these", "they", "this", "to",   "was",  "we",    "were",  "what", "when", "where",
      "which", "who",  "why",  "will", "with", "would", "you",   "your"};
  for (const char* w : kStopwords) {
    if (lower == w) return true;
  }
  return false;
}

// Plain user text -> an FTS5 query: each word quoted ("..." with " doubled), joined with OR.
// A word is a run of ASCII letters/digits/_ or non-ASCII bytes, close to what the unicode61
// tokenizer sees; everything else (quotes, *, ^, :, parentheses, +, -) separates words, and
// operators such as NEAR/AND/NOT end up inside quotes, where they are plain words.
std::string fts5_query_from_text(const std::string& text) {
  constexpr size_t kMaxTerms = 64;
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && words.size() < kMaxTerms) words.push_back(word);
    word.clear();
  };
  for (unsigned char c : text) {
    bool word_char = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || c >= 0x80;
    if (word_char) {
      word += static_cast<char>(c);
    } else {
      flush();
    }
  }
  flush();
  std::vector<std::string> topical;
  for (const std::string& w : words) {
    std::string lower = w;
    for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!is_stopword(lower)) topical.push_back(w);
  }
  const std::vector<std::string>& terms = topical.empty() ? words : topical;
  std::string out;
  for (const std::string& w : terms) {
    if (!out.empty()) out += " OR ";
    out += '"';
    for (char c : w) {
      out += c;
      if (c == '"') out += '"';  // cannot occur (quotes separate words); kept for safety
    }
    out += '"';
  }
  return out;
}

}  // namespace

std::string default_agent_db_path() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return std::string(x) + "/r1/agents.db";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.local/share/r1/agents.db";
}

// ---- plumbing -----------------------------------------------------------------------------------

struct AgentStore::StatementCache {
  std::unordered_map<std::string, sqlite3_stmt*> by_sql;
  ~StatementCache() {
    for (auto& [sql, s] : by_sql) sqlite3_finalize(s);
  }
};

// BEGIN IMMEDIATE on construction (check ok()); ROLLBACK on destruction unless committed.
class AgentStore::Transaction {
 public:
  explicit Transaction(AgentStore& store) : store_(store) {
    status_ = store_.exec("BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (status_.is_ok() && !done_) sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  const Status& status() const { return status_; }
  Status commit() {
    Status s = store_.exec("COMMIT");
    if (s.is_ok()) done_ = true;
    return s;
  }

 private:
  AgentStore& store_;
  Status status_;
  bool done_ = false;
};

AgentStore::AgentStore(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db), statements_(std::make_unique<StatementCache>()) {}

AgentStore::~AgentStore() {
  statements_.reset();  // finalize before closing
  if (db_) sqlite3_close_v2(db_);
}

Status AgentStore::error(const char* what) const {
  const int code = sqlite3_errcode(db_);
  const std::string detail = sqlite3_errmsg(db_);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return Status::io_error("database busy: " + path_ + ": " + what + ": " + detail);
  }
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    return Status::io_error(path_ + ": not a SQLite database or corrupt (" + detail + ")");
  }
  return Status::io_error(path_ + ": " + what + ": " + detail);
}

Status AgentStore::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return error(sql);
  return Status::ok();
}

Result<sqlite3_stmt*> AgentStore::prepare(const char* sql) {
  auto it = statements_->by_sql.find(sql);
  if (it != statements_->by_sql.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return error("preparing a statement");
  }
  statements_->by_sql.emplace(sql, s);
  return s;
}

#define R1_PREPARE(var, sql)                   \
  auto var##_stmt = prepare(sql);              \
  if (!var##_stmt) return var##_stmt.status(); \
  Query var(*var##_stmt)

// The columns tool_call_from_row reads, in its order.
#define R1_TOOL_CALL_COLUMNS                                                            \
  "run_id, step, call_id, tool_name, arguments_json, status, result_text, started_at, " \
  "duration_ms"

namespace {
ToolCallRecord tool_call_from_row(const Query& q) {
  ToolCallRecord t;
  t.run_id = q.text(0);
  t.step = q.i64(1);
  t.call_id = q.text(2);
  t.tool_name = q.text(3);
  t.arguments_json = q.text(4);
  t.status = q.text(5);
  t.result_text = q.text(6);
  t.started_at = q.i64(7);
  t.duration_ms = q.i64(8);
  return t;
}
}  // namespace

#define R1_BEGIN(txn)     \
  Transaction txn(*this); \
  if (!txn.status().is_ok()) return txn.status()

// ---- open and migrate ---------------------------------------------------------------------------

Result<std::unique_ptr<AgentStore>> AgentStore::open(const std::string& path_in,
                                                     const AgentStoreOptions& options) {
  const std::string path = expand_home(path_in);
  if (path.empty()) return Status::invalid("agent store: empty database path");
  if (path != ":memory:") {
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Status::io_error(path + ": cannot create directory " + parent.string() + ": " +
                                ec.message());
      }
    }
    if (std::filesystem::is_directory(path, ec)) {
      return Status::io_error(path + ": is a directory, not an agent database");
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Status::io_error(path + ": cannot open agent database: " + detail);
  }
  std::unique_ptr<AgentStore> store(new AgentStore(path, db));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);

  // The first read of page 1: fails here for a file that is not a database.
  int version = 0;
  {
    auto stmt = store->prepare("PRAGMA user_version");
    if (!stmt) return stmt.status();
    Query q(*stmt);
    if (q.step() != SQLITE_ROW) return store->error("reading the schema version");
    version = static_cast<int>(q.i64(0));
  }
  if (version > kAgentStoreSchemaVersion) {
    return Status::io_error(path + ": schema version " + std::to_string(version) +
                            " is newer than this build supports (" +
                            std::to_string(kAgentStoreSchemaVersion) + "); upgrade r1");
  }
  {
    // Switching to WAL needs the file to itself and SQLite does not call the busy handler for
    // it, so processes creating the file together retry here, up to busy_timeout.
    auto stmt = store->prepare("PRAGMA journal_mode = WAL");
    if (!stmt) return stmt.status();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
    std::string mode;
    for (;;) {
      Query q(*stmt);
      const int step = q.step();
      if (step == SQLITE_ROW) {
        mode = q.text(0);
        break;
      }
      const int code = sqlite3_errcode(db) & 0xff;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        return store->error("setting journal_mode=WAL");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (mode != "wal" && path != ":memory:") {
      return Status::io_error(path + ": cannot use WAL journal mode (got '" + mode + "')");
    }
  }
  R1_RETURN_IF_ERROR(store->exec("PRAGMA synchronous = FULL"));
  R1_RETURN_IF_ERROR(store->exec("PRAGMA foreign_keys = ON"));
  R1_RETURN_IF_ERROR(store->migrate());
  return store;
}

Status AgentStore::migrate() {
  int version = 0;
  {
    R1_PREPARE(q, "PRAGMA user_version");
    if (q.step() != SQLITE_ROW) return error("reading the schema version");
    version = static_cast<int>(q.i64(0));
  }
  if (version == kAgentStoreSchemaVersion) return Status::ok();
  R1_BEGIN(txn);
  {
    // Re-read under the write lock: another process may have migrated meanwhile.
    R1_PREPARE(q, "PRAGMA user_version");
    if (q.step() != SQLITE_ROW) return error("reading the schema version");
    version = static_cast<int>(q.i64(0));
  }
  if (version > kAgentStoreSchemaVersion) {
    return Status::io_error(path_ + ": schema version " + std::to_string(version) +
                            " is newer than this build supports (" +
                            std::to_string(kAgentStoreSchemaVersion) + "); upgrade r1");
  }
  if (version == 0) {
    // A fresh file must be empty; an unversioned file with tables is someone else's database.
    R1_PREPARE(q, "SELECT count(*) FROM sqlite_schema");
    if (q.step() != SQLITE_ROW) return error("reading the schema");
    if (q.i64(0) != 0) {
      return Status::io_error(path_ +
                              ": not an r1 agent database (it has tables but no schema version)");
    }
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    if (sqlite3_exec(db_, m.sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return error(("applying schema migration " + std::to_string(m.version)).c_str());
    }
    {
      R1_PREPARE(q, "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)");
      q.bind(1, static_cast<int64_t>(m.version)).bind(2, now_ms());
      if (q.step() != SQLITE_DONE) return error("recording a schema migration");
    }
    const std::string set_version = "PRAGMA user_version = " + std::to_string(m.version);
    R1_RETURN_IF_ERROR(exec(set_version.c_str()));
  }
  return txn.commit();
}

// ---- sessions and messages ----------------------------------------------------------------------

Result<std::string> AgentStore::create_session(const std::string& agent_name) {
  auto id = random_id();
  if (!id) return id.status();
  R1_BEGIN(txn);
  {
    R1_PREPARE(q, "INSERT INTO sessions(id, agent_name, created_at) VALUES (?1, ?2, ?3)");
    q.bind(1, *id).bind(2, agent_name).bind(3, now_ms());
    if (q.step() != SQLITE_DONE) return error("creating a session");
  }
  R1_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<bool> AgentStore::session_exists(const std::string& session_id) {
  R1_PREPARE(q, "SELECT 1 FROM sessions WHERE id = ?1");
  q.bind(1, session_id);
  int rc = q.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error("looking up a session");
}

Result<int64_t> AgentStore::append_message_in_txn(const std::string& session_id,
                                                  const StoredMessage& m, int64_t now) {
  if (!is_role(m.role)) {
    return Status::invalid("message: unknown role '" + m.role +
                           "' (expected system, user, assistant or tool)");
  }
  if (!m.tool_calls_json.empty()) {
    auto parsed = nlohmann::json::parse(m.tool_calls_json, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_array()) {
      return Status::invalid("message: tool_calls_json is not a JSON array: " +
                             m.tool_calls_json.substr(0, 80));
    }
  }
  auto exists = session_exists(session_id);
  if (!exists) return exists.status();
  if (!*exists) return Status::not_found("message: no session '" + session_id + "'");
  if (!m.run_id.empty()) {
    R1_PREPARE(q, "SELECT 1 FROM runs WHERE id = ?1");
    q.bind(1, m.run_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) return Status::not_found("message: no run '" + m.run_id + "'");
    if (rc != SQLITE_ROW) return error("looking up a run");
  }
  R1_PREPARE(q,
             "INSERT INTO messages(session_id, role, content, reasoning, tool_calls_json, "
             "tool_call_id, name, run_id, step, created_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  q.bind(1, session_id).bind(2, m.role).bind(3, m.content).bind(4, m.reasoning);
  q.bind(5, m.tool_calls_json).bind(6, m.tool_call_id).bind(7, m.name);
  if (m.run_id.empty()) {
    q.bind_null(8);
  } else {
    q.bind(8, m.run_id);
  }
  q.bind(9, m.step).bind(10, now);
  if (q.step() != SQLITE_DONE) return error("appending a message");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<int64_t> AgentStore::append_message(const std::string& session_id,
                                           const StoredMessage& message) {
  R1_BEGIN(txn);
  auto seq = append_message_in_txn(session_id, message, now_ms());
  if (!seq) return seq.status();
  R1_RETURN_IF_ERROR(txn.commit());
  return seq;
}

Result<std::vector<StoredMessage>> AgentStore::load_messages(const std::string& session_id) {
  auto exists = session_exists(session_id);
  if (!exists) return exists.status();
  if (!*exists) return Status::not_found("no session '" + session_id + "'");
  R1_PREPARE(q,
             "SELECT seq, role, content, reasoning, tool_calls_json, tool_call_id, name, run_id, "
             "step, created_at FROM messages WHERE session_id = ?1 ORDER BY seq");
  q.bind(1, session_id);
  std::vector<StoredMessage> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    StoredMessage m;
    m.seq = q.i64(0);
    m.role = q.text(1);
    m.content = q.text(2);
    m.reasoning = q.text(3);
    m.tool_calls_json = q.text(4);
    m.tool_call_id = q.text(5);
    m.name = q.text(6);
    m.run_id = q.text(7);  // NULL reads as ""
    m.step = q.i64(8);
    m.created_at = q.i64(9);
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return error("loading messages");
  return out;
}

// ---- runs ---------------------------------------------------------------------------------------

Result<std::string> AgentStore::begin_run(const std::string& session_id,
                                          const std::string& agent_name,
                                          const std::string& input_text) {
  auto id = random_id();
  if (!id) return id.status();
  R1_BEGIN(txn);
  auto exists = session_exists(session_id);
  if (!exists) return exists.status();
  if (!*exists) return Status::not_found("begin_run: no session '" + session_id + "'");
  {
    R1_PREPARE(q,
               "INSERT INTO runs(id, session_id, agent_name, input, status, started_at) "
               "VALUES (?1, ?2, ?3, ?4, 'running', ?5)");
    q.bind(1, *id).bind(2, session_id).bind(3, agent_name).bind(4, input_text).bind(5, now_ms());
    if (q.step() != SQLITE_DONE) return error("beginning a run");
  }
  R1_RETURN_IF_ERROR(txn.commit());
  return id;
}

Status AgentStore::end_run(const std::string& run_id, const std::string& stop_reason,
                           const std::string& final_answer) {
  R1_BEGIN(txn);
  {
    R1_PREPARE(q, "SELECT status FROM runs WHERE id = ?1");
    q.bind(1, run_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) return Status::not_found("end_run: no run '" + run_id + "'");
    if (rc != SQLITE_ROW) return error("looking up a run");
    if (q.text(0) != "running") {
      return Status::invalid("end_run: run '" + run_id + "' is already finished");
    }
  }
  {
    R1_PREPARE(q,
               "UPDATE runs SET status = 'finished', stop_reason = ?2, final_answer = ?3, "
               "finished_at = ?4 WHERE id = ?1");
    q.bind(1, run_id).bind(2, stop_reason).bind(3, final_answer).bind(4, now_ms());
    if (q.step() != SQLITE_DONE) return error("ending a run");
  }
  return txn.commit();
}

Result<std::vector<ToolCallRecord>> AgentStore::load_tool_calls(const std::string& run_id) {
  R1_PREPARE(q, "SELECT " R1_TOOL_CALL_COLUMNS " FROM tool_calls WHERE run_id = ?1 ORDER BY rowid");
  q.bind(1, run_id);
  std::vector<ToolCallRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    out.push_back(tool_call_from_row(q));
  }
  if (rc != SQLITE_DONE) return error("loading tool calls");
  return out;
}

Result<RunRecord> AgentStore::load_run(const std::string& run_id) {
  RunRecord r;
  {
    R1_PREPARE(q,
               "SELECT id, session_id, agent_name, input, status, stop_reason, final_answer, "
               "started_at, finished_at, (SELECT count(*) FROM steps WHERE run_id = runs.id) "
               "FROM runs WHERE id = ?1");
    q.bind(1, run_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) return Status::not_found("no run '" + run_id + "'");
    if (rc != SQLITE_ROW) return error("loading a run");
    r.run_id = q.text(0);
    r.session_id = q.text(1);
    r.agent_name = q.text(2);
    r.input = q.text(3);
    r.status = q.text(4);
    r.stop_reason = q.text(5);
    r.final_answer = q.text(6);
    r.started_at = q.i64(7);
    r.finished_at = q.i64(8);
    r.steps_done = q.i64(9);
  }
  auto calls = load_tool_calls(run_id);
  if (!calls) return calls.status();
  r.tool_calls = std::move(*calls);
  return r;
}

Result<std::vector<RunRecord>> AgentStore::list_runs(const std::string& session_id) {
  std::vector<std::string> ids;
  {
    R1_PREPARE(q, "SELECT id FROM runs WHERE session_id = ?1 ORDER BY started_at, rowid");
    q.bind(1, session_id);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) ids.push_back(q.text(0));
    if (rc != SQLITE_DONE) return error("listing runs");
  }
  std::vector<RunRecord> out;
  for (const std::string& id : ids) {
    auto r = load_run(id);
    if (!r) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

// ---- steps --------------------------------------------------------------------------------------

Status AgentStore::commit_step(const StepRecord& s) {
  const int64_t now = now_ms();
  R1_BEGIN(txn);
  std::string session_id;
  int64_t steps_done = 0;
  {
    R1_PREPARE(q,
               "SELECT session_id, status, (SELECT count(*) FROM steps WHERE run_id = runs.id) "
               "FROM runs WHERE id = ?1");
    q.bind(1, s.run_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) return Status::not_found("commit_step: no run '" + s.run_id + "'");
    if (rc != SQLITE_ROW) return error("looking up a run");
    if (q.text(1) != "running") {
      return Status::invalid("commit_step: run '" + s.run_id + "' is already finished");
    }
    session_id = q.text(0);
    steps_done = q.i64(2);
  }
  if (s.step != steps_done) {
    return Status::invalid("commit_step: run '" + s.run_id + "' step " + std::to_string(s.step) +
                           (s.step < steps_done ? " is already committed" : " is out of order") +
                           " (next step is " + std::to_string(steps_done) + ")");
  }
  {
    R1_PREPARE(q,
               "INSERT INTO steps(run_id, step, raw_output, reasoning, content, prompt_tokens, "
               "completion_tokens, reasoning_tokens, duration_ms, created_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    q.bind(1, s.run_id).bind(2, s.step).bind(3, s.raw_output).bind(4, s.reasoning);
    q.bind(5, s.content).bind(6, s.prompt_tokens).bind(7, s.completion_tokens);
    q.bind(8, s.reasoning_tokens).bind(9, s.duration_ms).bind(10, now);
    if (q.step() != SQLITE_DONE) return error("writing a step");
  }
  for (const StoredMessage& m : s.messages) {
    StoredMessage owned = m;
    if (owned.run_id.empty()) owned.run_id = s.run_id;
    if (owned.step < 0) owned.step = s.step;
    auto seq = append_message_in_txn(session_id, owned, now);
    if (!seq) return seq.status();
  }
  for (const ToolCallResult& t : s.tool_results) {
    R1_RETURN_IF_ERROR(finish_tool_call_in_txn(s.run_id, t));
  }
  for (const AuditEntry& e : s.audit) {
    auto id = audit_detail::append(db_, s.run_id, e, now);
    if (!id) return id.status();
  }
  return txn.commit();
}

Result<std::vector<StepRecord>> AgentStore::load_steps(const std::string& run_id) {
  R1_PREPARE(q,
             "SELECT run_id, step, raw_output, reasoning, content, prompt_tokens, "
             "completion_tokens, reasoning_tokens, duration_ms, created_at FROM steps "
             "WHERE run_id = ?1 ORDER BY step");
  q.bind(1, run_id);
  std::vector<StepRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    StepRecord s;
    s.run_id = q.text(0);
    s.step = q.i64(1);
    s.raw_output = q.text(2);
    s.reasoning = q.text(3);
    s.content = q.text(4);
    s.prompt_tokens = q.i64(5);
    s.completion_tokens = q.i64(6);
    s.reasoning_tokens = q.i64(7);
    s.duration_ms = q.i64(8);
    s.created_at = q.i64(9);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return error("loading steps");
  return out;
}

// ---- tool calls ---------------------------------------------------------------------------------

Status AgentStore::tool_call_started(const std::string& run_id, int64_t step,
                                     const std::string& call_id, const std::string& tool_name,
                                     const std::string& arguments_json) {
  R1_BEGIN(txn);
  {
    R1_PREPARE(q, "SELECT status FROM runs WHERE id = ?1");
    q.bind(1, run_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) return Status::not_found("tool_call_started: no run '" + run_id + "'");
    if (rc != SQLITE_ROW) return error("looking up a run");
    if (q.text(0) != "running") {
      return Status::invalid("tool_call_started: run '" + run_id + "' is already finished");
    }
  }
  {
    R1_PREPARE(q, "SELECT status FROM tool_calls WHERE run_id = ?1 AND call_id = ?2");
    q.bind(1, run_id).bind(2, call_id);
    int rc = q.step();
    if (rc == SQLITE_ROW) {
      return Status::invalid("tool_call_started: call '" + call_id + "' of run '" + run_id +
                             "' was already recorded (status " + q.text(0) + ")");
    }
    if (rc != SQLITE_DONE) return error("looking up a tool call");
  }
  {
    R1_PREPARE(q,
               "INSERT INTO tool_calls(run_id, call_id, step, tool_name, arguments_json, status, "
               "started_at) VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)");
    q.bind(1, run_id).bind(2, call_id).bind(3, step).bind(4, tool_name).bind(5, arguments_json);
    q.bind(6, now_ms());
    if (q.step() != SQLITE_DONE) return error("recording a tool call");
  }
  return txn.commit();
}

Status AgentStore::finish_tool_call_in_txn(const std::string& run_id, const ToolCallResult& t) {
  if (!is_final_tool_status(t.status)) {
    return Status::invalid("tool call '" + t.call_id + "': unknown result status '" + t.status +
                           "' (expected ok, error, denied or timeout)");
  }
  {
    R1_PREPARE(q, "SELECT status FROM tool_calls WHERE run_id = ?1 AND call_id = ?2");
    q.bind(1, run_id).bind(2, t.call_id);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
      return Status::not_found("tool call '" + t.call_id + "' of run '" + run_id +
                               "' was never started");
    }
    if (rc != SQLITE_ROW) return error("looking up a tool call");
    if (q.text(0) != "running") {
      return Status::invalid("tool call '" + t.call_id + "' of run '" + run_id +
                             "' is not running (status " + q.text(0) + ")");
    }
  }
  R1_PREPARE(q,
             "UPDATE tool_calls SET status = ?3, result_text = ?4, duration_ms = ?5, "
             "finished_at = ?6 WHERE run_id = ?1 AND call_id = ?2");
  q.bind(1, run_id).bind(2, t.call_id).bind(3, t.status).bind(4, t.result_text);
  q.bind(5, t.duration_ms).bind(6, now_ms());
  if (q.step() != SQLITE_DONE) return error("recording a tool result");
  return Status::ok();
}

Status AgentStore::tool_call_finished(const std::string& run_id, const std::string& call_id,
                                      const std::string& status, const std::string& result_text,
                                      int64_t duration_ms) {
  R1_BEGIN(txn);
  R1_RETURN_IF_ERROR(
      finish_tool_call_in_txn(run_id, ToolCallResult{call_id, status, result_text, duration_ms}));
  return txn.commit();
}

Result<std::optional<ToolCallRecord>> AgentStore::find_tool_call(const std::string& run_id,
                                                                 const std::string& call_id) {
  R1_PREPARE(q,
             "SELECT " R1_TOOL_CALL_COLUMNS " FROM tool_calls WHERE run_id = ?1 AND call_id = ?2");
  q.bind(1, run_id).bind(2, call_id);
  int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<ToolCallRecord>();
  if (rc != SQLITE_ROW) return error("looking up a tool call");
  return std::optional<ToolCallRecord>(tool_call_from_row(q));
}

Result<std::vector<ToolCallRecord>> AgentStore::mark_interrupted(const std::string& run_id) {
  R1_BEGIN(txn);
  auto calls = load_tool_calls(run_id);
  if (!calls) return calls.status();
  std::vector<ToolCallRecord> interrupted;
  for (ToolCallRecord& t : *calls) {
    if (t.status == "running") {
      t.status = "interrupted";
      interrupted.push_back(std::move(t));
    }
  }
  if (!interrupted.empty()) {
    R1_PREPARE(q,
               "UPDATE tool_calls SET status = 'interrupted', finished_at = ?2 "
               "WHERE run_id = ?1 AND status = 'running'");
    q.bind(1, run_id).bind(2, now_ms());
    if (q.step() != SQLITE_DONE) return error("marking tool calls interrupted");
  }
  R1_RETURN_IF_ERROR(txn.commit());
  return interrupted;
}

// ---- facts --------------------------------------------------------------------------------------

Result<int64_t> AgentStore::remember(const std::string& scope, const std::string& text) {
  R1_BEGIN(txn);
  {
    R1_PREPARE(q, "INSERT INTO facts(scope, text, created_at) VALUES (?1, ?2, ?3)");
    q.bind(1, scope).bind(2, text).bind(3, now_ms());
    if (q.step() != SQLITE_DONE) return error("storing a fact");
  }
  const int64_t id = sqlite3_last_insert_rowid(db_);
  R1_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<std::vector<Fact>> AgentStore::recall(const std::string& scope, const std::string& query,
                                             int k) {
  std::vector<Fact> out;
  const std::string fts_query = fts5_query_from_text(query);
  if (fts_query.empty() || k <= 0) return out;
  R1_PREPARE(q,
             "SELECT f.id, f.text, f.created_at, bm25(facts_fts) FROM facts_fts "
             "JOIN facts f ON f.id = facts_fts.rowid "
             "WHERE facts_fts MATCH ?1 AND f.scope = ?2 ORDER BY bm25(facts_fts) LIMIT ?3");
  q.bind(1, fts_query).bind(2, scope).bind(3, static_cast<int64_t>(k));
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    Fact f;
    f.id = q.i64(0);
    f.text = q.text(1);
    f.created_at = q.i64(2);
    f.score = -q.f64(3);
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return error("recalling facts");
  return out;
}

Status AgentStore::forget(int64_t fact_id) {
  R1_BEGIN(txn);
  {
    R1_PREPARE(q, "DELETE FROM facts WHERE id = ?1");
    q.bind(1, fact_id);
    if (q.step() != SQLITE_DONE) return error("deleting a fact");
  }
  if (sqlite3_changes(db_) == 0) {
    return Status::not_found("forget: no fact with id " + std::to_string(fact_id));
  }
  return txn.commit();
}

// ---- audit --------------------------------------------------------------------------------------

Result<int64_t> AgentStore::audit(const std::string& run_id, const std::string& kind,
                                  const std::string& payload_json) {
  R1_BEGIN(txn);
  auto id = audit_detail::append(db_, run_id, AuditEntry{kind, payload_json}, now_ms());
  if (!id) return id.status();
  R1_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<AuditReport> AgentStore::verify_audit() {
  R1_RETURN_IF_ERROR(exec("BEGIN"));
  Result<AuditReport> report = audit_detail::verify(db_);
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  return report;
}

Result<std::vector<AuditRow>> AgentStore::load_audit(int64_t after_id, int64_t limit) {
  R1_PREPARE(q,
             "SELECT id, time_ms, kind, run_id, payload, prev_hash, hash FROM audit "
             "WHERE id > ?1 ORDER BY id LIMIT ?2");
  q.bind(1, after_id).bind(2, limit);
  std::vector<AuditRow> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    AuditRow r;
    r.id = q.i64(0);
    r.time_ms = q.i64(1);
    r.kind = q.text(2);
    r.run_id = q.text(3);
    r.payload_json = q.text(4);
    r.prev_hash = q.text(5);
    r.hash = q.text(6);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return error("loading audit rows");
  return out;
}

#undef R1_PREPARE
#undef R1_BEGIN

}  // namespace r1
