// The FAISS file and its sidecar.
//
//   vectors.faiss       faiss::write_index of an IndexIDMap2 over IndexFlatIP (kind "flat") or
//                       IndexHNSWFlat(dim, 32, METRIC_INNER_PRODUCT) (kind "hnsw"); FAISS's
//                       own serialisation (1.7.x), ids are SQLite chunks.id.
//   vectors.faiss.json  sidecar, UTF-8 JSON, one object:
//                         {"format": 1, "kind": "flat"|"hnsw", "dim": 384,
//                          "count": N,          // ntotal of the FAISS file (tombstones included)
//                          "generation": G,     // meta.generation of index.db it was built from
//                          "file_bytes": B,     // size of vectors.faiss
//                          "sha256": "hex"}     // of vectors.faiss
//
// Both are written the same way: bytes to PATH.tmp, fsync(PATH.tmp), rename(PATH.tmp, PATH),
// fsync(folder). The FAISS file goes first, the sidecar second, so after a crash either the
// sidecar describes the FAISS file exactly or the check on open fails (checksum, count or
// generation) and the index is rebuilt from the vectors stored in SQLite.
#include "retrieval/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace r1 {

namespace fs = std::filesystem;

namespace {

using IdMap = faiss::IndexIDMap2;

std::string errno_text() {
  return std::strerror(errno);
}

Status write_all(int fd, const void* bytes, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(bytes);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::io_error(path + ": write failed: " + errno_text());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::ok();
}

Result<std::string> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error(path + ": read error");
  return ss.str();
}

}  // namespace

Status write_file_atomically(const std::string& path, const void* bytes, size_t n) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error(tmp + ": cannot create: " + errno_text());
  Status st = write_all(fd, bytes, n, tmp);
  if (st.is_ok() && ::fsync(fd) != 0)
    st = Status::io_error(tmp + ": fsync failed: " + errno_text());
  if (::close(fd) != 0 && st.is_ok())
    st = Status::io_error(tmp + ": close failed: " + errno_text());
  if (st.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::io_error(path + ": rename from " + tmp + " failed: " + errno_text());
  }
  if (!st.is_ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  const std::string dir = fs::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // makes the rename durable; best effort on file systems that refuse it
    ::close(dfd);
  }
  return Status::ok();
}

const char* vector_index_kind_name(VectorIndexKind kind) {
  return kind == VectorIndexKind::kHnsw ? "hnsw" : "flat";
}

VectorIndex::~VectorIndex() = default;

std::unique_ptr<VectorIndex> VectorIndex::create(VectorIndexKind kind, int64_t dim) {
  std::unique_ptr<VectorIndex> v(new VectorIndex());
  v->kind_ = kind;
  v->dim_ = dim;
  faiss::Index* inner = nullptr;
  if (kind == VectorIndexKind::kHnsw) {
    auto* hnsw =
        new faiss::IndexHNSWFlat(static_cast<int>(dim), kHnswM, faiss::METRIC_INNER_PRODUCT);
    hnsw->hnsw.efConstruction = kHnswEfConstruction;
    inner = hnsw;
  } else {
    inner = new faiss::IndexFlatIP(dim);
  }
  auto* map = new IdMap(inner);
  map->own_fields = true;
  v->index_.reset(map);
  return v;
}

int64_t VectorIndex::size() const {
  return index_->ntotal;
}

Status VectorIndex::add(const std::vector<int64_t>& ids, const std::vector<float>& vectors) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dim_)) {
    return Status::internal("vector index: " + std::to_string(vectors.size()) + " floats for " +
                            std::to_string(ids.size()) + " ids of dim " + std::to_string(dim_));
  }
  if (ids.empty()) return Status::ok();
  try {
    index_->add_with_ids(static_cast<int64_t>(ids.size()), vectors.data(), ids.data());
  } catch (const std::exception& e) {
    return Status::internal(std::string("vector index: FAISS add failed: ") + e.what());
  }
  return Status::ok();
}

Result<int64_t> VectorIndex::remove(const std::vector<int64_t>& ids) {
  if (ids.empty() || kind_ == VectorIndexKind::kHnsw) return int64_t{0};
  try {
    faiss::IDSelectorBatch sel(ids.size(), ids.data());
    return static_cast<int64_t>(index_->remove_ids(sel));
  } catch (const std::exception& e) {
    return Status::internal(std::string("vector index: FAISS remove failed: ") + e.what());
  }
}

Result<std::vector<VectorHit>> VectorIndex::search(const float* query, int64_t k,
                                                   int32_t ef_search) const {
  std::vector<VectorHit> hits;
  const int64_t n = std::min<int64_t>(k, index_->ntotal);
  if (n <= 0) return hits;
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  try {
    if (kind_ == VectorIndexKind::kHnsw) {
      auto* map = static_cast<IdMap*>(index_.get());
      auto* hnsw = static_cast<faiss::IndexHNSWFlat*>(map->index);
      hnsw->hnsw.efSearch = std::max<int>(ef_search, static_cast<int>(n));
    }
    index_->search(1, query, n, scores.data(), labels.data());
  } catch (const std::exception& e) {
    return Status::internal(std::string("vector index: FAISS search failed: ") + e.what());
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels[static_cast<size_t>(i)] < 0) continue;
    hits.push_back({labels[static_cast<size_t>(i)], scores[static_cast<size_t>(i)]});
  }
  return hits;
}

std::vector<int64_t> VectorIndex::ids() const {
  const auto* map = static_cast<const IdMap*>(index_.get());
  std::vector<int64_t> out(map->id_map.begin(), map->id_map.end());
  std::sort(out.begin(), out.end());
  return out;
}

Result<VectorFileInfo> VectorIndex::save(const std::string& path) const {
  faiss::VectorIOWriter writer;
  try {
    faiss::write_index(index_.get(), &writer);
  } catch (const std::exception& e) {
    return Status::internal(path + ": FAISS serialisation failed: " + e.what());
  }
  R1_RETURN_IF_ERROR(write_file_atomically(path, writer.data.data(), writer.data.size()));
  VectorFileInfo info;
  info.kind = kind_;
  info.dim = dim_;
  info.count = index_->ntotal;
  info.file_bytes = static_cast<int64_t>(writer.data.size());
  info.sha256 = sha256_hex(writer.data.data(), writer.data.size());
  return info;
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::string& path,
                                                       const VectorFileInfo& expected) {
  Result<std::string> bytes = read_all(path);
  if (!bytes) return bytes.status();
  if (static_cast<int64_t>(bytes->size()) != expected.file_bytes) {
    return Status::invalid(path + ": " + std::to_string(bytes->size()) + " bytes, sidecar says " +
                           std::to_string(expected.file_bytes) + " (truncated or replaced)");
  }
  const std::string sum = sha256_hex(bytes->data(), bytes->size());
  if (sum != expected.sha256) {
    return Status::invalid(path + ": SHA-256 " + sum + " differs from the sidecar's " +
                           expected.sha256);
  }
  faiss::VectorIOReader reader;
  reader.data.assign(bytes->begin(), bytes->end());
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    return Status::invalid(path + ": FAISS cannot read it: " + e.what());
  }
  auto* map = dynamic_cast<IdMap*>(index.get());
  if (map == nullptr) return Status::invalid(path + ": not an IndexIDMap2");
  const bool is_hnsw = dynamic_cast<faiss::IndexHNSWFlat*>(map->index) != nullptr;
  const bool is_flat = dynamic_cast<faiss::IndexFlatIP*>(map->index) != nullptr;
  const VectorIndexKind kind = is_hnsw ? VectorIndexKind::kHnsw : VectorIndexKind::kFlat;
  if ((!is_hnsw && !is_flat) || kind != expected.kind) {
    return Status::invalid(path + ": index kind differs from the sidecar's " +
                           vector_index_kind_name(expected.kind));
  }
  if (index->d != expected.dim) {
    return Status::invalid(path + ": dim " + std::to_string(index->d) + ", sidecar says " +
                           std::to_string(expected.dim));
  }
  if (index->ntotal != expected.count) {
    return Status::invalid(path + ": " + std::to_string(index->ntotal) + " vectors, sidecar says " +
                           std::to_string(expected.count));
  }
  std::unique_ptr<VectorIndex> v(new VectorIndex());
  v->kind_ = kind;
  v->dim_ = expected.dim;
  v->index_ = std::move(index);
  return v;
}

Status write_vector_sidecar(const std::string& path, const VectorFileInfo& info) {
  const nlohmann::json j = {{"format", info.format},
                            {"kind", vector_index_kind_name(info.kind)},
                            {"dim", info.dim},
                            {"count", info.count},
                            {"generation", info.generation},
                            {"file_bytes", info.file_bytes},
                            {"sha256", info.sha256}};
  const std::string text = j.dump(1) + "\n";
  return write_file_atomically(path, text.data(), text.size());
}

Result<VectorFileInfo> read_vector_sidecar(const std::string& path) {
  Result<std::string> bytes = read_all(path);
  if (!bytes) return bytes.status();
  try {
    const nlohmann::json j = nlohmann::json::parse(*bytes);
    VectorFileInfo info;
    info.format = j.at("format").get<int32_t>();
    if (info.format != 1) {
      return Status::unsupported(path + ": sidecar format " + std::to_string(info.format));
    }
    const std::string kind = j.at("kind").get<std::string>();
    if (kind != "flat" && kind != "hnsw") return Status::invalid(path + ": kind '" + kind + "'");
    info.kind = kind == "hnsw" ? VectorIndexKind::kHnsw : VectorIndexKind::kFlat;
    info.dim = j.at("dim").get<int64_t>();
    info.count = j.at("count").get<int64_t>();
    info.generation = j.at("generation").get<int64_t>();
    info.file_bytes = j.at("file_bytes").get<int64_t>();
    info.sha256 = j.at("sha256").get<std::string>();
    return info;
  } catch (const std::exception& e) {
    return Status::invalid(path + ": malformed sidecar: " + e.what());
  }
}

}  // namespace r1
