// DocumentIndex: storage layout, SQLite schema (version 1) and the consistency rules.
//
// Folder (one per index, by default ${XDG_DATA_HOME:-~/.local/share}/r1/indexes/NAME):
//   index.db             SQLite, WAL journal, the source of truth (schema below)
//   vectors.faiss        FAISS IndexIDMap2 (flat or HNSW), ids = chunks.id   (vector_index.cpp)
//   vectors.faiss.json   its sidecar: kind, dim, count, generation, size, SHA-256
//
// Schema, version 1 (meta.schema_version = '1'):
//   meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)
//     schema_version  '1'
//     model_id        embedding model and dim, e.g. 'all-MiniLM-L6-v2.F32.gguf/384'
//     dim             vector dimension, e.g. '384'
//     vector_index    kind of vectors.faiss now: 'flat' | 'hnsw'
//     index_choice    what the user asked for: 'auto' | 'flat' | 'hnsw'
//     generation      bumped by every transaction that changes files or chunks
//   files(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL,   -- absolute, lexically normal
//         kind TEXT NOT NULL,                                   -- txt | md | html | pdf
//         sha256 TEXT NOT NULL, size INTEGER NOT NULL,          -- bytes
//         mtime_ns INTEGER NOT NULL,                            -- ns since the Unix epoch
//         duplicate_of INTEGER REFERENCES files(id) ON DELETE CASCADE,  -- same bytes as that
//                                                               -- file: no chunks of its own
//         n_chunks INTEGER NOT NULL, ingested_at INTEGER NOT NULL)      -- s since the epoch
//   chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,                -- never reused: a stale FAISS
//                                                               -- id cannot alias a new chunk
//          file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
//          seq INTEGER NOT NULL,                                -- order within the file
//          text TEXT NOT NULL, byte_start INTEGER NOT NULL, byte_end INTEGER NOT NULL,
//          page INTEGER NOT NULL,                               -- pdf: 1-based; else 0
//          n_pieces INTEGER NOT NULL,                           -- WordPiece pieces
//          vector BLOB)                                         -- (dim) float32 little-endian,
//                                                               -- unit length
//   chunks_fts  FTS5(text), external content = chunks (content_rowid = id), tokenizer
//               'porter unicode61 remove_diacritics 2'; kept in sync by triggers on chunks
//   vector_tombstones(id INTEGER PRIMARY KEY)                   -- hnsw: removed chunk ids still
//                                                               -- in the graph
//
// Consistency: chunk rows and their vectors are committed in one transaction per file. The
// FAISS file is then updated in memory and written at the end of ingest (atomically, sidecar
// last). On open the sidecar must match the FAISS file (size, SHA-256, count, kind, dim), its
// generation must equal meta.generation, and the FAISS id set must equal live chunk ids plus
// tombstones. Any difference (a crash between the SQLite commit and the FAISS write, a torn or
// truncated file, a leftover temp file, a missing sidecar) rebuilds FAISS from chunks.vector
// (re-embedding only rows whose vector is NULL) and is reported in health(); if repair is
// impossible, open() fails rather than serve stale vectors.
#include "retrieval/document_index.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "engine/model_store.h"
#include "retrieval/document.h"
#include "retrieval/fts_query.h"
#include "retrieval/rank_fusion.h"

namespace r1 {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSchemaVersion = "1";
constexpr const char* kDbFile = "index.db";
constexpr const char* kFaissFile = "vectors.faiss";
constexpr const char* kSidecarFile = "vectors.faiss.json";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
  id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
  sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  duplicate_of INTEGER REFERENCES files(id) ON DELETE CASCADE,
  n_chunks INTEGER NOT NULL, ingested_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_duplicate_of ON files(duplicate_of);
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL, text TEXT NOT NULL, byte_start INTEGER NOT NULL,
  byte_end INTEGER NOT NULL, page INTEGER NOT NULL, n_pieces INTEGER NOT NULL, vector BLOB);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS vector_tombstones(id INTEGER PRIMARY KEY);
)sql";

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Status error(const std::string& what) const {
    return Status::io_error(what + ": " + sqlite3_errmsg(db_));
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(stmt_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double f64(int c) const { return sqlite3_column_double(stmt_, c); }
  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string str(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }
  std::vector<float> floats(int c) const {
    const void* p = sqlite3_column_blob(stmt_, c);
    const int n = sqlite3_column_bytes(stmt_, c);
    std::vector<float> v(static_cast<size_t>(n) / sizeof(float));
    if (p != nullptr && !v.empty()) std::memcpy(v.data(), p, v.size() * sizeof(float));
    return v;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

Status exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return Status::io_error(std::string(sqlite3_db_filename(db, "main")) + ": " + msg);
  }
  return Status::ok();
}

Result<std::string> get_meta(sqlite3* db, const std::string& key) {
  Stmt s(db, "SELECT value FROM meta WHERE key = ?1");
  if (!s.ok()) return s.error("meta");
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return s.str(0);
  return std::string();
}

Status set_meta(sqlite3* db, const std::string& key, const std::string& value) {
  Stmt s(db,
         "INSERT INTO meta(key, value) VALUES (?1, ?2) "
         "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!s.ok()) return s.error("meta");
  s.bind(1, key).bind(2, value);
  if (s.step() != SQLITE_DONE) return s.error("meta " + key);
  return Status::ok();
}

int64_t meta_int(sqlite3* db, const std::string& key) {
  Result<std::string> v = get_meta(db, key);
  if (!v || v->empty()) return 0;
  return std::strtoll(v->c_str(), nullptr, 10);
}

Status bump_generation(sqlite3* db) {
  return exec(db,
              "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key) DO "
              "UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)");
}

// An open transaction, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { status_ = exec(db, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (status_.is_ok() && !done_) exec(db_, "ROLLBACK");
  }
  const Status& status() const { return status_; }
  Status commit() {
    done_ = true;
    return exec(db_, "COMMIT");
  }

 private:
  sqlite3* db_;
  Status status_;
  bool done_ = false;
};

std::vector<int64_t> live_chunk_ids(sqlite3* db) {
  std::vector<int64_t> ids;
  Stmt s(db, "SELECT id FROM chunks ORDER BY id");
  while (s.step() == SQLITE_ROW) ids.push_back(s.i64(0));
  return ids;
}

int64_t count(sqlite3* db, const char* sql) {
  Stmt s(db, sql);
  return s.step() == SQLITE_ROW ? s.i64(0) : 0;
}

// Deletes a file row and its chunks (in the caller's transaction); HNSW ids become tombstones.
// Returns the removed chunk ids.
Result<std::vector<int64_t>> delete_file(sqlite3* db, int64_t file_id, bool hnsw) {
  std::vector<int64_t> ids;
  {
    Stmt s(db, "SELECT id FROM chunks WHERE file_id = ?1");
    s.bind(1, file_id);
    while (s.step() == SQLITE_ROW) ids.push_back(s.i64(0));
  }
  if (hnsw) {
    Stmt t(db, "INSERT OR IGNORE INTO vector_tombstones(id) VALUES (?1)");
    for (int64_t id : ids) {
      t.bind(1, id);
      if (t.step() != SQLITE_DONE) return t.error("vector_tombstones");
      t.reset();
    }
  }
  Stmt dc(db, "DELETE FROM chunks WHERE file_id = ?1");
  dc.bind(1, file_id);
  if (dc.step() != SQLITE_DONE) return dc.error("chunks");
  // Duplicates of this file lose their original: delete their rows (ON DELETE CASCADE).
  Stmt df(db, "DELETE FROM files WHERE id = ?1");
  df.bind(1, file_id);
  if (df.step() != SQLITE_DONE) return df.error("files");
  return ids;
}

struct ScannedFile {
  int64_t size = 0;      // bytes
  int64_t mtime_ns = 0;  // ns since the epoch
  DocumentKind kind = DocumentKind::kText;
};

bool stat_file(const std::string& path, ScannedFile& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  out.size = static_cast<int64_t>(st.st_size);
  out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string normal_path(const std::string& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  std::string s = abs.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool under(const std::string& path, const std::string& root) {
  if (path == root) return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         (root.back() == '/' || path[root.size()] == '/');
}

Result<std::string> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error(path + ": read error");
  return ss.str();
}

}  // namespace

const char* search_mode_name(SearchMode mode) {
  switch (mode) {
    case SearchMode::kHybrid:
      return "hybrid";
    case SearchMode::kVector:
      return "vector";
    case SearchMode::kKeyword:
      return "keyword";
  }
  return "?";
}

std::optional<SearchMode> parse_search_mode(const std::string& name) {
  if (name == "hybrid") return SearchMode::kHybrid;
  if (name == "vector") return SearchMode::kVector;
  if (name == "keyword") return SearchMode::kKeyword;
  return std::nullopt;
}

std::string make_citation(const std::string& path, int32_t page, int64_t byte_start,
                          int64_t byte_end) {
  if (page > 0) return path + ":page " + std::to_string(page);
  return path + ":bytes " + std::to_string(byte_start) + "-" + std::to_string(byte_end);
}

std::string indexes_root() {
  if (const char* d = std::getenv("R1_INDEX_DIR"); d != nullptr && *d != 0) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != 0) {
    return std::string(x) + "/r1/indexes";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.local/share/r1/indexes";
}

Result<std::string> index_dir_for_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return Status::invalid("index name '" + name +
                           "': use 1-64 of A-Z a-z 0-9 . _ - (not starting with '.')");
  }
  return indexes_root() + "/" + name;
}

std::string default_corpus_path() {
  const char* p = "/usr/share/doc/sqlite3";
  std::error_code ec;
  return fs::exists(std::string(p) + "/lang_select.html", ec) ? p : "";
}

DocumentIndex::~DocumentIndex() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<std::unique_ptr<DocumentIndex>> DocumentIndex::open(const std::string& dir,
                                                           std::unique_ptr<TextEmbedder> embedder) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error(dir + ": cannot create: " + ec.message());
  std::unique_ptr<DocumentIndex> idx(new DocumentIndex());
  idx->dir_ = dir;
  idx->embedder_ = std::move(embedder);
  const std::string db_path = dir + "/" + kDbFile;
  if (sqlite3_open_v2(db_path.c_str(), &idx->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return Status::io_error(
        db_path + ": cannot open: " + (idx->db_ ? sqlite3_errmsg(idx->db_) : "out of memory"));
  }
  sqlite3* db = idx->db_;
  sqlite3_busy_timeout(db, 10000);
  R1_RETURN_IF_ERROR(exec(db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA foreign_keys=ON;"));
  Result<std::string> version = get_meta(db, "schema_version");
  if (!version) {  // no meta table yet (or not a database at all)
    Status st = exec(db, "SELECT count(*) FROM sqlite_master");
    if (!st.is_ok()) return Status::io_error(db_path + ": not an r1 index: " + st.message());
    version = std::string();
  }
  if (version->empty()) {
    Transaction tx(db);
    R1_RETURN_IF_ERROR(tx.status());
    R1_RETURN_IF_ERROR(exec(db, kSchema));
    R1_RETURN_IF_ERROR(set_meta(db, "schema_version", kSchemaVersion));
    R1_RETURN_IF_ERROR(set_meta(db, "generation", "0"));
    R1_RETURN_IF_ERROR(set_meta(db, "vector_index", "flat"));
    R1_RETURN_IF_ERROR(set_meta(db, "index_choice", "auto"));
    R1_RETURN_IF_ERROR(tx.commit());
  } else if (*version != kSchemaVersion) {
    return Status::unsupported(db_path + ": schema version " + *version + " (this build reads " +
                               kSchemaVersion + ")");
  }
  Result<std::string> model = get_meta(db, "model_id");
  if (!model) return model.status();
  idx->dim_ = meta_int(db, "dim");
  if (idx->embedder_) {
    const std::string mine = idx->embedder_->model_id();
    if (!model->empty() && *model != mine) {
      return Status::invalid(db_path + ": built with embedding model " + *model + ", not " + mine +
                             " (re-ingest into a new index)");
    }
    if (model->empty()) {
      R1_RETURN_IF_ERROR(set_meta(db, "model_id", mine));
      R1_RETURN_IF_ERROR(set_meta(db, "dim", std::to_string(idx->embedder_->dim())));
    }
    idx->dim_ = idx->embedder_->dim();
  }
  if (idx->dim_ > 0) {
    IndexHealth health;
    R1_RETURN_IF_ERROR(idx->check_and_repair_locked(false, health));
    idx->health_ = health;
  }
  return idx;
}

Status DocumentIndex::check_and_repair_locked(bool force, IndexHealth& health) {
  const std::string faiss_path = dir_ + "/" + kFaissFile;
  const std::string sidecar_path = dir_ + "/" + kSidecarFile;
  std::vector<std::string> problems;
  for (const std::string& tmp : {faiss_path + ".tmp", sidecar_path + ".tmp"}) {
    std::error_code ec;
    if (fs::exists(tmp, ec)) {
      problems.push_back("leftover " + fs::path(tmp).filename().string() +
                         " (an interrupted write)");
      fs::remove(tmp, ec);
    }
  }
  Result<std::string> kind_name = get_meta(db_, "vector_index");
  if (!kind_name) return kind_name.status();
  const VectorIndexKind kind =
      *kind_name == "hnsw" ? VectorIndexKind::kHnsw : VectorIndexKind::kFlat;
  const int64_t generation = meta_int(db_, "generation");
  const std::vector<int64_t> live = live_chunk_ids(db_);
  std::vector<int64_t> expected = live;
  {
    Stmt t(db_, "SELECT id FROM vector_tombstones");
    while (t.step() == SQLITE_ROW) expected.push_back(t.i64(0));
    std::sort(expected.begin(), expected.end());
  }
  std::error_code ec;
  const bool have_file = fs::exists(faiss_path, ec);
  bool consistent = false;
  if (force) {
    problems.push_back("rebuild requested");
  } else if (!have_file && expected.empty()) {
    vectors_ = VectorIndex::create(kind, dim_);
    consistent = true;
  } else if (!have_file) {
    problems.push_back(std::string(kFaissFile) + " is missing");
  } else {
    Result<VectorFileInfo> info = read_vector_sidecar(sidecar_path);
    if (!info) {
      problems.push_back(info.status().message());
    } else if (info->generation != generation) {
      problems.push_back(std::string(kSidecarFile) + ": generation " +
                         std::to_string(info->generation) + ", index.db is at " +
                         std::to_string(generation));
    } else if (info->dim != dim_ || info->kind != kind) {
      problems.push_back(std::string(kSidecarFile) + ": kind/dim differ from index.db");
    } else {
      Result<std::unique_ptr<VectorIndex>> loaded = VectorIndex::load(faiss_path, *info);
      if (!loaded) {
        problems.push_back(loaded.status().message());
      } else if ((*loaded)->ids() != expected) {
        problems.push_back(std::string(kFaissFile) + ": ids differ from index.db's chunks (" +
                           std::to_string((*loaded)->size()) + " vectors, " +
                           std::to_string(expected.size()) + " expected)");
      } else {
        vectors_ = std::move(*loaded);
        consistent = true;
      }
    }
  }
  std::string joined;
  for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
  health.problem = joined;
  health.repaired = false;
  if (consistent) return Status::ok();
  Status st = rebuild_vectors_locked(kind);
  if (!st.is_ok()) {
    const std::string msg =
        dir_ + ": vectors inconsistent (" + joined + ") and cannot be repaired: " + st.message();
    return st.code() == StatusCode::kInvalidArgument ? Status::invalid(msg) : Status::io_error(msg);
  }
  health.repaired = true;
  return Status::ok();
}

Status DocumentIndex::rebuild_vectors_locked(VectorIndexKind kind) {
  std::unique_ptr<VectorIndex> fresh = VectorIndex::create(kind, dim_);
  std::vector<int64_t> ids;
  std::vector<float> vecs;
  std::vector<int64_t> missing_ids;
  std::vector<std::string> missing_texts;
  auto flush = [&]() -> Status {
    Status st = fresh->add(ids, vecs);
    ids.clear();
    vecs.clear();
    return st;
  };
  {
    Stmt s(db_, "SELECT id, vector, text FROM chunks ORDER BY id");
    if (!s.ok()) return s.error("chunks");
    while (s.step() == SQLITE_ROW) {
      std::vector<float> v = s.is_null(1) ? std::vector<float>() : s.floats(1);
      if (static_cast<int64_t>(v.size()) != dim_) {
        missing_ids.push_back(s.i64(0));
        missing_texts.push_back(s.str(2));
        continue;
      }
      ids.push_back(s.i64(0));
      vecs.insert(vecs.end(), v.begin(), v.end());
      if (ids.size() >= 4096) R1_RETURN_IF_ERROR(flush());
    }
  }
  R1_RETURN_IF_ERROR(flush());
  if (!missing_ids.empty()) {  // rows without a usable vector: embed them now and store them
    if (!embedder_) {
      return Status::invalid(std::to_string(missing_ids.size()) +
                             " chunks lack stored vectors and no embedder is loaded");
    }
    Transaction tx(db_);
    R1_RETURN_IF_ERROR(tx.status());
    Stmt u(db_, "UPDATE chunks SET vector = ?1 WHERE id = ?2");
    for (size_t i = 0; i < missing_ids.size(); i += 64) {
      const size_t n = std::min<size_t>(64, missing_ids.size() - i);
      std::vector<std::string> texts(missing_texts.begin() + static_cast<long>(i),
                                     missing_texts.begin() + static_cast<long>(i + n));
      Result<std::vector<float>> v = embedder_->embed(texts);
      if (!v) return v.status();
      for (size_t j = 0; j < n; ++j) {
        u.bind_blob(1, v->data() + j * static_cast<size_t>(dim_),
                    static_cast<size_t>(dim_) * sizeof(float));
        u.bind(2, missing_ids[i + j]);
        if (u.step() != SQLITE_DONE) return u.error("chunks.vector");
        u.reset();
      }
      std::vector<int64_t> batch_ids(missing_ids.begin() + static_cast<long>(i),
                                     missing_ids.begin() + static_cast<long>(i + n));
      R1_RETURN_IF_ERROR(fresh->add(batch_ids, *v));
    }
    R1_RETURN_IF_ERROR(tx.commit());
  }
  {
    Transaction tx(db_);
    R1_RETURN_IF_ERROR(tx.status());
    R1_RETURN_IF_ERROR(exec(db_, "DELETE FROM vector_tombstones"));
    R1_RETURN_IF_ERROR(set_meta(db_, "vector_index", vector_index_kind_name(kind)));
    R1_RETURN_IF_ERROR(tx.commit());
  }
  vectors_ = std::move(fresh);
  return save_vectors_locked();
}

Status DocumentIndex::save_vectors_locked() {
  Result<VectorFileInfo> info = vectors_->save(dir_ + "/" + kFaissFile);
  if (!info) return info.status();
  info->generation = meta_int(db_, "generation");
  return write_vector_sidecar(dir_ + "/" + kSidecarFile, *info);
}

Result<IndexHealth> DocumentIndex::verify_and_repair(bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dim_ <= 0) return IndexHealth{};
  IndexHealth h;
  R1_RETURN_IF_ERROR(check_and_repair_locked(force, h));
  return h;
}

IndexHealth DocumentIndex::health() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_;
}

Result<IndexStats> DocumentIndex::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  IndexStats s;
  s.files = count(db_, "SELECT count(*) FROM files");
  s.chunks = count(db_, "SELECT count(*) FROM chunks");
  s.vectors = vectors_ ? vectors_->size() : 0;
  s.tombstones = count(db_, "SELECT count(*) FROM vector_tombstones");
  Result<std::string> kind = get_meta(db_, "vector_index");
  if (kind) s.vector_index = *kind;
  Result<std::string> model = get_meta(db_, "model_id");
  if (model) s.model_id = *model;
  s.generation = meta_int(db_, "generation");
  return s;
}

Result<IngestReport> DocumentIndex::ingest(const std::vector<std::string>& paths,
                                           const IngestOptions& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto t0 = std::chrono::steady_clock::now();
  if (!embedder_ || !vectors_) {
    return Status::invalid(dir_ + ": ingest needs an embedding model");
  }
  IngestReport report;

  // 1. Scan the paths.
  std::vector<std::string> roots;
  std::map<std::string, ScannedFile> scanned;  // normal path -> stat, sorted for stable ids
  for (const std::string& p : paths) {
    const std::string root = normal_path(p);
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (ec || !fs::exists(st)) return Status::not_found(p + ": no such file or folder");
    roots.push_back(root);
    if (fs::is_regular_file(st)) {
      ScannedFile f;
      const std::optional<DocumentKind> kind = document_kind_for_path(root);
      if (!kind) {
        report.errors.push_back(
            {root, Status::unsupported(root + ": unsupported file type (txt, md, html, pdf)")});
        continue;
      }
      if (stat_file(root, f)) {
        f.kind = *kind;
        scanned[root] = f;
      }
      continue;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) return Status::io_error(root + ": " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const fs::path& entry = it->path();
      if (is_hidden(entry)) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        ++report.files_skipped;
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      const std::optional<DocumentKind> kind = document_kind_for_path(entry.string());
      ScannedFile f;
      if (!kind || !stat_file(entry.string(), f)) {
        ++report.files_skipped;
        continue;
      }
      f.kind = *kind;
      scanned[normal_path(entry.string())] = f;
    }
  }
  report.files_seen = static_cast<int64_t>(scanned.size());

  // 2. Removed and changed files leave the index (one transaction).
  const bool hnsw = vectors_->kind() == VectorIndexKind::kHnsw;
  std::vector<int64_t> removed_ids;
  std::set<std::string> changed;
  {
    struct Row {
      int64_t id;
      std::string path, sha256;
      int64_t size, mtime_ns;
    };
    std::vector<Row> rows;
    {
      Stmt s(db_, "SELECT id, path, sha256, size, mtime_ns FROM files");
      if (!s.ok()) return s.error("files");
      while (s.step() == SQLITE_ROW)
        rows.push_back({s.i64(0), s.str(1), s.str(2), s.i64(3), s.i64(4)});
    }
    Transaction tx(db_);
    R1_RETURN_IF_ERROR(tx.status());
    bool touched = false;
    std::set<int64_t> deleted;
    for (const Row& r : rows) {
      if (deleted.count(r.id)) continue;
      auto it = scanned.find(r.path);
      bool remove = false;
      if (it == scanned.end()) {
        std::error_code ec;
        const bool in_roots = std::any_of(roots.begin(), roots.end(), [&](const std::string& root) {
          return under(r.path, root);
        });
        remove = in_roots || !fs::exists(r.path, ec);
        if (remove) ++report.files_removed;
      } else if (it->second.size != r.size || it->second.mtime_ns != r.mtime_ns) {
        Result<std::string> sum = sha256_file(r.path);
        if (sum && *sum == r.sha256) {
          Stmt u(db_, "UPDATE files SET size = ?1, mtime_ns = ?2 WHERE id = ?3");
          u.bind(1, it->second.size).bind(2, it->second.mtime_ns).bind(3, r.id);
          if (u.step() != SQLITE_DONE) return u.error("files");
        } else {
          remove = true;
          changed.insert(r.path);
        }
      }
      if (!remove) continue;
      // Duplicates of this file go with it (cascade) and are ingested again below.
      {
        Stmt d(db_, "SELECT id FROM files WHERE duplicate_of = ?1");
        d.bind(1, r.id);
        while (d.step() == SQLITE_ROW) deleted.insert(d.i64(0));
      }
      Result<std::vector<int64_t>> ids = delete_file(db_, r.id, hnsw);
      if (!ids) return ids.status();
      deleted.insert(r.id);
      removed_ids.insert(removed_ids.end(), ids->begin(), ids->end());
      touched = true;
    }
    if (touched) R1_RETURN_IF_ERROR(bump_generation(db_));
    R1_RETURN_IF_ERROR(tx.commit());
  }
  report.chunks_removed = static_cast<int64_t>(removed_ids.size());
  {
    Result<int64_t> n = vectors_->remove(removed_ids);
    if (!n) return n.status();
  }

  // 3. Files without a row now are new (or changed, or duplicates that lost their original).
  std::vector<std::string> todo;
  {
    Stmt s(db_, "SELECT 1 FROM files WHERE path = ?1");
    for (const auto& [path, f] : scanned) {
      s.bind(1, path);
      if (s.step() != SQLITE_ROW) todo.push_back(path);
      s.reset();
    }
  }
  report.files_unchanged = report.files_seen - static_cast<int64_t>(todo.size());

  ChunkerOptions chunker = options.chunker;
  chunker.max_pieces =
      std::min<int32_t>(chunker.max_pieces, static_cast<int32_t>(embedder_->max_tokens() - 2));
  const PieceCounter counter = [this](std::string_view w) { return embedder_->count_pieces(w); };
  const int32_t batch = std::max<int32_t>(1, options.embed_batch);
  IngestProgress progress;
  progress.files_total = static_cast<int64_t>(todo.size());
  for (const std::string& path : todo) {
    const ScannedFile& f = scanned[path];
    auto next = [&] {
      ++progress.files_done;
      progress.path = path;
      if (options.progress) options.progress(progress);
    };
    Result<std::string> bytes = read_bytes(path);
    if (!bytes) {
      report.errors.push_back({path, bytes.status()});
      next();
      continue;
    }
    const std::string sha = sha256_hex(bytes->data(), bytes->size());
    int64_t original = 0;
    {
      Stmt s(db_, "SELECT id FROM files WHERE sha256 = ?1 AND duplicate_of IS NULL LIMIT 1");
      s.bind(1, sha);
      if (s.step() == SQLITE_ROW) original = s.i64(0);
    }
    std::vector<DocumentChunk> chunks;
    std::vector<float> vecs;
    if (original == 0) {
      Result<Document> doc = parse_document(path, f.kind, *bytes);
      if (!doc) {
        report.errors.push_back({path, doc.status()});
        next();
        continue;
      }
      chunks = chunk_document(*doc, counter, chunker);
      for (size_t i = 0; i < chunks.size(); i += static_cast<size_t>(batch)) {
        const size_t n = std::min<size_t>(static_cast<size_t>(batch), chunks.size() - i);
        std::vector<std::string> texts;
        for (size_t j = 0; j < n; ++j) texts.push_back(chunks[i + j].text);
        Result<std::vector<float>> v = embedder_->embed(texts);
        if (!v) return Status::internal(path + ": embedding failed: " + v.status().message());
        vecs.insert(vecs.end(), v->begin(), v->end());
      }
    }
    std::vector<int64_t> ids;
    {
      Transaction tx(db_);
      R1_RETURN_IF_ERROR(tx.status());
      Stmt fi(db_,
              "INSERT INTO files(path, kind, sha256, size, mtime_ns, duplicate_of, n_chunks, "
              "ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      fi.bind(1, path).bind(2, std::string(document_kind_name(f.kind))).bind(3, sha);
      fi.bind(4, static_cast<int64_t>(bytes->size())).bind(5, f.mtime_ns);
      if (original != 0) {
        fi.bind(6, original);
      } else {
        fi.bind_null(6);
      }
      fi.bind(7, static_cast<int64_t>(chunks.size()))
          .bind(8, static_cast<int64_t>(std::time(nullptr)));
      if (fi.step() != SQLITE_DONE) return fi.error(path + ": files");
      const int64_t file_id = sqlite3_last_insert_rowid(db_);
      Stmt ci(db_,
              "INSERT INTO chunks(file_id, seq, text, byte_start, byte_end, page, n_pieces, "
              "vector) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      for (size_t i = 0; i < chunks.size(); ++i) {
        const DocumentChunk& c = chunks[i];
        ci.bind(1, file_id).bind(2, static_cast<int64_t>(i)).bind(3, c.text);
        ci.bind(4, c.byte_start).bind(5, c.byte_end).bind(6, static_cast<int64_t>(c.page));
        ci.bind(7, static_cast<int64_t>(c.n_pieces));
        ci.bind_blob(8, vecs.data() + i * static_cast<size_t>(dim_),
                     static_cast<size_t>(dim_) * sizeof(float));
        if (ci.step() != SQLITE_DONE) return ci.error(path + ": chunks");
        ids.push_back(sqlite3_last_insert_rowid(db_));
        ci.reset();
      }
      R1_RETURN_IF_ERROR(bump_generation(db_));
      R1_RETURN_IF_ERROR(tx.commit());
    }
    R1_RETURN_IF_ERROR(vectors_->add(ids, vecs));
    if (original != 0) {
      ++report.files_duplicate;
    } else if (changed.count(path)) {
      ++report.files_changed;
    } else {
      ++report.files_new;
    }
    report.chunks_added += static_cast<int64_t>(ids.size());
    progress.chunks_added = report.chunks_added;
    next();
  }

  // 4. Pick the vector index kind, rebuild when it changes or tombstones pile up, then save.
  {
    std::string choice = *get_meta(db_, "index_choice");
    if (options.kind == IndexKindChoice::kAuto) choice = "auto";
    if (options.kind == IndexKindChoice::kFlat) choice = "flat";
    if (options.kind == IndexKindChoice::kHnsw) choice = "hnsw";
    R1_RETURN_IF_ERROR(set_meta(db_, "index_choice", choice));
    const int64_t live = count(db_, "SELECT count(*) FROM chunks");
    const VectorIndexKind want = choice == "hnsw"         ? VectorIndexKind::kHnsw
                                 : choice == "flat"       ? VectorIndexKind::kFlat
                                 : live >= kHnswThreshold ? VectorIndexKind::kHnsw
                                                          : VectorIndexKind::kFlat;
    const int64_t tomb = vectors_->size() - live;
    const bool too_many_tombstones =
        tomb > 0 &&
        static_cast<double>(tomb) > kMaxTombstoneShare * static_cast<double>(vectors_->size());
    std::error_code ec;
    const bool changed_any = report.chunks_added > 0 || report.chunks_removed > 0 ||
                             report.files_duplicate > 0 || report.files_removed > 0 ||
                             !fs::exists(dir_ + "/" + kSidecarFile, ec);
    if (want != vectors_->kind() || too_many_tombstones) {
      R1_RETURN_IF_ERROR(rebuild_vectors_locked(want));
      report.vectors_rebuilt = true;
    } else {
      Result<VectorFileInfo> info = read_vector_sidecar(dir_ + "/" + kSidecarFile);
      if (changed_any || !info || info->generation != meta_int(db_, "generation")) {
        R1_RETURN_IF_ERROR(save_vectors_locked());
      }
    }
    report.vector_index = vector_index_kind_name(vectors_->kind());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Result<std::vector<SearchHit>> DocumentIndex::hits_for_ids(const std::vector<int64_t>& ids,
                                                           const std::string& prefix) {
  std::vector<SearchHit> hits;
  Stmt s(db_,
         "SELECT c.text, f.path, c.byte_start, c.byte_end, c.page FROM chunks c "
         "JOIN files f ON f.id = c.file_id WHERE c.id = ?1");
  if (!s.ok()) return s.error("chunks");
  for (int64_t id : ids) {
    s.bind(1, id);
    if (s.step() == SQLITE_ROW) {  // a tombstoned (removed) chunk has no row: skipped
      SearchHit h;
      h.chunk_id = id;
      h.text = s.str(0);
      h.path = s.str(1);
      h.byte_start = s.i64(2);
      h.byte_end = s.i64(3);
      h.page = static_cast<int32_t>(s.i64(4));
      if (prefix.empty() || h.path.compare(0, prefix.size(), prefix) == 0) {
        h.citation = make_citation(h.path, h.page, h.byte_start, h.byte_end);
        hits.push_back(std::move(h));
      }
    }
    s.reset();
  }
  return hits;
}

Result<std::vector<SearchHit>> DocumentIndex::keyword_locked(const std::string& query,
                                                             int64_t depth,
                                                             const std::string& prefix) {
  std::vector<SearchHit> hits;
  const std::string match = fts5_match_query(query);
  if (match.empty()) return hits;
  Stmt s(db_,
         "SELECT c.id, c.text, f.path, c.byte_start, c.byte_end, c.page, "
         "bm25(chunks_fts) AS rank FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
         "JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?1 "
         "AND (?2 = '' OR substr(f.path, 1, length(?2)) = ?2) ORDER BY rank LIMIT ?3");
  if (!s.ok()) return Status::internal(std::string("keyword search: ") + sqlite3_errmsg(db_));
  s.bind(1, match).bind(2, prefix).bind(3, depth);
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    SearchHit h;
    h.chunk_id = s.i64(0);
    h.text = s.str(1);
    h.path = s.str(2);
    h.byte_start = s.i64(3);
    h.byte_end = s.i64(4);
    h.page = static_cast<int32_t>(s.i64(5));
    h.score = -s.f64(6);
    h.citation = make_citation(h.path, h.page, h.byte_start, h.byte_end);
    hits.push_back(std::move(h));
  }
  if (rc != SQLITE_DONE) {
    return Status::internal(std::string("keyword search: ") + sqlite3_errmsg(db_));
  }
  return hits;
}

Result<std::vector<SearchHit>> DocumentIndex::vector_locked(const std::string& query, int64_t depth,
                                                            const std::string& prefix, int32_t ef) {
  if (!embedder_) return Status::invalid(dir_ + ": vector search needs an embedding model");
  Result<std::vector<float>> q = embedder_->embed({query});
  if (!q) return Status::internal("embedding the query failed: " + q.status().message());
  std::vector<SearchHit> hits;
  const int64_t total = vectors_->size();
  int64_t fetch = std::min<int64_t>(total, depth);
  while (fetch > 0) {
    Result<std::vector<VectorHit>> found = vectors_->search(q->data(), fetch, ef);
    if (!found) return found.status();
    std::vector<int64_t> ids;
    std::unordered_map<int64_t, float> scores;
    for (const VectorHit& h : *found) {
      ids.push_back(h.id);
      scores[h.id] = h.score;
    }
    Result<std::vector<SearchHit>> rows = hits_for_ids(ids, prefix);
    if (!rows) return rows.status();
    hits = std::move(*rows);
    for (SearchHit& h : hits) h.score = scores[h.chunk_id];
    // Tombstones and the path filter can leave fewer than asked: look deeper.
    if (static_cast<int64_t>(hits.size()) >= depth || fetch >= total) break;
    fetch = std::min<int64_t>(total, fetch * 4);
  }
  if (static_cast<int64_t>(hits.size()) > depth) hits.resize(static_cast<size_t>(depth));
  return hits;
}

Result<std::vector<SearchHit>> DocumentIndex::search(const std::string& query,
                                                     const SearchOptions& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (options.k < 1 || options.k > 1000) {
    return Status::invalid("k = " + std::to_string(options.k) + ": use 1..1000");
  }
  const int64_t k = options.k;
  if (options.mode == SearchMode::kKeyword) {
    return keyword_locked(query, k, options.path_prefix);
  }
  if (!embedder_ || !vectors_) {
    return Status::invalid(std::string(search_mode_name(options.mode)) +
                           " search needs an embedding model");
  }
  if (options.mode == SearchMode::kVector) {
    return vector_locked(query, k, options.path_prefix, options.hnsw_ef_search);
  }
  if (!(options.rrf_k >= 0) || !(options.keyword_weight >= 0)) {
    return Status::invalid("hybrid fusion needs rrf_k >= 0 and keyword_weight >= 0");
  }
  const int64_t depth =
      options.candidates > 0 ? options.candidates : std::max<int64_t>(kHybridCandidates, k);
  Result<std::vector<SearchHit>> kw = keyword_locked(query, depth, options.path_prefix);
  if (!kw) return kw.status();
  Result<std::vector<SearchHit>> vec =
      vector_locked(query, depth, options.path_prefix, options.hnsw_ef_search);
  if (!vec) return vec.status();
  std::unordered_map<int64_t, SearchHit> by_id;
  std::vector<std::vector<int64_t>> lists(2);
  for (SearchHit& h : *vec) {
    lists[0].push_back(h.chunk_id);
    by_id.emplace(h.chunk_id, std::move(h));
  }
  for (SearchHit& h : *kw) {
    lists[1].push_back(h.chunk_id);
    by_id.emplace(h.chunk_id, std::move(h));
  }
  std::vector<SearchHit> hits;
  const std::vector<FusedItem> fused =
      reciprocal_rank_fusion(lists, options.rrf_k, {1.0, options.keyword_weight});
  for (const FusedItem& item : fused) {
    if (static_cast<int64_t>(hits.size()) >= k) break;
    SearchHit h = std::move(by_id[item.id]);
    h.score = item.score;
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace r1
