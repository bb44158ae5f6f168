// HNSW against exact search on unit vectors: recall@10 of IndexHNSWFlat (M = 32, inner product,
// as retrieval/vector_index.cpp builds it) against IndexFlatIP, and single-thread query latency
// (p50/p99) for several efSearch values. Data: N 384-d unit vectors, either uniform on the
// sphere (the hard case) or clustered (a mixture of 1000 Gaussian clusters, closer to real
// sentence embeddings); queries are held-out draws from the same distribution.
//
//   retrieval_bench [N=100000] [uniform|clustered] [n_queries=1000]
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

constexpr int kDim = 384;

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
  std::vector<float> v(static_cast<size_t>(n) * kDim);
  const int64_t n_centers = static_cast<int64_t>(centers.size()) / kDim;
  for (int64_t i = 0; i < n; ++i) {
    float* x = v.data() + i * kDim;
    const float* c = clustered ? centers.data() + (rng() % n_centers) * kDim : nullptr;
    for (int d = 0; d < kDim; ++d) x[d] = (c ? c[d] : 0.0f) + (c ? 0.05f : 1.0f) * g(rng);
    normalise(x);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines survive a timeout kill
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000;
  const bool clustered = argc > 2 && std::string(argv[2]) == "clustered";
  const int64_t nq = argc > 3 ? std::atoll(argv[3]) : 1000;
  const int k = 10;
  std::vector<float> centers;
  if (clustered) centers = make_data(1000, false, 7, {});
  const std::vector<float> data = make_data(n, clustered, 1, centers);
  const std::vector<float> queries = make_data(nq, clustered, 2, centers);

  faiss::IndexFlatIP exact(kDim);
  exact.add(n, data.data());
  std::vector<int64_t> truth(static_cast<size_t>(nq) * k);
  std::vector<float> dist(static_cast<size_t>(nq) * k);
  exact.search(nq, queries.data(), k, dist.data(), truth.data());

  faiss::IndexHNSWFlat hnsw(kDim, 32, faiss::METRIC_INNER_PRODUCT);
  hnsw.hnsw.efConstruction = 80;
  const auto b0 = std::chrono::steady_clock::now();
  hnsw.add(n, data.data());
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
  std::printf(
      "data %s, N %lld, dim %d, queries %lld, HNSW M 32 efConstruction 80, build %.1f s "
      "(%d threads)\n",
      clustered ? "clustered" : "uniform", static_cast<long long>(n), kDim,
      static_cast<long long>(nq), build_s, omp_get_max_threads());

  omp_set_num_threads(1);  // single-thread query latency
  for (int ef : {16, 32, 64, 128, 256}) {
    hnsw.hnsw.efSearch = ef;
    std::vector<double> ms;
    int64_t found = 0;
    std::vector<int64_t> labels(k);
    std::vector<float> d(k);
    for (int64_t q = 0; q < nq; ++q) {
      const auto t0 = std::chrono::steady_clock::now();
      hnsw.search(1, queries.data() + q * kDim, k, d.data(), labels.data());
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      std::unordered_set<int64_t> t(truth.begin() + q * k, truth.begin() + (q + 1) * k);
      for (int64_t l : labels) found += t.count(l);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("efSearch %4d  recall@10 %.4f  p50 %.3f ms  p99 %.3f ms\n", ef,
                static_cast<double>(found) / static_cast<double>(nq * k), ms[ms.size() / 2],
                ms[ms.size() * 99 / 100]);
  }
  // The exact baseline, single thread.
  std::vector<double> ms;
  std::vector<int64_t> labels(k);
  std::vector<float> d(k);
  for (int64_t q = 0; q < std::min<int64_t>(nq, 200); ++q) {
    const auto t0 = std::chrono::steady_clock::now();
    exact.search(1, queries.data() + q * kDim, k, d.data(), labels.data());
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("exact IndexFlatIP  p50 %.3f ms  p99 %.3f ms\n", ms[ms.size() / 2],
              ms[ms.size() * 99 / 100]);
  return 0;
}
