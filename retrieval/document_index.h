// DocumentIndex: one searchable collection of documents on disk, the retrieval API that the CLI
// (`r1 ingest`, `r1 search`) and the agent's search tool wrap.
//
// A folder holds it (see document_index.cpp for the schema and file layout): index.db (SQLite:
// files, chunks with their text, byte ranges, pages and embedding vectors, an FTS5 table for
// BM25) and vectors.faiss + vectors.faiss.json (FAISS, ids = chunk ids). SQLite is the source of
// truth; the FAISS file is a derived cache, checked against it on open and rebuilt from the
// stored vectors when anything disagrees (health() says what was found), so a crash at any
// point leaves a usable index and stale vectors are never served.
//
// Owns its SQLite connection, FAISS index and embedder. Every public method takes an internal
// mutex: an index may be shared between threads (calls are serialised). One process at a time
// should write an index (SQLite's lock makes a second writer wait, then fail with kIoError).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "retrieval/chunker.h"
#include "retrieval/rank_fusion.h"
#include "retrieval/text_embedder.h"
#include "retrieval/vector_index.h"

struct sqlite3;

namespace r1 {

enum class SearchMode { kHybrid, kVector, kKeyword };
const char* search_mode_name(SearchMode mode);  // "hybrid", "vector", "keyword"
std::optional<SearchMode> parse_search_mode(const std::string& name);

// Hybrid search is reciprocal rank fusion (rank_fusion.h) of the keyword and vector rankings,
// each `candidates` deep. With the textbook k = 60 the weights of ranks 1..50 (1/61 .. 1/110)
// hardly differ, so a chunk of the wrong page that both lists hold anywhere outvotes the first
// hit of either list; with k = 1 (1/2, 1/3, ..) agreement near the top still wins but agreement
// deep in the lists does not. Chosen on bench/retrieval_eval.json only, then checked on
// bench/retrieval_eval_heldout.json and on the whole SQLite documentation (README figures).
constexpr double kHybridRrfK = 1.0;
constexpr int32_t kHybridCandidates = 50;

struct SearchOptions {
  int32_t k = 5;  // hits wanted (1..1000)
  SearchMode mode = SearchMode::kHybrid;
  std::string path_prefix;      // only files whose stored (absolute) path starts with this
  int32_t candidates = 0;       // per-list depth before fusion; 0: max(kHybridCandidates, k)
  double rrf_k = kHybridRrfK;   // hybrid: RRF's k (>= 0); kRrfK = 60 is the textbook value
  double keyword_weight = 1.0;  // hybrid: the keyword list's weight in the fusion (vector: 1)
  int32_t hnsw_ef_search = 64;  // HNSW beam width, raised to the depth (bench/retrieval_bench)
};

struct SearchHit {
  int64_t chunk_id = 0;
  std::string text;
  std::string path;        // absolute path of the source file
  int64_t byte_start = 0;  // source bytes (pdf: bytes of the page's extracted text)
  int64_t byte_end = 0;    // exclusive
  int32_t page = 0;        // pdf: 1-based; 0 otherwise
  double score = 0;        // vector: cosine; keyword: -bm25 (higher is better); hybrid: RRF sum
  std::string citation;    // "path:page 3" or "path:bytes 100-900"
};

std::string make_citation(const std::string& path, int32_t page, int64_t byte_start,
                          int64_t byte_end);

enum class IndexKindChoice { kKeep, kAuto, kFlat, kHnsw };

struct IngestProgress {
  int64_t files_done = 0;
  int64_t files_total = 0;
  int64_t chunks_added = 0;
  std::string path;  // the file just finished
};

struct FileError {
  std::string path;
  Status status;
};

struct IngestOptions {
  // kKeep: what the index already uses (a new index: kAuto). kAuto: flat below
  // kHnswThreshold live chunks, HNSW from there on. kFlat / kHnsw: that kind, remembered.
  IndexKindChoice kind = IndexKindChoice::kKeep;
  ChunkerOptions chunker;    // max_pieces is capped to the embedder's window minus 2
  int32_t embed_batch = 64;  // chunks per embedder call
  std::function<void(const IngestProgress&)> progress;  // called after each file
};

struct IngestReport {
  int64_t files_seen = 0;  // supported files found under the paths
  int64_t files_new = 0;
  int64_t files_changed = 0;
  int64_t files_unchanged = 0;
  int64_t files_duplicate = 0;  // same content as another indexed file: not chunked again
  int64_t files_removed = 0;    // indexed before, gone from disk now
  int64_t files_skipped = 0;    // unsupported extensions and hidden entries inside folders
  int64_t chunks_added = 0;
  int64_t chunks_removed = 0;
  double seconds = 0;
  std::string vector_index;  // kind after ingest: "flat" or "hnsw"
  bool vectors_rebuilt = false;
  std::vector<FileError> errors;  // files that could not be read or parsed (not indexed)
};

struct IndexHealth {
  bool repaired = false;  // the FAISS file was rebuilt from SQLite on open
  std::string problem;    // what disagreed (empty when nothing did)
};

struct IndexStats {
  int64_t files = 0;
  int64_t chunks = 0;
  int64_t vectors = 0;     // in FAISS, tombstones included
  int64_t tombstones = 0;  // hnsw: removed chunks still in the graph
  std::string vector_index;
  std::string model_id;
  int64_t generation = 0;
};

class DocumentIndex {
 public:
  static constexpr int64_t kHnswThreshold = 50000;   // live chunks from which kAuto picks HNSW
  static constexpr double kMaxTombstoneShare = 0.2;  // HNSW rebuilt above this share

  // Opens (creating when absent) the index in folder `dir`. `embedder` may be null for a
  // keyword-only reader (vector/hybrid search and ingest then fail with kInvalidArgument).
  // Checks the FAISS file against SQLite and repairs it from stored vectors (see health()).
  // Errors: kIoError naming the file (cannot create or open, not a database); kInvalidArgument
  // when the index was built with another embedding model or dimension; kUnsupported for a
  // newer schema version. Nothing is modified on failure except a fresh, empty folder.
  static Result<std::unique_ptr<DocumentIndex>> open(const std::string& dir,
                                                     std::unique_ptr<TextEmbedder> embedder);
  ~DocumentIndex();

  // Adds and updates the files under `paths` (files or folders, recursively; hidden entries
  // and unsupported extensions inside folders are skipped): unchanged files (same size and
  // mtime, or same SHA-256) are not touched, changed ones are re-chunked, files indexed under a
  // given folder but gone from it, or gone from disk, leave the index. A file that cannot be
  // read or parsed is listed in the report's errors and the rest go on. Errors (the index keeps
  // every file committed before): kNotFound for a path that does not exist, kIoError for
  // SQLite/FAISS write failures, kInternal for an embedder failure.
  Result<IngestReport> ingest(const std::vector<std::string>& paths, const IngestOptions& options);

  // Top hits for `query`, best first. Keyword mode builds a safe FTS5 query (fts_query.h).
  // Errors: kInvalidArgument for k out of range, a negative rrf_k or keyword_weight in hybrid
  // mode, or a vector mode without an embedder; kInternal
  // for SQLite/FAISS/embedder failures. An empty query or index gives no hits.
  Result<std::vector<SearchHit>> search(const std::string& query, const SearchOptions& options);

  IndexHealth health() const;
  Result<IndexStats> stats();
  const std::string& dir() const { return dir_; }

  // Checks FAISS against SQLite now (as open() does) and rebuilds it when they disagree or
  // when `force`. Returns what was found.
  Result<IndexHealth> verify_and_repair(bool force);

 private:
  DocumentIndex() = default;
  Status check_and_repair_locked(bool force, IndexHealth& health);
  Status rebuild_vectors_locked(VectorIndexKind kind);
  Status save_vectors_locked();
  Result<std::vector<SearchHit>> keyword_locked(const std::string& query, int64_t depth,
                                                const std::string& prefix);
  Result<std::vector<SearchHit>> vector_locked(const std::string& query, int64_t depth,
                                               const std::string& prefix, int32_t ef);
  Result<std::vector<SearchHit>> hits_for_ids(const std::vector<int64_t>& ids,
                                              const std::string& prefix);

  mutable std::mutex mutex_;
  std::string dir_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<TextEmbedder> embedder_;
  std::unique_ptr<VectorIndex> vectors_;
  IndexHealth health_;
  int64_t dim_ = 0;
};

// Where named indexes live: $R1_INDEX_DIR, else ${XDG_DATA_HOME:-~/.local/share}/r1/indexes.
std::string indexes_root();
// The folder of index NAME ([A-Za-z0-9._-], 1..64 characters, not starting with '.');
// kInvalidArgument for another name.
Result<std::string> index_dir_for_name(const std::string& name);

// The shipped default corpus: SQLite's HTML documentation from Debian `sqlite3-doc`
// (/usr/share/doc/sqlite3), empty when it is not installed.
std::string default_corpus_path();

}  // namespace r1
