// VectorIndex: the FAISS side of a document index. Unit vectors (dim floats each) keyed by the
// SQLite chunk id, searched by inner product (= cosine). Two kinds behind one interface:
//
//   flat  IndexIDMap2(IndexFlatIP): exact; removes in place.
//   hnsw  IndexIDMap2(IndexHNSWFlat(dim, M = 32, METRIC_INNER_PRODUCT)), efConstruction 80,
//         efSearch set per query (>= k): approximate, for large indexes. HNSW graphs cannot
//         delete, so remove() only counts the ids as tombstones: they stay in the graph, the
//         caller filters them out of results (DocumentIndex drops hits whose chunk row is gone)
//         and rebuilds from the stored vectors once tombstones pass a share of the index.
//
// save() writes the file atomically (see vector_index.cpp for the file and sidecar formats):
// a crash leaves either the old file or the new one, never a torn one under the real name.
// FAISS exceptions are caught here and returned as Status. Not thread-safe: one caller at a time
// (DocumentIndex serialises access).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/sha256.h"
#include "core/status.h"

namespace faiss {
struct Index;
}

namespace r1 {

enum class VectorIndexKind { kFlat, kHnsw };

const char* vector_index_kind_name(VectorIndexKind kind);  // "flat", "hnsw"

struct VectorHit {
  int64_t id = 0;
  float score = 0;  // inner product of unit vectors: cosine in [-1, 1]
};

// What the sidecar (vectors.faiss.json) records about the FAISS file beside it.
struct VectorFileInfo {
  int32_t format = 1;
  VectorIndexKind kind = VectorIndexKind::kFlat;
  int64_t dim = 0;
  int64_t count = 0;       // vectors in the file (ntotal), tombstones included
  int64_t generation = 0;  // the SQLite generation the file was written from
  int64_t file_bytes = 0;
  std::string sha256;  // of the FAISS file, lower-case hex
};

class VectorIndex {
 public:
  static constexpr int kHnswM = 32;
  static constexpr int kHnswEfConstruction = 80;

  static std::unique_ptr<VectorIndex> create(VectorIndexKind kind, int64_t dim);
  // Reads a FAISS file written by save(); checks its SHA-256 against `expected` (size, checksum,
  // count, kind, dim). Errors: kIoError (unreadable), kInvalidArgument naming the path and the
  // first mismatch (checksum, count, kind, dim) or FAISS's complaint; nothing is loaded then.
  static Result<std::unique_ptr<VectorIndex>> load(const std::string& path,
                                                   const VectorFileInfo& expected);
  ~VectorIndex();

  VectorIndexKind kind() const { return kind_; }
  int64_t dim() const { return dim_; }
  int64_t size() const;  // vectors held, tombstones included

  // vectors: (ids.size(), dim) row-major unit vectors. Ids must be new. Errors: kInternal with
  // FAISS's message; the index may then hold a prefix of the batch (the caller rebuilds).
  Status add(const std::vector<int64_t>& ids, const std::vector<float>& vectors);
  // flat: removes the ids and returns how many it held; hnsw: removes nothing and returns 0
  // (the ids become tombstones, tracked by the caller as size() minus live chunks).
  Result<int64_t> remove(const std::vector<int64_t>& ids);
  // Top `k` by inner product, best first; `ef_search` applies to hnsw (raised to k).
  Result<std::vector<VectorHit>> search(const float* query, int64_t k, int32_t ef_search) const;
  // Every id held (tombstones included), ascending.
  std::vector<int64_t> ids() const;

  // Writes `path` atomically (PATH.tmp, fsync, rename, fsync of the folder) and returns what the
  // sidecar must record (generation left to the caller). On failure the old file is untouched
  // and the temp file removed.
  Result<VectorFileInfo> save(const std::string& path) const;

 private:
  VectorIndex() = default;
  std::unique_ptr<faiss::Index> index_;  // an IndexIDMap2 owning its inner index
  VectorIndexKind kind_ = VectorIndexKind::kFlat;
  int64_t dim_ = 0;
};

// The sidecar: a small JSON file, written atomically like the FAISS file.
Status write_vector_sidecar(const std::string& path, const VectorFileInfo& info);
Result<VectorFileInfo> read_vector_sidecar(const std::string& path);

// Writes `bytes` to `path` atomically: PATH.tmp, fsync, rename, fsync of the folder.
Status write_file_atomically(const std::string& path, const void* bytes, size_t n);

}  // namespace r1
