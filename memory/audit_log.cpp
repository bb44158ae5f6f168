// The audit hash chain: canonical row hash, append, verify.
//
// ---- Table (part of the agent database schema, see memory/agent_store.cpp) ----------------------
//   audit(id INTEGER PRIMARY KEY,   -- 1, 2, 3, ... assigned as audit_head.last_id + 1
//         time_ms INTEGER,          -- ms since the Unix epoch
//         kind TEXT,                -- model_call | tool_call | policy | run
//         run_id TEXT,              -- '' outside a run
//         payload TEXT,             -- JSON text, stored byte for byte
//         prev_hash TEXT,           -- hash of row id-1, or 64 '0' for row 1
//         hash TEXT)                -- see below; 64 lowercase hex chars
//   audit_head(one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER, last_hash TEXT)
//     -- one row: the id and hash of the newest audit row (0 and 64 '0' when empty). Updated in
//     -- the same transaction as each append, so rows cut from the end of the chain are detected.
//
// ---- Canonical byte layout of a row's hash ---------------------------------------------------
//   hash = SHA-256( prev_hash   32 bytes: the previous row's hash, hex-decoded (row 1: 32 zero
//   bytes)
//                || id          8 bytes: int64, big-endian two's complement
//                || time_ms     8 bytes: int64, big-endian two's complement
//                || len(kind)   8 bytes: uint64, big-endian byte count || kind    (UTF-8 bytes)
//                || len(run_id) 8 bytes: uint64, big-endian byte count || run_id  (UTF-8 bytes)
//                || len(payload)8 bytes: uint64, big-endian byte count || payload (UTF-8 bytes) )
//   written as 64 lowercase hex characters. Length prefixes make the layout unambiguous (no
//   field can borrow bytes from its neighbour).
//
// ---- Appending ----------------------------------------------------------------------------------
// Inside the caller's BEGIN IMMEDIATE transaction (so writers from several processes serialize):
// read audit_head, id = last_id + 1, hash the row, insert it, update audit_head.
//
// ---- Verifying ----------------------------------------------------------------------------------
// In one read snapshot, rows in id order: each id must be the previous + 1 (else the first missing
// id is reported), each stored hash must equal the recomputed one, each prev_hash must equal the
// previous row's hash; finally audit_head must name the last row and its hash.
#include "memory/audit_log.h"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "memory/agent_store.h"

namespace r1 {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string to_hex(const unsigned char* bytes, size_t n) {
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 32 bytes from 64 hex chars; a malformed hash (only possible in a tampered file) decodes to
// whatever its valid nibbles give, which cannot reproduce the stored hash chain.
void hex_to_32(const std::string& hex, unsigned char out[32]) {
  for (int i = 0; i < 32; ++i) {
    int hi = 2 * i < static_cast<int>(hex.size()) ? hex_value(hex[2 * i]) : 0;
    int lo = 2 * i + 1 < static_cast<int>(hex.size()) ? hex_value(hex[2 * i + 1]) : 0;
    out[i] = static_cast<unsigned char>(((hi < 0 ? 0 : hi) << 4) | (lo < 0 ? 0 : lo));
  }
}

void put_u64_be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 255));
}

void put_field(std::string& out, const std::string& s) {
  put_u64_be(out, s.size());
  out += s;
}

std::string column_text(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  int n = sqlite3_column_bytes(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Status db_error(sqlite3* db, const std::string& what) {
  const char* file = sqlite3_db_filename(db, "main");
  return Status::io_error(std::string(file && *file ? file : ":memory:") + ": " + what + ": " +
                          sqlite3_errmsg(db));
}

// A prepared statement finalized on scope exit.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

AuditReport bad(int64_t rows_checked, int64_t id, std::string reason) {
  AuditReport r;
  r.ok = false;
  r.rows_checked = rows_checked;
  r.first_bad_row_id = id;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

bool is_audit_kind(const std::string& kind) {
  for (const char* k : kAuditKinds) {
    if (kind == k) return true;
  }
  return false;
}

const std::string& audit_genesis_hash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

std::string audit_row_hash(const std::string& prev_hash_hex, int64_t id, int64_t time_ms,
                           const std::string& kind, const std::string& run_id,
                           const std::string& payload_json) {
  unsigned char prev[32];
  hex_to_32(prev_hash_hex, prev);
  std::string message(reinterpret_cast<const char*>(prev), 32);
  message.reserve(32 + 16 + 24 + kind.size() + run_id.size() + payload_json.size());
  put_u64_be(message, static_cast<uint64_t>(id));
  put_u64_be(message, static_cast<uint64_t>(time_ms));
  put_field(message, kind);
  put_field(message, run_id);
  put_field(message, payload_json);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(message.data(), message.size(), digest, &digest_len, EVP_sha256(), nullptr);
  return to_hex(digest, digest_len);
}

namespace audit_detail {

Result<int64_t> append(sqlite3* db, const std::string& run_id, const AuditEntry& entry,
                       int64_t time_ms) {
  if (!is_audit_kind(entry.kind)) {
    return Status::invalid("audit: unknown kind '" + entry.kind +
                           "' (expected model_call, tool_call, policy or run)");
  }
  if (!nlohmann::json::accept(entry.payload_json)) {
    return Status::invalid("audit: payload of kind '" + entry.kind + "' is not valid JSON");
  }
  int64_t last_id = 0;
  std::string last_hash;
  {
    Stmt q;
    if (sqlite3_prepare_v2(db, "SELECT last_id, last_hash FROM audit_head WHERE one = 1", -1, &q.s,
                           nullptr) != SQLITE_OK) {
      return db_error(db, "audit: reading the chain head");
    }
    int rc = sqlite3_step(q.s);
    if (rc != SQLITE_ROW) return db_error(db, "audit: the chain head row is missing");
    last_id = sqlite3_column_int64(q.s, 0);
    last_hash = column_text(q.s, 1);
  }
  const int64_t id = last_id + 1;
  const std::string hash =
      audit_row_hash(last_hash, id, time_ms, entry.kind, run_id, entry.payload_json);
  {
    Stmt q;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit(id, time_ms, kind, run_id, payload, prev_hash, hash) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &q.s, nullptr) != SQLITE_OK) {
      return db_error(db, "audit: preparing the insert");
    }
    sqlite3_bind_int64(q.s, 1, id);
    sqlite3_bind_int64(q.s, 2, time_ms);
    sqlite3_bind_text(q.s, 3, entry.kind.data(), static_cast<int>(entry.kind.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(q.s, 4, run_id.data(), static_cast<int>(run_id.size()), SQLITE_STATIC);
    sqlite3_bind_text(q.s, 5, entry.payload_json.data(),
                      static_cast<int>(entry.payload_json.size()), SQLITE_STATIC);
    sqlite3_bind_text(q.s, 6, last_hash.data(), static_cast<int>(last_hash.size()), SQLITE_STATIC);
    sqlite3_bind_text(q.s, 7, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db, "audit: inserting row");
  }
  {
    Stmt q;
    if (sqlite3_prepare_v2(db, "UPDATE audit_head SET last_id = ?1, last_hash = ?2 WHERE one = 1",
                           -1, &q.s, nullptr) != SQLITE_OK) {
      return db_error(db, "audit: preparing the head update");
    }
    sqlite3_bind_int64(q.s, 1, id);
    sqlite3_bind_text(q.s, 2, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
    if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db, "audit: updating the chain head");
  }
  return id;
}

Result<AuditReport> verify(sqlite3* db) {
  Stmt q;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, time_ms, kind, run_id, payload, prev_hash, hash FROM audit "
                         "ORDER BY id",
                         -1, &q.s, nullptr) != SQLITE_OK) {
    return db_error(db, "audit verify: reading the audit table");
  }
  int64_t rows = 0;
  int64_t prev_id = 0;
  std::string prev_hash = audit_genesis_hash();
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    const int64_t id = sqlite3_column_int64(q.s, 0);
    const int64_t time_ms = sqlite3_column_int64(q.s, 1);
    const std::string kind = column_text(q.s, 2);
    const std::string run_id = column_text(q.s, 3);
    const std::string payload = column_text(q.s, 4);
    const std::string stored_prev = column_text(q.s, 5);
    const std::string stored_hash = column_text(q.s, 6);
    if (id != prev_id + 1) {
      const std::string missing =
          id == prev_id + 2 ? "row " + std::to_string(prev_id + 1)
                            : "rows " + std::to_string(prev_id + 1) + ".." + std::to_string(id - 1);
      return bad(rows, prev_id + 1,
                 missing + " missing: row " + std::to_string(id) + " follows row " +
                     std::to_string(prev_id));
    }
    if (audit_row_hash(stored_prev, id, time_ms, kind, run_id, payload) != stored_hash) {
      return bad(rows, id,
                 "row " + std::to_string(id) +
                     ": stored hash does not match its content (edited row or hash)");
    }
    if (stored_prev != prev_hash) {
      return bad(rows, id,
                 "row " + std::to_string(id) + ": prev_hash is not the hash of row " +
                     std::to_string(prev_id) + " (chain broken)");
    }
    prev_hash = stored_hash;
    prev_id = id;
    ++rows;
  }
  if (rc != SQLITE_DONE) return db_error(db, "audit verify: reading the audit table");

  Stmt h;
  if (sqlite3_prepare_v2(db, "SELECT last_id, last_hash FROM audit_head WHERE one = 1", -1, &h.s,
                         nullptr) != SQLITE_OK) {
    return db_error(db, "audit verify: reading the chain head");
  }
  if (sqlite3_step(h.s) != SQLITE_ROW) {
    return bad(rows, prev_id + 1, "the chain head row is missing");
  }
  const int64_t head_id = sqlite3_column_int64(h.s, 0);
  const std::string head_hash = column_text(h.s, 1);
  if (head_id > prev_id) {
    return bad(rows, prev_id + 1,
               "rows " + std::to_string(prev_id + 1) + ".." + std::to_string(head_id) +
                   " missing from the end (the chain head names row " + std::to_string(head_id) +
                   ")");
  }
  if (head_id < prev_id) {
    return bad(rows, head_id + 1,
               "row " + std::to_string(head_id + 1) +
                   " was added outside the chain (the chain head names row " +
                   std::to_string(head_id) + ")");
  }
  if (head_hash != prev_hash) {
    return bad(rows, prev_id,
               "row " + std::to_string(prev_id) + ": hash differs from the chain head's");
  }
  AuditReport ok;
  ok.rows_checked = rows;
  return ok;
}

}  // namespace audit_detail

Result<AuditReport> verify_audit_db(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::not_found(path + ": no such agent database");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  struct Closer {
    sqlite3* db;
    ~Closer() { sqlite3_close_v2(db); }
  } closer{db};
  if (rc != SQLITE_OK) {
    return Status::io_error(path + ": cannot open: " + (db ? sqlite3_errmsg(db) : "out of memory"));
  }
  sqlite3_busy_timeout(db, 5000);
  int version = -1;
  {
    Stmt q;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q.s, nullptr) != SQLITE_OK ||
        sqlite3_step(q.s) != SQLITE_ROW) {
      return Status::io_error(path + ": not a SQLite database or corrupt (" + sqlite3_errmsg(db) +
                              ")");
    }
    version = sqlite3_column_int(q.s, 0);
  }
  if (version == 0) {
    return Status::io_error(path + ": not an r1 agent database (schema version 0)");
  }
  if (version > kAgentStoreSchemaVersion) {
    return Status::io_error(path + ": schema version " + std::to_string(version) +
                            " is newer than this build supports (" +
                            std::to_string(kAgentStoreSchemaVersion) + ")");
  }
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, "audit verify: starting a read transaction");
  }
  Result<AuditReport> report = audit_detail::verify(db);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  return report;
}

}  // namespace r1
