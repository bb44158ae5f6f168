// AgentStore: the agent database (SQLite) — sessions, messages, runs, steps, tool calls,
// long-term facts and the hash-chained audit trail. It is the only code that speaks SQL to it.
//
// Durability: WAL with synchronous=FULL; every write method is one BEGIN IMMEDIATE transaction
// that is committed (on disk) when the method returns OK, and leaves the database unchanged when
// it returns an error. A process killed at any point leaves exactly the committed state; the
// schema and byte formats are specified at the top of memory/agent_store.cpp.
//
// Threads and processes: one AgentStore (one SQLite connection) is used from one thread at a
// time; it is not thread-safe. Several AgentStores, in one process or in several, may open the
// same file: writers wait for each other up to busy_timeout_ms, then the call fails with
// kIoError and a message starting "database busy". IDs are random, so stores never collide.
//
// Text is UTF-8; JSON is stored as text; times are ms since the Unix epoch. Redaction of secrets
// happens before the store is called (policies/).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "memory/audit_log.h"

struct sqlite3;
struct sqlite3_stmt;

namespace r1 {

// The schema version this build writes (PRAGMA user_version). Older files are migrated on open;
// newer ones are refused.
inline constexpr int kAgentStoreSchemaVersion = 1;

// ${XDG_DATA_HOME:-~/.local/share}/r1/agents.db
std::string default_agent_db_path();

struct AgentStoreOptions {
  int busy_timeout_ms = 5000;  // ms a writer waits for another connection's write lock
};

// One chat message in a session's history.
struct StoredMessage {
  std::string role;             // system | user | assistant | tool
  std::string content;          // the visible text
  std::string reasoning;        // the model's thinking, kept apart from content ("" if none)
  std::string tool_calls_json;  // assistant: JSON array of tool calls, or ""
  std::string tool_call_id;     // tool: the call this message answers, or ""
  std::string name;             // tool: the tool's name, or ""
  std::string run_id;           // the run that produced it, or "" (e.g. a seeded system prompt)
  int64_t step = -1;            // the step index within run_id, or -1
  int64_t seq = 0;         // read back: position in the database (increasing); ignored on write
  int64_t created_at = 0;  // read back: ms; ignored on write
};

// One tool call of a run. status: running (started, no result yet), ok, error, denied, timeout,
// interrupted (was running when the process died; never retried automatically).
struct ToolCallRecord {
  std::string run_id;
  int64_t step = 0;
  std::string call_id;  // unique within the run
  std::string tool_name;
  std::string arguments_json;  // as the model produced it (may be malformed JSON)
  std::string status;
  std::string result_text;  // "" while running or interrupted
  int64_t started_at = 0;   // ms
  int64_t duration_ms = 0;  // ms; 0 while running or interrupted
};

// A tool result to record inside commit_step (same effect as tool_call_finished).
struct ToolCallResult {
  std::string call_id;
  std::string status;  // ok | error | denied | timeout
  std::string result_text;
  int64_t duration_ms = 0;  // ms
};

// One agent step: a model call and what followed it. Committed as one transaction.
struct StepRecord {
  std::string run_id;
  int64_t step = 0;                          // 0, 1, 2, ... within the run; must be steps_done
  std::string raw_output;                    // the model's raw generated text
  std::string reasoning;                     // parsed thinking
  std::string content;                       // parsed visible answer
  int64_t prompt_tokens = 0;                 // tokens
  int64_t completion_tokens = 0;             // tokens, reasoning included
  int64_t reasoning_tokens = 0;              // tokens, the thinking part of completion_tokens
  int64_t duration_ms = 0;                   // ms, wall time of the step
  std::vector<StoredMessage> messages;       // the assistant message, then tool result messages
  std::vector<ToolCallResult> tool_results;  // results not yet recorded by tool_call_finished
  std::vector<AuditEntry> audit;             // audit rows, chained in this order
  int64_t created_at = 0;                    // read back: ms; ignored on write
};

struct RunRecord {
  std::string run_id;
  std::string session_id;
  std::string agent_name;
  std::string input;
  std::string status;       // running | finished
  std::string stop_reason;  // "" while running; final | max_steps | token_budget | timeout | ...
  std::string final_answer;
  int64_t steps_done = 0;                  // committed steps; the next step index on resume
  int64_t started_at = 0;                  // ms
  int64_t finished_at = 0;                 // ms; 0 while running
  std::vector<ToolCallRecord> tool_calls;  // in start order
};

struct Fact {
  int64_t id = 0;
  std::string text;
  int64_t created_at = 0;  // ms
  double score = 0;        // -bm25: higher is more relevant
};

class AgentStore {
 public:
  // Opens or creates the database at `path` (a leading "~/" means $HOME; parent directories are
  // created), sets WAL, synchronous=FULL, foreign_keys and busy_timeout, and migrates the schema
  // to kAgentStoreSchemaVersion. Errors (kIoError, message naming the path): cannot create or
  // open, not a SQLite database or corrupt, schema version newer than this build.
  static Result<std::unique_ptr<AgentStore>> open(const std::string& path,
                                                  const AgentStoreOptions& options = {});
  ~AgentStore();
  AgentStore(const AgentStore&) = delete;
  AgentStore& operator=(const AgentStore&) = delete;

  const std::string& path() const { return path_; }

  // ---- sessions and messages ----
  // A new session; returns its id (16 lowercase hex chars, random).
  Result<std::string> create_session(const std::string& agent_name);
  Result<bool> session_exists(const std::string& session_id);
  // Appends to the session's history; returns the message's seq. kNotFound for an unknown
  // session or run; kInvalidArgument for a bad role or tool_calls_json that is not a JSON array.
  Result<int64_t> append_message(const std::string& session_id, const StoredMessage& message);
  // The whole history in append order; kNotFound for an unknown session.
  Result<std::vector<StoredMessage>> load_messages(const std::string& session_id);

  // ---- runs ----
  // Starts a run (status running) in an existing session; returns its id (16 hex chars).
  Result<std::string> begin_run(const std::string& session_id, const std::string& agent_name,
                                const std::string& input_text);
  // Marks the run finished. kNotFound for an unknown run; kInvalidArgument if already finished.
  Status end_run(const std::string& run_id, const std::string& stop_reason,
                 const std::string& final_answer);
  // kNotFound for an unknown run.
  Result<RunRecord> load_run(const std::string& run_id);
  // The session's runs, oldest first (each with its tool calls).
  Result<std::vector<RunRecord>> list_runs(const std::string& session_id);

  // ---- steps ----
  // Writes the step row, its messages (into the run's session; a message's empty run_id and
  // step -1 are filled in with the step's), its tool results and its audit rows in one
  // transaction; nothing of it is stored if any part fails. step.step must be the run's next
  // index (steps_done). kNotFound: unknown run or tool call; kInvalidArgument: run finished,
  // step index not the next one, bad message, bad tool status, bad audit kind or payload.
  Status commit_step(const StepRecord& step);
  // The committed steps of a run in index order (messages, tool_results and audit left empty).
  Result<std::vector<StepRecord>> load_steps(const std::string& run_id);

  // ---- tool calls (crash resume) ----
  // Records the call as 'running' and commits BEFORE the tool executes. kInvalidArgument if the
  // call id was already recorded for this run (look it up with find_tool_call first on resume).
  Status tool_call_started(const std::string& run_id, int64_t step, const std::string& call_id,
                           const std::string& tool_name, const std::string& arguments_json);
  // Records the result of a 'running' call: status ok | error | denied | timeout. kNotFound for
  // an unknown call; kInvalidArgument for a bad status or a call that is not 'running'.
  Status tool_call_finished(const std::string& run_id, const std::string& call_id,
                            const std::string& status, const std::string& result_text,
                            int64_t duration_ms);
  // The call, or nullopt if it was never started.
  Result<std::optional<ToolCallRecord>> find_tool_call(const std::string& run_id,
                                                       const std::string& call_id);
  // On resume: flips the run's 'running' calls to 'interrupted' and returns them (now with
  // status "interrupted"). Calls with a stored result are left alone and must be reused, never
  // executed again.
  Result<std::vector<ToolCallRecord>> mark_interrupted(const std::string& run_id);

  // ---- long-term facts (FTS5, BM25) ----
  // Stores a fact under `scope` (e.g. an agent name or "global"); returns its id.
  Result<int64_t> remember(const std::string& scope, const std::string& text);
  // The k facts of `scope` most relevant to `query`, best first. The query is plain user text:
  // it is split into words, each quoted, joined with OR; FTS5 syntax in it has no effect. A query
  // with no words returns no facts.
  Result<std::vector<Fact>> recall(const std::string& scope, const std::string& query, int k);
  // Deletes a fact; kNotFound if there is none with that id.
  Status forget(int64_t fact_id);

  // ---- audit ----
  // Appends one audit row in its own transaction; returns the row id.
  Result<int64_t> audit(const std::string& run_id, const std::string& kind,
                        const std::string& payload_json);
  // Checks the whole chain (one read snapshot). An I/O failure is an error; a broken chain is
  // a report with ok == false.
  Result<AuditReport> verify_audit();
  // Rows with id > after_id, at most `limit`, in id order.
  Result<std::vector<AuditRow>> load_audit(int64_t after_id = 0, int64_t limit = 1000);

 private:
  AgentStore(std::string path, sqlite3* db);
  class Transaction;
  Result<sqlite3_stmt*> prepare(const char* sql);
  Status exec(const char* sql);
  Status error(const char* what) const;
  Status migrate();
  Result<std::vector<ToolCallRecord>> load_tool_calls(const std::string& run_id);
  Result<int64_t> append_message_in_txn(const std::string& session_id, const StoredMessage& message,
                                        int64_t now);
  Status finish_tool_call_in_txn(const std::string& run_id, const ToolCallResult& result);

  std::string path_;
  sqlite3* db_ = nullptr;
  struct StatementCache;
  std::unique_ptr<StatementCache> statements_;
};

}  // namespace r1
