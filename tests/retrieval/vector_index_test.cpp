// VectorIndex: flat search equals a plain brute-force reference; HNSW agrees with it on easy
// data; files are written atomically and any byte of damage is detected on load.
#include "retrieval/vector_index.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace r1 {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_unit_vectors(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int64_t d = 0; d < dim; ++d) {
      float& x = v[static_cast<size_t>(i * dim + d)];
      x = g(rng);
      norm += static_cast<double>(x) * x;
    }
    for (int64_t d = 0; d < dim; ++d)
      v[static_cast<size_t>(i * dim + d)] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

std::string temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("r1_vector_index_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

TEST_CASE("vector index: flat search is exact (diffed against brute force)") {
  const int64_t n = 500, dim = 32;
  const auto data = random_unit_vectors(n, dim, 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = 1000 + 3 * i;
  auto index = VectorIndex::create(VectorIndexKind::kFlat, dim);
  REQUIRE(index->add(ids, data).is_ok());
  const auto queries = random_unit_vectors(10, dim, 2);
  double max_diff = 0;
  for (int q = 0; q < 10; ++q) {
    const float* qv = queries.data() + q * dim;
    std::vector<std::pair<float, int64_t>> ref;
    for (int64_t i = 0; i < n; ++i) {
      float dot = 0;
      for (int64_t d = 0; d < dim; ++d) dot += qv[d] * data[static_cast<size_t>(i * dim + d)];
      ref.push_back({dot, ids[static_cast<size_t>(i)]});
    }
    std::sort(ref.rbegin(), ref.rend());
    auto hits = index->search(qv, 5, 0);
    REQUIRE(hits.is_ok());
    REQUIRE(hits->size() == 5);
    for (int r = 0; r < 5; ++r) {
      CHECK((*hits)[static_cast<size_t>(r)].id == ref[static_cast<size_t>(r)].second);
      max_diff = std::max<double>(max_diff, std::fabs((*hits)[static_cast<size_t>(r)].score -
                                                      ref[static_cast<size_t>(r)].first));
    }
  }
  CHECK_MESSAGE(max_diff < 1e-5, "max score difference " << max_diff);
}

TEST_CASE("vector index: remove drops flat ids; HNSW keeps them as tombstones") {
  const int64_t dim = 16;
  const auto data = random_unit_vectors(100, dim, 3);
  std::vector<int64_t> ids(100);
  for (int i = 0; i < 100; ++i) ids[static_cast<size_t>(i)] = i + 1;
  for (VectorIndexKind kind : {VectorIndexKind::kFlat, VectorIndexKind::kHnsw}) {
    auto index = VectorIndex::create(kind, dim);
    REQUIRE(index->add(ids, data).is_ok());
    auto removed = index->remove({1, 2, 3});
    REQUIRE(removed.is_ok());
    if (kind == VectorIndexKind::kFlat) {
      CHECK(*removed == 3);
      CHECK(index->size() == 97);
      CHECK(index->ids().front() == 4);
    } else {
      CHECK(*removed == 0);
      CHECK(index->size() == 100);
      // The nearest neighbour of vector 5 is itself, in both kinds.
      auto hits = index->search(data.data() + 4 * dim, 1, 64);
      REQUIRE(hits.is_ok());
      CHECK((*hits)[0].id == 5);
    }
  }
}

TEST_CASE("vector index: save is atomic and load detects damage") {
  const std::string dir = temp_dir("save");
  const std::string path = dir + "/vectors.faiss";
  const int64_t dim = 8;
  auto index = VectorIndex::create(VectorIndexKind::kHnsw, dim);
  REQUIRE(index->add({7, 8, 9}, random_unit_vectors(3, dim, 4)).is_ok());
  auto info = index->save(path);
  REQUIRE_MESSAGE(info.is_ok(), info.status().message());
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(info->count == 3);
  CHECK(info->file_bytes == static_cast<int64_t>(fs::file_size(path)));
  info->generation = 42;
  REQUIRE(write_vector_sidecar(path + ".json", *info).is_ok());
  auto sidecar = read_vector_sidecar(path + ".json");
  REQUIRE(sidecar.is_ok());
  CHECK(sidecar->generation == 42);
  CHECK(sidecar->sha256 == info->sha256);

  auto loaded = VectorIndex::load(path, *sidecar);
  REQUIRE_MESSAGE(loaded.is_ok(), loaded.status().message());
  CHECK((*loaded)->ids() == std::vector<int64_t>{7, 8, 9});
  CHECK((*loaded)->kind() == VectorIndexKind::kHnsw);

  // One flipped byte: checksum mismatch. Truncation: size mismatch.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(info->file_bytes / 2);
    f.put('\x5A');
  }
  auto flipped = VectorIndex::load(path, *sidecar);
  REQUIRE_FALSE(flipped.is_ok());
  CHECK(flipped.status().message().find("SHA-256") != std::string::npos);
  fs::resize_file(path, static_cast<uintmax_t>(info->file_bytes / 2));
  auto truncated = VectorIndex::load(path, *sidecar);
  REQUIRE_FALSE(truncated.is_ok());
  CHECK(truncated.status().message().find("truncated") != std::string::npos);
  // A garbled sidecar is an error too, not a crash.
  std::ofstream(path + ".json") << "{\"format\": 1, \"kind\": ";
  CHECK_FALSE(read_vector_sidecar(path + ".json").is_ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1
