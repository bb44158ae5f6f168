// Tests for kernels/cpu/gemm_f32.{h,cpp}: every instruction-set level's packed product against
// the double-accumulating reference, over shapes that leave partial tiles, panels and K slices
// at every edge; packing of stacked and half-precision weights; columns past N left untouched.
#include "kernels/cpu/gemm_f32.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace r1 {
namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Worst |c - ref| / sum_k |a_ik * w_jk| over the (m, n) outputs: the error relative to the size
// of the dot's terms, which bounds f32 summation error whatever the cancellation.
double max_relative_error(const std::vector<float>& a, const std::vector<float>& w, int64_t m,
                          int64_t n, int64_t k, const float* c, int64_t ldc,
                          const std::vector<float>& ref) {
  double worst = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double magnitude = 0.0;
      for (int64_t e = 0; e < k; ++e) {
        magnitude += std::fabs(static_cast<double>(a[i * k + e]) * w[j * k + e]);
      }
      const double err = std::fabs(static_cast<double>(c[i * ldc + j]) - ref[i * n + j]);
      worst = std::max(worst, err / std::max(magnitude, 1e-30));
    }
  }
  return worst;
}

constexpr double kTolerance = 1e-5;  // f32 rounding grows like sqrt(k) * 6e-8; k <= 1600 here
constexpr float kSentinel = -12345.f;

}  // namespace

TEST_CASE("gemm_f32: every level matches the reference on shapes with ragged edges") {
  struct Shape {
    int64_t m, n, k;
  };
  // Ones and primes around the tile rows (4, 6, 12), the panel (32), the row block (96) and the
  // K slice (256); and the MiniLM products.
  const Shape shapes[] = {{1, 1, 1},       {1, 32, 16},     {5, 33, 7},     {7, 31, 255},
                          {12, 64, 256},   {13, 65, 257},   {97, 100, 300}, {191, 47, 513},
                          {200, 384, 384}, {61, 1536, 384}, {37, 384, 1536}};
  ThreadPool pool(2);
  uint32_t seed = 1;
  double worst[3] = {-1.0, -1.0, -1.0};  // per level; -1: the CPU lacks it
  for (const Shape& s : shapes) {
    const std::vector<float> a = random_matrix(s.m, s.k, seed++);
    const std::vector<float> w = random_matrix(s.n, s.k, seed++);
    std::vector<float> ref(static_cast<size_t>(s.m * s.n));
    gemm_f32_ref(a.data(), s.m, s.k, w.data(), s.n, ref.data());
    const void* parts[] = {w.data()};
    const PackedWeightsF32 packed = pack_gemm_weights(TensorType::kF32, parts, &s.n, 1, s.k);
    REQUIRE(!packed.empty());
    for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
      const int64_t ldc = s.n + 3;  // three sentinel columns past n per row
      std::vector<float> c(static_cast<size_t>(s.m * ldc), kSentinel);
      if (!gemm_f32_for_isa(isa, pool, a.data(), s.k, s.m, packed, c.data(), ldc)) continue;
      const double err = max_relative_error(a, w, s.m, s.n, s.k, c.data(), ldc, ref);
      bool sentinels_kept = true;
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = s.n; j < ldc; ++j) sentinels_kept &= c[i * ldc + j] == kSentinel;
      }
      INFO("isa " << static_cast<int>(isa) << " m " << s.m << " n " << s.n << " k " << s.k
                  << ": max relative error " << err);
      CHECK(err <= kTolerance);
      CHECK(sentinels_kept);
      worst[static_cast<int>(isa)] = std::max(worst[static_cast<int>(isa)], err);
    }
  }
  std::printf("gemm_f32 max relative error: scalar %.3g, avx2 %.3g, avx512 %.3g (-1: absent)\n",
              worst[0], worst[1], worst[2]);
  // The dispatcher's choice, once, on a MiniLM-sized product.
  const int64_t m = 203, n = 384, k = 384;
  const std::vector<float> a = random_matrix(m, k, 77), w = random_matrix(n, k, 78);
  std::vector<float> ref(static_cast<size_t>(m * n)), c(static_cast<size_t>(m * n));
  gemm_f32_ref(a.data(), m, k, w.data(), n, ref.data());
  const void* parts[] = {w.data()};
  const PackedWeightsF32 packed = pack_gemm_weights(TensorType::kF32, parts, &n, 1, k);
  gemm_f32(pool, a.data(), k, m, packed, c.data(), n);
  const double err = max_relative_error(a, w, m, n, k, c.data(), n, ref);
  std::printf("gemm_f32 (%s) 203x384x384: max relative error %.3g\n", cpu_isa_name(), err);
  CHECK(err <= kTolerance);
}

TEST_CASE("gemm_f32: stacked parts pack as one matrix, f16 widens exactly") {
  const int64_t k = 40, rows[3] = {5, 30, 9}, n = 44, m = 9;
  std::vector<float> w = random_matrix(n, k, 5);
  for (float& x : w) x = f16_to_f32(f32_to_f16(x));  // representable in f16
  std::vector<f16_t> w16(w.size());
  std::transform(w.begin(), w.end(), w16.begin(), f32_to_f16);
  const void* f32_parts[] = {w.data(), w.data() + rows[0] * k, w.data() + (rows[0] + rows[1]) * k};
  const void* f16_parts[] = {w16.data(), w16.data() + rows[0] * k,
                             w16.data() + (rows[0] + rows[1]) * k};
  const PackedWeightsF32 p32 = pack_gemm_weights(TensorType::kF32, f32_parts, rows, 3, k);
  const PackedWeightsF32 p16 = pack_gemm_weights(TensorType::kF16, f16_parts, rows, 3, k);
  REQUIRE(p32.n == n);
  REQUIRE(p16.n == n);
  const std::vector<float> a = random_matrix(m, k, 6);
  std::vector<float> c32(static_cast<size_t>(m * n)), c16(static_cast<size_t>(m * n));
  ThreadPool pool(2);
  gemm_f32(pool, a.data(), k, m, p32, c32.data(), n);
  gemm_f32(pool, a.data(), k, m, p16, c16.data(), n);
  CHECK(c32 == c16);
  std::vector<float> ref(static_cast<size_t>(m * n));
  gemm_f32_ref(a.data(), m, k, w.data(), n, ref.data());
  CHECK(max_relative_error(a, w, m, n, k, c32.data(), n, ref) <= kTolerance);

  const int64_t zero_rows = 0;
  CHECK(pack_gemm_weights(TensorType::kF32, f32_parts, &zero_rows, 1, k).empty());
  CHECK(pack_gemm_weights(TensorType::kQ8_0, f32_parts, rows, 1, k).empty());
}

}  // namespace r1
