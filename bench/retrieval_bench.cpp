// HNSW against exact search on unit vectors: recall@10 of IndexHNSWFlat (inner product, M = 32
// and efConstruction 80 as retrieval/vector_index.cpp builds it, or the M given) against
// IndexFlatIP, and single-thread query latency (p50/p99) for several efSearch values.
//
// Data, 384-d unit vectors:
//   uniform    uniform on the sphere: the hard case, no structure
//   clustered  a mixture of 1000 Gaussian clusters (synthetic stand-in for sentence vectors)
//   file PATH  real all-MiniLM-L6-v2 vectors of real text from bench/retrieval_real_vectors.py:
//              little-endian float32 rows of 384; the last n_queries rows are the queries
//              (held out of the index), the rest the base set
//
//   retrieval_bench [N=100000] [uniform|clustered] [n_queries=1000] [M=32]
//   retrieval_bench file PATH [n_queries=1000] [M=32]
//
// recall@10 counts a returned id as correct when it is among the exact top 10 ids; "tie-aware"
// also accepts an id whose inner product equals the exact 10th best (within 1e-6), so duplicate
// passages (identical vectors) are not counted as misses.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

constexpr int kDim = 384;
constexpr int kTopK = 10;
constexpr int kEfConstruction = 80;  // as retrieval/vector_index.cpp

void normalise(float* v) {
  double n = 0;
  for (int d = 0; d < kDim; ++d) n += static_cast<double>(v[d]) * v[d];
  const float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (int d = 0; d < kDim; ++d) v[d] *= inv;
}

std::vector<float> make_data(int64_t n, bool clustered, uint32_t seed,
                             const std::vector<float>& centers) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<size_t>(n) * kDim);  // (n, kDim)
  const int64_t n_centers = static_cast<int64_t>(centers.size()) / kDim;
  for (int64_t i = 0; i < n; ++i) {
    float* x = v.data() + i * kDim;
    const float* c = clustered ? centers.data() + (rng() % n_centers) * kDim : nullptr;
    for (int d = 0; d < kDim; ++d) x[d] = (c ? c[d] : 0.0f) + (c ? 0.05f : 1.0f) * g(rng);
    normalise(x);
  }
  return v;
}

// Rows of kDim float32 from `path` (native little-endian); empty with a message on failure.
std::vector<float> read_rows(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::fprintf(stderr, "retrieval_bench: cannot open %s\n", path.c_str());
    return {};
  }
  const std::streamoff bytes = in.tellg();
  const std::streamoff row_bytes = kDim * static_cast<std::streamoff>(sizeof(float));
  if (bytes <= 0 || bytes % row_bytes != 0) {
    std::fprintf(stderr, "retrieval_bench: %s: %lld bytes is not a whole number of %d-float rows\n",
                 path.c_str(), static_cast<long long>(bytes), kDim);
    return {};
  }
  std::vector<float> v(static_cast<size_t>(bytes / sizeof(float)));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), bytes);
  if (!in) {
    std::fprintf(stderr, "retrieval_bench: %s: short read\n", path.c_str());
    return {};
  }
  return v;
}

double percentile(std::vector<double> ms, int pct) {
  std::sort(ms.begin(), ms.end());
  return ms[std::min(ms.size() - 1, ms.size() * static_cast<size_t>(pct) / 100)];
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines survive a timeout kill
  std::vector<float> data;                   // (n, kDim) base set
  std::vector<float> queries;                // (nq, kDim)
  std::string label;
  int m = 32;
  if (argc > 2 && std::string(argv[1]) == "file") {
    const int64_t nq = argc > 3 ? std::atoll(argv[3]) : 1000;
    m = argc > 4 ? std::atoi(argv[4]) : 32;
    std::vector<float> rows = read_rows(argv[2]);
    const int64_t total = static_cast<int64_t>(rows.size()) / kDim;
    if (rows.empty() || nq < 1 || nq >= total) {
      if (!rows.empty())
        std::fprintf(stderr, "retrieval_bench: %lld rows, n_queries %lld\n",
                     static_cast<long long>(total), static_cast<long long>(nq));
      return 2;
    }
    for (int64_t i = 0; i < total; ++i) normalise(rows.data() + i * kDim);  // float round-off
    queries.assign(rows.end() - nq * kDim, rows.end());
    rows.resize(static_cast<size_t>(total - nq) * kDim);
    data = std::move(rows);
    label = std::string("real MiniLM vectors from ") + argv[2];
  } else {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000;
    const bool clustered = argc > 2 && std::string(argv[2]) == "clustered";
    const int64_t nq = argc > 3 ? std::atoll(argv[3]) : 1000;
    m = argc > 4 ? std::atoi(argv[4]) : 32;
    std::vector<float> centers;
    if (clustered) centers = make_data(1000, false, 7, {});
    data = make_data(n, clustered, 1, centers);
    queries = make_data(nq, clustered, 2, centers);
    label = clustered ? "clustered" : "uniform";
  }
  const int64_t n = static_cast<int64_t>(data.size()) / kDim;
  const int64_t nq = static_cast<int64_t>(queries.size()) / kDim;

  faiss::IndexFlatIP exact(kDim);
  exact.add(n, data.data());
  std::vector<int64_t> truth(static_cast<size_t>(nq) * kTopK);   // (nq, kTopK) ids
  std::vector<float> truth_ip(static_cast<size_t>(nq) * kTopK);  // (nq, kTopK) inner products
  exact.search(nq, queries.data(), kTopK, truth_ip.data(), truth.data());

  faiss::IndexHNSWFlat hnsw(kDim, m, faiss::METRIC_INNER_PRODUCT);
  hnsw.hnsw.efConstruction = kEfConstruction;
  const auto b0 = std::chrono::steady_clock::now();
  hnsw.add(n, data.data());
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
  std::printf(
      "data %s, N %lld, dim %d, queries %lld, HNSW M %d efConstruction %d, build %.1f s "
      "(%d threads)\n",
      label.c_str(), static_cast<long long>(n), kDim, static_cast<long long>(nq), m,
      kEfConstruction, build_s, omp_get_max_threads());

  omp_set_num_threads(1);  // single-thread query latency
  for (int ef : {16, 32, 48, 64, 96, 128, 256}) {
    hnsw.hnsw.efSearch = ef;
    std::vector<double> ms;
    int64_t found = 0;
    int64_t found_ties = 0;
    std::vector<int64_t> labels(kTopK);
    std::vector<float> ip(kTopK);
    for (int64_t q = 0; q < nq; ++q) {
      const auto t0 = std::chrono::steady_clock::now();
      hnsw.search(1, queries.data() + q * kDim, kTopK, ip.data(), labels.data());
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      std::unordered_set<int64_t> t(truth.begin() + q * kTopK, truth.begin() + (q + 1) * kTopK);
      const float tenth = truth_ip[static_cast<size_t>(q * kTopK + kTopK - 1)];
      for (int i = 0; i < kTopK; ++i) {
        const bool in_truth = t.count(labels[i]) > 0;
        found += in_truth;
        found_ties += in_truth || (labels[i] >= 0 && ip[i] >= tenth - 1e-6f);
      }
    }
    std::printf("efSearch %4d  recall@10 %.4f (tie-aware %.4f)  p50 %.3f ms  p99 %.3f ms\n", ef,
                static_cast<double>(found) / static_cast<double>(nq * kTopK),
                static_cast<double>(found_ties) / static_cast<double>(nq * kTopK),
                percentile(ms, 50), percentile(ms, 99));
  }
  // The exact baseline, single thread.
  std::vector<double> ms;
  std::vector<int64_t> labels(kTopK);
  std::vector<float> d(kTopK);
  for (int64_t q = 0; q < std::min<int64_t>(nq, 200); ++q) {
    const auto t0 = std::chrono::steady_clock::now();
    exact.search(1, queries.data() + q * kDim, kTopK, d.data(), labels.data());
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("exact IndexFlatIP  p50 %.3f ms  p99 %.3f ms\n", percentile(ms, 50),
              percentile(ms, 99));
  return 0;
}
