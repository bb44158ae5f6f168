// The audit trail: an append-only, hash-chained table in the agent database.
//
// Every model call, tool call, policy decision and run boundary is one row. Each row holds the
// hash of the previous row and its own hash over (previous hash, id, time, kind, run id,
// payload); the exact byte layout is specified at the top of memory/audit_log.cpp. Editing,
// deleting, reordering or re-hashing any row breaks the chain, and verify_audit() names the first
// row at fault. Rows are written by AgentStore (memory/agent_store.h); this header holds the
// plain value types, the canonical hash, and the read-only verifier the `r1 audit verify`
// command runs. All functions are free of shared state and thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

struct sqlite3;

namespace r1 {

// The kinds an audit row may have; anything else is rejected with kInvalidArgument.
inline constexpr const char* kAuditKinds[] = {"model_call", "tool_call", "policy", "run"};
bool is_audit_kind(const std::string& kind);

// One row to append. run_id may be "" for events outside a run. payload_json must be valid
// JSON text (usually an object); it is stored byte for byte as given.
struct AuditEntry {
  std::string kind;          // one of kAuditKinds
  std::string payload_json;  // JSON text, UTF-8
};

// One stored row, as read back.
struct AuditRow {
  int64_t id = 0;       // 1, 2, 3, ... without gaps
  int64_t time_ms = 0;  // ms since the Unix epoch
  std::string kind;
  std::string run_id;  // "" when outside a run
  std::string payload_json;
  std::string prev_hash;  // 64 lowercase hex chars; 64 '0' for row 1
  std::string hash;       // 64 lowercase hex chars
};

// The result of verifying the chain. ok == false names the first row at fault:
//  - a row whose stored hash differs from the recomputed one (edited payload, kind, time, run id,
//    id or hash; a reordered row): that row's id;
//  - a row whose prev_hash is not the previous row's hash: that row's id;
//  - a missing row (a gap in the ids, or rows cut from the end, which the chain head records):
//    the id of the first missing row.
struct AuditReport {
  bool ok = true;
  int64_t rows_checked = 0;      // rows read before the first fault (all rows when ok)
  int64_t first_bad_row_id = 0;  // 0 when ok
  std::string reason;            // one line; "" when ok
};

// SHA-256 over the canonical byte layout of a row (see audit_log.cpp), as 64 lowercase hex chars.
// prev_hash_hex must be 64 hex chars. Exposed for tests and external verifiers.
std::string audit_row_hash(const std::string& prev_hash_hex, int64_t id, int64_t time_ms,
                           const std::string& kind, const std::string& run_id,
                           const std::string& payload_json);

// The hash row 1 chains from: 64 '0'.
const std::string& audit_genesis_hash();

// Verifies the audit chain of the agent database at `path`, opened read-only (the file is never
// created or changed). Errors: kNotFound when the file does not exist; kIoError when it cannot be
// read, is not a SQLite database, or has a schema newer than this build. A broken chain is not an
// error: it is an AuditReport with ok == false.
Result<AuditReport> verify_audit_db(const std::string& path);

namespace audit_detail {
// Used by AgentStore; not part of the public contract. Both run on `db` as given: the caller
// owns the transaction (append must run inside BEGIN IMMEDIATE, verify inside a read
// transaction so it sees one snapshot).
Result<int64_t> append(sqlite3* db, const std::string& run_id, const AuditEntry& entry,
                       int64_t time_ms);
Result<AuditReport> verify(sqlite3* db);
}  // namespace audit_detail

}  // namespace r1
