// AgentStore and the audit chain, on real SQLite files in a temporary directory.
#include "memory/agent_store.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace r1 {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path dir;
  TempDir() {
    static std::atomic<int> counter{0};
    dir = fs::temp_directory_path() /
          ("r1_memory_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::unique_ptr<AgentStore> open_or_fail(const std::string& path,
                                         const AgentStoreOptions& options = {}) {
  auto store = AgentStore::open(path, options);
  INFO(store.status().message());
  REQUIRE(store.is_ok());
  return std::move(store).value();
}

// Runs SQL on the file with a separate raw connection, as an attacker or another tool would.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << " -> " << (err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

int64_t raw_count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

std::string raw_text(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  std::string t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return t;
}

StoredMessage msg(std::string role, std::string content, std::string reasoning = "") {
  StoredMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  m.reasoning = std::move(reasoning);
  return m;
}

// A step as the agent loop writes it: the assistant's answer with one tool call, the tool's
// result message, and two audit rows.
StepRecord make_step(const std::string& run_id, int64_t index) {
  StepRecord s;
  s.run_id = run_id;
  s.step = index;
  s.raw_output = "<think>step " + std::to_string(index) + "</think>calling";
  s.reasoning = "step " + std::to_string(index);
  s.content = "calling";
  s.prompt_tokens = 100 + index;
  s.completion_tokens = 20;
  s.reasoning_tokens = 8;
  s.duration_ms = 42;
  StoredMessage a = msg("assistant", "calling", "step " + std::to_string(index));
  a.tool_calls_json = R"([{"id":"c)" + std::to_string(index) +
                      R"(","name":"calculator","arguments":{"expr":"1+1"}}])";
  StoredMessage t = msg("tool", "2");
  t.tool_call_id = "c" + std::to_string(index);
  t.name = "calculator";
  s.messages = {a, t};
  s.audit = {{"model_call", R"({"step":)" + std::to_string(index) + "}"},
             {"tool_call", R"({"tool":"calculator"})"}};
  return s;
}

}  // namespace

TEST_CASE("memory: a new database is created at schema version 1 in WAL mode and reopens") {
  TempDir tmp;
  const std::string path = tmp.file("nested/dirs/agents.db");
  std::string session;
  {
    auto store = open_or_fail(path);
    auto id = store->create_session("assistant");
    REQUIRE(id.is_ok());
    session = *id;
    CHECK(session.size() == 16);
    CHECK(session.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
  CHECK(raw_count(path, "PRAGMA user_version") == kAgentStoreSchemaVersion);
  CHECK(raw_text(path, "PRAGMA journal_mode") == "wal");
  CHECK(raw_count(path, "SELECT count(*) FROM schema_migrations") == 1);
  auto store = open_or_fail(path);  // reopen: no migration, data intact
  CHECK(raw_count(path, "SELECT count(*) FROM schema_migrations") == 1);
  CHECK(*store->session_exists(session));
  CHECK_FALSE(*store->session_exists("0000000000000000"));
  auto again = store->create_session("assistant");
  CHECK(*again != session);
}

TEST_CASE("memory: a database with a newer schema version is refused with a clear error") {
  TempDir tmp;
  const std::string path = tmp.file("future.db");
  { open_or_fail(path); }
  raw_exec(path, "PRAGMA user_version = 99");
  auto store = AgentStore::open(path);
  REQUIRE_FALSE(store.is_ok());
  const std::string& m = store.status().message();
  INFO(m);
  CHECK(m.find(path) != std::string::npos);
  CHECK(m.find("schema version 99") != std::string::npos);
  CHECK(m.find("newer") != std::string::npos);
  CHECK(raw_count(path, "PRAGMA user_version") == 99);  // left alone
}

TEST_CASE("memory: a file that is not an agent database is refused naming the path") {
  TempDir tmp;
  SUBCASE("garbage bytes") {
    const std::string path = tmp.file("garbage.db");
    std::ofstream(path) << std::string(4096, 'x');
    auto store = AgentStore::open(path);
    REQUIRE_FALSE(store.is_ok());
    INFO(store.status().message());
    CHECK(store.status().message().find(path) != std::string::npos);
    CHECK(store.status().message().find("not a SQLite database") != std::string::npos);
  }
  SUBCASE("a directory") {
    const std::string path = tmp.file("adir");
    fs::create_directories(path);
    auto store = AgentStore::open(path);
    REQUIRE_FALSE(store.is_ok());
    CHECK(store.status().message().find(path) != std::string::npos);
  }
  SUBCASE("another application's SQLite database") {
    const std::string path = tmp.file("other.db");
    raw_exec(path, "CREATE TABLE t(x)");
    auto store = AgentStore::open(path);
    REQUIRE_FALSE(store.is_ok());
    INFO(store.status().message());
    CHECK(store.status().message().find("not an r1 agent database") != std::string::npos);
  }
}

TEST_CASE("memory: a session continues across stores and keeps reasoning apart from content") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  std::string session, run1;
  {
    auto store = open_or_fail(path);
    session = *store->create_session("assistant");
    REQUIRE(store->append_message(session, msg("system", "You are helpful.")).is_ok());
    run1 = *store->begin_run(session, "assistant", "My name is Ada.");
    StoredMessage u = msg("user", "My name is Ada.");
    u.run_id = run1;
    REQUIRE(store->append_message(session, u).is_ok());
    StepRecord s;
    s.run_id = run1;
    s.step = 0;
    s.raw_output = "<think>greet</think>Hello Ada.";
    s.reasoning = "greet";
    s.content = "Hello Ada.";
    s.messages = {msg("assistant", "Hello Ada.", "greet")};
    REQUIRE(store->commit_step(s).is_ok());
    REQUIRE(store->end_run(run1, "final", "Hello Ada.").is_ok());
  }
  auto store = open_or_fail(path);
  auto history = store->load_messages(session);
  REQUIRE(history.is_ok());
  REQUIRE(history->size() == 3);
  CHECK((*history)[0].role == "system");
  CHECK((*history)[0].run_id == "");
  CHECK((*history)[0].step == -1);
  CHECK((*history)[1].content == "My name is Ada.");
  CHECK((*history)[2].role == "assistant");
  CHECK((*history)[2].content == "Hello Ada.");
  CHECK((*history)[2].reasoning == "greet");
  CHECK((*history)[2].run_id == run1);  // filled in by commit_step
  CHECK((*history)[2].step == 0);
  CHECK((*history)[0].seq < (*history)[1].seq);
  CHECK((*history)[1].seq < (*history)[2].seq);

  auto run2 = store->begin_run(session, "assistant", "What is my name?");
  REQUIRE(run2.is_ok());
  auto runs = store->list_runs(session);
  REQUIRE(runs.is_ok());
  REQUIRE(runs->size() == 2);
  CHECK((*runs)[0].run_id == run1);
  CHECK((*runs)[0].status == "finished");
  CHECK((*runs)[0].stop_reason == "final");
  CHECK((*runs)[0].final_answer == "Hello Ada.");
  CHECK((*runs)[0].steps_done == 1);
  CHECK((*runs)[1].run_id == *run2);
  CHECK((*runs)[1].status == "running");
  CHECK((*runs)[1].input == "What is my name?");

  CHECK(store->end_run(run1, "final", "again").code() == StatusCode::kInvalidArgument);
  CHECK(store->end_run("nope", "final", "").code() == StatusCode::kNotFound);
  CHECK(store->load_messages("nope").status().code() == StatusCode::kNotFound);
  CHECK(store->begin_run("nope", "a", "b").status().code() == StatusCode::kNotFound);
  CHECK(store->append_message(session, msg("robot", "x")).status().code() ==
        StatusCode::kInvalidArgument);
  StoredMessage bad_calls = msg("assistant", "x");
  bad_calls.tool_calls_json = R"({"not":"an array"})";
  CHECK(store->append_message(session, bad_calls).status().code() == StatusCode::kInvalidArgument);
  CHECK(store->load_messages(session)->size() == 3);
}

TEST_CASE("memory: commit_step stores all of a step or nothing of it") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  auto store = open_or_fail(path);
  const std::string session = *store->create_session("a");
  const std::string run = *store->begin_run(session, "a", "go");
  REQUIRE(store->commit_step(make_step(run, 0)).is_ok());

  auto counts = [&] {
    return std::vector<int64_t>{
        raw_count(path, "SELECT count(*) FROM steps"),
        raw_count(path, "SELECT count(*) FROM messages"),
        raw_count(path, "SELECT count(*) FROM audit"),
        raw_count(path, "SELECT last_id FROM audit_head"),
        raw_count(path, "SELECT count(*) FROM tool_calls WHERE status != 'running'")};
  };
  const std::vector<int64_t> before = counts();
  CHECK(before == std::vector<int64_t>{1, 2, 2, 2, 0});
  REQUIRE(store->tool_call_started(run, 1, "c1", "calculator", R"({"expr":"1+1"})").is_ok());

  // Each failure happens after the step row (and earlier parts) were written in the
  // transaction; all of it must be rolled back.
  SUBCASE("a bad audit kind, the last thing written") {
    StepRecord s = make_step(run, 1);
    s.tool_results = {{"c1", "ok", "2", 3}};
    s.audit.push_back({"bogus_kind", "{}"});
    Status st = store->commit_step(s);
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK(st.message().find("bogus_kind") != std::string::npos);
  }
  SUBCASE("an audit payload that is not JSON") {
    StepRecord s = make_step(run, 1);
    s.audit.push_back({"policy", "{not json"});
    CHECK(store->commit_step(s).code() == StatusCode::kInvalidArgument);
  }
  SUBCASE("a result for a tool call that was never started") {
    StepRecord s = make_step(run, 1);
    s.tool_results = {{"c1", "ok", "2", 3}, {"ghost", "ok", "?", 1}};
    CHECK(store->commit_step(s).code() == StatusCode::kNotFound);
  }
  SUBCASE("a message with a bad role after a good one") {
    StepRecord s = make_step(run, 1);
    s.messages.push_back(msg("narrator", "x"));
    CHECK(store->commit_step(s).code() == StatusCode::kInvalidArgument);
  }
  SUBCASE("a step index that is already committed or skips ahead") {
    CHECK(store->commit_step(make_step(run, 0)).code() == StatusCode::kInvalidArgument);
    CHECK(store->commit_step(make_step(run, 2)).code() == StatusCode::kInvalidArgument);
  }
  CHECK(counts() == before);
  CHECK(store->find_tool_call(run, "c1")->value().status == "running");
  auto report = store->verify_audit();
  REQUIRE(report.is_ok());
  CHECK(report->ok);

  // The store is still usable and the same step commits cleanly afterwards.
  StepRecord good = make_step(run, 1);
  good.tool_results = {{"c1", "ok", "2", 3}};
  REQUIRE(store->commit_step(good).is_ok());
  CHECK(counts() == std::vector<int64_t>{2, 4, 4, 4, 1});
  CHECK(store->verify_audit()->ok);
  auto steps = store->load_steps(run);
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[1].reasoning == "step 1");
  CHECK((*steps)[1].prompt_tokens == 101);
  CHECK((*steps)[1].raw_output == "<think>step 1</think>calling");

  REQUIRE(store->end_run(run, "final", "2").is_ok());
  CHECK(store->commit_step(make_step(run, 2)).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("memory: tool calls are recorded before they run and interrupted ones are reported") {
  TempDir tmp;
  auto store = open_or_fail(tmp.file("agents.db"));
  const std::string session = *store->create_session("a");
  const std::string run = *store->begin_run(session, "a", "go");

  REQUIRE(store->tool_call_started(run, 0, "a", "calculator", R"({"expr":"2*3"})").is_ok());
  REQUIRE(store->tool_call_started(run, 0, "b", "read_file", R"({"path":"x"})").is_ok());
  REQUIRE(store->tool_call_started(run, 0, "c", "http_get", R"({"url":"u"})").is_ok());
  REQUIRE(store->tool_call_started(run, 0, "d", "command", "{malformed").is_ok());
  CHECK(store->tool_call_started(run, 0, "a", "calculator", "{}").code() ==
        StatusCode::kInvalidArgument);
  CHECK(store->tool_call_started("nope", 0, "a", "calculator", "{}").code() ==
        StatusCode::kNotFound);

  REQUIRE(store->tool_call_finished(run, "a", "ok", "6", 2).is_ok());
  REQUIRE(store->tool_call_finished(run, "b", "denied", "path outside root", 0).is_ok());
  CHECK(store->tool_call_finished(run, "a", "ok", "6", 2).code() == StatusCode::kInvalidArgument);
  CHECK(store->tool_call_finished(run, "c", "maybe", "", 0).code() == StatusCode::kInvalidArgument);
  CHECK(store->tool_call_finished(run, "zzz", "ok", "", 0).code() == StatusCode::kNotFound);

  auto a = store->find_tool_call(run, "a");
  REQUIRE(a.is_ok());
  REQUIRE(a->has_value());
  CHECK((*a)->status == "ok");
  CHECK((*a)->result_text == "6");
  CHECK((*a)->duration_ms == 2);
  CHECK((*a)->arguments_json == R"({"expr":"2*3"})");
  CHECK_FALSE(store->find_tool_call(run, "nope")->has_value());

  auto interrupted = store->mark_interrupted(run);
  REQUIRE(interrupted.is_ok());
  REQUIRE(interrupted->size() == 2);
  CHECK((*interrupted)[0].call_id == "c");
  CHECK((*interrupted)[1].call_id == "d");
  CHECK((*interrupted)[1].arguments_json == "{malformed");
  for (const auto& t : *interrupted) CHECK(t.status == "interrupted");
  CHECK(store->mark_interrupted(run)->empty());  // idempotent
  CHECK(store->tool_call_finished(run, "c", "ok", "late", 1).code() ==
        StatusCode::kInvalidArgument);  // an interrupted call never gets a late result

  auto rec = store->load_run(run);
  REQUIRE(rec.is_ok());
  REQUIRE(rec->tool_calls.size() == 4);
  std::vector<std::string> statuses;
  for (const auto& t : rec->tool_calls) statuses.push_back(t.call_id + "=" + t.status);
  CHECK(statuses == std::vector<std::string>{"a=ok", "b=denied", "c=interrupted", "d=interrupted"});
}

TEST_CASE("memory: a run killed with SIGKILL leaves exactly its committed state") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  std::string session;
  {
    auto store = open_or_fail(path);
    session = *store->create_session("a");
  }  // closed before fork: a SQLite connection must not cross fork()

  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: no doctest assertions here; any failure exits non-zero instead of dying by
    // SIGKILL, which the parent sees.
    auto opened = AgentStore::open(path);
    if (!opened) _exit(10);
    auto store = std::move(opened).value();
    auto run = store->begin_run(session, "a", "work");
    if (!run) _exit(11);
    if (!store->tool_call_started(*run, 0, "t0", "calculator", R"({"expr":"1"})")) _exit(12);
    if (!store->tool_call_finished(*run, "t0", "ok", "1", 1)) _exit(13);
    if (!store->commit_step(make_step(*run, 0))) _exit(14);
    if (!store->commit_step(make_step(*run, 1))) _exit(15);
    if (!store->tool_call_started(*run, 2, "t2", "http_get", R"({"url":"x"})")) _exit(16);
    // A third step in flight: written inside an open transaction, never committed.
    sqlite3* raw = nullptr;
    if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) _exit(17);
    std::string sql =
        "BEGIN IMMEDIATE; INSERT INTO steps(run_id, step, raw_output, reasoning, "
        "content, prompt_tokens, completion_tokens, reasoning_tokens, duration_ms, "
        "created_at) VALUES ('" +
        *run + "', 2, 'x', '', '', 0, 0, 0, 0, 0);";
    if (sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(18);
    kill(getpid(), SIGKILL);
    _exit(19);
  }
  int wstatus = 0;
  REQUIRE(waitpid(pid, &wstatus, 0) == pid);
  INFO("child exit status " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
  REQUIRE(WIFSIGNALED(wstatus));
  REQUIRE(WTERMSIG(wstatus) == SIGKILL);

  auto store = open_or_fail(path);
  auto runs = store->list_runs(session);
  REQUIRE(runs.is_ok());
  REQUIRE(runs->size() == 1);
  const RunRecord& r = (*runs)[0];
  CHECK(r.status == "running");
  CHECK(r.steps_done == 2);  // the uncommitted third step is gone
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0].status == "ok");
  CHECK(r.tool_calls[0].result_text == "1");  // reused on resume, never re-executed
  CHECK(r.tool_calls[1].status == "running");
  CHECK(store->load_messages(session)->size() == 4);
  CHECK(store->verify_audit()->ok);
  CHECK(store->verify_audit()->rows_checked == 4);

  auto interrupted = store->mark_interrupted(r.run_id);
  REQUIRE(interrupted.is_ok());
  REQUIRE(interrupted->size() == 1);
  CHECK((*interrupted)[0].call_id == "t2");
  CHECK((*interrupted)[0].tool_name == "http_get");
  CHECK((*interrupted)[0].step == 2);
  // The resumed run continues at step 2.
  REQUIRE(store->commit_step(make_step(r.run_id, 2)).is_ok());
  CHECK(store->load_run(r.run_id)->steps_done == 3);
}

TEST_CASE("memory: recall ranks facts with BM25 and treats FTS5 syntax as plain words") {
  TempDir tmp;
  auto store = open_or_fail(tmp.file("agents.db"));
  const int64_t cat = *store->remember("alice", "Alice has a cat named Whiskers.");
  const int64_t dog = *store->remember("alice", "Alice's brother owns two dogs and a cat.");
  REQUIRE(store->remember("alice", "The quarterly report is due on Friday.").is_ok());
  REQUIRE(store->remember("bob", "Bob has a cat too.").is_ok());
  REQUIRE(store->remember("alice", "Café Zoë serves crème brûlée.").is_ok());

  auto hits = store->recall("alice", "What is the name of my cat?", 5);
  REQUIRE(hits.is_ok());
  REQUIRE(hits->size() >= 2);
  CHECK((*hits)[0].id == cat);  // "name" (porter: named) and "cat" both match
  CHECK((*hits)[0].score >= (*hits)[1].score);
  for (const Fact& f : *hits) CHECK(f.text.find("Bob") == std::string::npos);  // scoped
  CHECK(std::any_of(hits->begin(), hits->end(), [&](const Fact& f) { return f.id == dog; }));

  CHECK(store->recall("alice", "dog", 1)->size() == 1);  // porter stemming: dogs
  CHECK(store->recall("alice", "dog", 1)->front().id == dog);
  CHECK(store->recall("alice", "cafe zoe", 3)->size() == 1);  // diacritics folded
  CHECK(store->recall("alice", "", 3)->empty());
  CHECK(store->recall("alice", "  \"*()^ ", 3)->empty());
  CHECK(store->recall("alice", "cat", 0)->empty());

  // Hostile queries: FTS5 operators, unbalanced quotes and parentheses, column filters, prefix
  // stars. None is an error; each is read as the words in it.
  for (const char* q :
       {"\"cat", "cat\"", "NEAR(cat Whiskers, 2)", "cat*", "* OR *", "(((cat", "cat) AND (",
        "text:cat", "-cat", "^cat", "cat NOT Whiskers", "\"\"\"\"", "NEAR/2", "{text}: cat",
        "cat + dog", "AND OR NOT", "'; DROP TABLE facts; --", "\xE2\x80\x94 cat \xE2\x80\x94"}) {
    auto r = store->recall("alice", q, 5);
    INFO("query: " << q << " -> " << r.status().message());
    REQUIRE(r.is_ok());
  }
  auto near = store->recall("alice", "NEAR(cat Whiskers, 2)", 5);
  REQUIRE_FALSE(near->empty());
  CHECK(near->front().id == cat);
  auto words = store->recall("alice", "AND OR NOT", 5);  // plain words: "and" is in one fact
  REQUIRE(words->size() == 1);
  CHECK(words->front().id == dog);

  REQUIRE(store->forget(cat).is_ok());
  CHECK(store->forget(cat).code() == StatusCode::kNotFound);
  auto after = store->recall("alice", "Whiskers cat", 5);
  REQUIRE(after.is_ok());
  for (const Fact& f : *after) CHECK(f.id != cat);
}

TEST_CASE("audit: verify accepts a clean chain and names the row that was tampered with") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  std::string run;
  {
    auto store = open_or_fail(path);
    auto report = store->verify_audit();
    REQUIRE(report.is_ok());
    CHECK(report->ok);  // empty chain
    CHECK(report->rows_checked == 0);
    const std::string session = *store->create_session("a");
    run = *store->begin_run(session, "a", "go");
    REQUIRE(store->audit(run, "run", R"({"event":"begin"})").is_ok());
    REQUIRE(store->commit_step(make_step(run, 0)).is_ok());  // rows 2, 3
    REQUIRE(store->audit(run, "policy", R"({"tool":"x","decision":"deny"})").is_ok());
    REQUIRE(store->audit("", "policy", R"({"note":"outside a run"})").is_ok());
    CHECK(store->audit(run, "weird", "{}").status().code() == StatusCode::kInvalidArgument);
    CHECK(store->audit(run, "run", "not json").status().code() == StatusCode::kInvalidArgument);
    report = store->verify_audit();
    REQUIRE(report.is_ok());
    CHECK(report->ok);
    CHECK(report->rows_checked == 5);
    CHECK(report->first_bad_row_id == 0);
    auto rows = store->load_audit();
    REQUIRE(rows->size() == 5);
    CHECK((*rows)[0].prev_hash == audit_genesis_hash());
    for (size_t i = 1; i < rows->size(); ++i) CHECK((*rows)[i].prev_hash == (*rows)[i - 1].hash);
    const AuditRow& r2 = (*rows)[1];
    CHECK(r2.hash ==
          audit_row_hash(r2.prev_hash, r2.id, r2.time_ms, r2.kind, r2.run_id, r2.payload_json));
    CHECK(r2.kind == "model_call");
    CHECK(r2.run_id == run);
  }
  auto clean = verify_audit_db(path);
  REQUIRE(clean.is_ok());
  CHECK(clean->ok);
  CHECK(clean->rows_checked == 5);

  auto expect_bad = [&](int64_t row, const char* words) {
    auto report = verify_audit_db(path);
    REQUIRE(report.is_ok());
    INFO(report->reason);
    CHECK_FALSE(report->ok);
    CHECK(report->first_bad_row_id == row);
    CHECK(report->rows_checked == row - 1);
    CHECK(report->reason.find(words) != std::string::npos);
    // The store's own verifier agrees.
    auto store = open_or_fail(path);
    auto again = store->verify_audit();
    REQUIRE(again.is_ok());
    CHECK(again->first_bad_row_id == row);
  };
  SUBCASE("an edited payload") {
    raw_exec(path, R"(UPDATE audit SET payload = '{"tool":"x","decision":"allow"}' WHERE id = 4)");
    expect_bad(4, "does not match");
  }
  SUBCASE("an edited hash") {
    raw_exec(path, "UPDATE audit SET hash = '" + std::string(64, 'a') + "' WHERE id = 2");
    expect_bad(2, "does not match");
  }
  SUBCASE("an edited payload with its own hash recomputed breaks the next link") {
    auto store = open_or_fail(path);
    AuditRow r = (*store->load_audit(2, 1))[0];
    REQUIRE(r.id == 3);
    const std::string forged = R"({"tool":"nothing"})";
    const std::string hash = audit_row_hash(r.prev_hash, r.id, r.time_ms, r.kind, r.run_id, forged);
    raw_exec(path,
             "UPDATE audit SET payload = '" + forged + "', hash = '" + hash + "' WHERE id = 3");
    expect_bad(4, "prev_hash");
  }
  SUBCASE("a deleted row in the middle") {
    raw_exec(path, "DELETE FROM audit WHERE id = 3");
    expect_bad(3, "row 3 missing");
  }
  SUBCASE("deleted rows at the end") {
    raw_exec(path, "DELETE FROM audit WHERE id >= 4");
    expect_bad(4, "missing from the end");
  }
  SUBCASE("two rows swapped") {
    raw_exec(path,
             "UPDATE audit SET id = -2 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; "
             "UPDATE audit SET id = 3 WHERE id = -2;");
    expect_bad(2, "does not match");
  }
  SUBCASE("a changed time") {
    raw_exec(path, "UPDATE audit SET time_ms = time_ms + 1 WHERE id = 5");
    expect_bad(5, "does not match");
  }
}

TEST_CASE("audit: verify_audit_db never creates or changes a file and rejects non-databases") {
  TempDir tmp;
  auto missing = verify_audit_db(tmp.file("missing.db"));
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK_FALSE(fs::exists(tmp.file("missing.db")));
  const std::string garbage = tmp.file("garbage.db");
  std::ofstream(garbage) << std::string(1000, 'z');
  auto bad = verify_audit_db(garbage);
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find(garbage) != std::string::npos);
  const std::string other = tmp.file("other.db");
  raw_exec(other, "CREATE TABLE t(x)");
  CHECK_FALSE(verify_audit_db(other).is_ok());
}

TEST_CASE("memory: two stores on one file share the write lock and one audit chain") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  auto a = open_or_fail(path);
  auto b = open_or_fail(path);
  const std::string session = *a->create_session("x");
  CHECK(*b->session_exists(session));  // b sees a's commit
  const std::string run = *b->begin_run(session, "x", "go");
  for (int i = 0; i < 20; ++i) {
    AgentStore& s = i % 2 ? *a : *b;
    REQUIRE(s.audit(run, "model_call", "{\"i\":" + std::to_string(i) + "}").is_ok());
    REQUIRE(s.remember("x", "fact " + std::to_string(i)).is_ok());
  }
  REQUIRE(a->commit_step(make_step(run, 0)).is_ok());
  CHECK(b->commit_step(make_step(run, 0)).code() == StatusCode::kInvalidArgument);
  REQUIRE(b->commit_step(make_step(run, 1)).is_ok());
  CHECK(a->verify_audit()->ok);
  CHECK(a->verify_audit()->rows_checked == 24);

  // Another connection holds the write lock.
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &holder) == SQLITE_OK);
  REQUIRE(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  SUBCASE("a writer gives up after its busy timeout with a clear error") {
    auto impatient = open_or_fail(path, AgentStoreOptions{50});
    auto r = impatient->remember("x", "blocked");
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().message());
    CHECK(r.status().message().rfind("database busy", 0) == 0);
    CHECK(r.status().message().find(path) != std::string::npos);
    CHECK(impatient->load_messages(session).is_ok());  // readers are not blocked in WAL mode
  }
  SUBCASE("a writer waits for the lock to be released") {
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr);
    });
    auto r = a->remember("x", "waited");
    release.join();
    CHECK(r.is_ok());
  }
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
}

TEST_CASE("memory: writers in several processes keep one valid audit chain") {
  TempDir tmp;
  const std::string path = tmp.file("agents.db");
  constexpr int kProcesses = 3, kRows = 40;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Each child creates the file if it is first (concurrent migration) and appends.
      auto opened = AgentStore::open(path);
      if (!opened) _exit(10);
      auto store = std::move(opened).value();
      for (int i = 0; i < kRows; ++i) {
        std::string payload = "{\"p\":" + std::to_string(p) + ",\"i\":" + std::to_string(i) + "}";
        if (!store->audit("", "policy", payload)) _exit(11);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int wstatus = 0;
    REQUIRE(waitpid(pid, &wstatus, 0) == pid);
    INFO("child exit " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
    CHECK((WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0));
  }
  auto report = verify_audit_db(path);
  REQUIRE(report.is_ok());
  INFO(report->reason);
  CHECK(report->ok);
  CHECK(report->rows_checked == kProcesses * kRows);
  CHECK(raw_count(path, "SELECT count(*) FROM schema_migrations") == 1);
}

// ---- benchmark (skipped by default: ./r1_tests -ts=bench --no-skip) -----------------------------

TEST_SUITE("bench") {
  TEST_CASE("memory: commit_step latency with synchronous=FULL" * doctest::skip()) {
    TempDir tmp;
    auto store = open_or_fail(tmp.file("agents.db"));
    const std::string session = *store->create_session("bench");
    const std::string run = *store->begin_run(session, "bench", "go");
    constexpr int kSteps = 300;
    std::vector<double> commit_us, full_us;
    for (int i = 0; i < kSteps; ++i) {
      // A typical step: assistant message with reasoning, two tool results, three audit rows.
      StepRecord s = make_step(run, i);
      s.reasoning = std::string(2000, 'r');
      s.raw_output = std::string(3000, 'o');
      s.messages.push_back(s.messages.back());
      s.audit.push_back({"policy", R"({"decision":"allow","tool":"calculator"})"});
      const std::string c1 = "a" + std::to_string(i), c2 = "b" + std::to_string(i);
      s.tool_results = {{c1, "ok", "2", 1}, {c2, "ok", "3", 1}};
      auto t0 = std::chrono::steady_clock::now();
      REQUIRE(store->tool_call_started(run, i, c1, "calculator", R"({"expr":"1+1"})").is_ok());
      REQUIRE(store->tool_call_started(run, i, c2, "calculator", R"({"expr":"1+2"})").is_ok());
      auto t1 = std::chrono::steady_clock::now();
      REQUIRE(store->commit_step(s).is_ok());
      auto t2 = std::chrono::steady_clock::now();
      commit_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
      full_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
    }
    auto pct = [](std::vector<double> v, double p) {
      std::sort(v.begin(), v.end());
      return v[static_cast<size_t>(p * (v.size() - 1))];
    };
    std::printf(
        "commit_step (1 step row, 3 messages, 2 tool results, 3 audit rows; one fsync): "
        "p50 %.0f us, p99 %.0f us\n"
        "step total (2 x tool_call_started + commit_step; three fsyncs): p50 %.0f us, p99 %.0f "
        "us\n",
        pct(commit_us, 0.5), pct(commit_us, 0.99), pct(full_us, 0.5), pct(full_us, 0.99));
    CHECK(store->verify_audit()->ok);
  }
}

}  // namespace r1
