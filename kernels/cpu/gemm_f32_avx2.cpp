// AVX2+FMA register tile for gemm_f32.cpp: the classic 6 x 16 tile (12 ymm accumulators, two
// panel vectors and a broadcast fill the 16 registers), run once per 16-column half of a packed
// 32-row panel.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/gemm_f32_impl.h"

namespace r1::gemm_internal {
namespace {

constexpr int kTileRows = 6;

// Columns [0, n) of a 16-column half (n in [1, 16]); the panel row stride stays 32.
template <int kRows>
void half_tile(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
               int n, bool accumulate) {
  __m256 lo[kRows], hi[kRows];  // C rows: columns [0, 8) and [8, 16)
  float edge[kRows][16];        // C rows of a partial half
  if (n < 16) {
    for (int i = 0; i < kRows; ++i) {
      std::fill(edge[i], edge[i] + 16, 0.f);
      if (accumulate) std::copy(c + i * ldc, c + i * ldc + n, edge[i]);
    }
  }
  for (int i = 0; i < kRows; ++i) {
    const float* src = n < 16 ? edge[i] : c + i * ldc;
    lo[i] = accumulate ? _mm256_loadu_ps(src) : _mm256_setzero_ps();
    hi[i] = accumulate ? _mm256_loadu_ps(src + 8) : _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b_lo = _mm256_load_ps(panel + k * 32);
    const __m256 b_hi = _mm256_load_ps(panel + k * 32 + 8);
#pragma GCC unroll 8
    for (int i = 0; i < kRows; ++i) {
      const __m256 x = _mm256_broadcast_ss(a + i * lda + k);
      lo[i] = _mm256_fmadd_ps(x, b_lo, lo[i]);
      hi[i] = _mm256_fmadd_ps(x, b_hi, hi[i]);
    }
  }
  for (int i = 0; i < kRows; ++i) {
    float* dst = n < 16 ? edge[i] : c + i * ldc;
    _mm256_storeu_ps(dst, lo[i]);
    _mm256_storeu_ps(dst + 8, hi[i]);
    if (n < 16) std::copy(edge[i], edge[i] + n, c + i * ldc);
  }
}

template <int kRows>
void tile(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc, int n,
          bool accumulate) {
  half_tile<kRows>(kc, a, lda, panel, c, ldc, std::min(n, 16), accumulate);
  if (n > 16) half_tile<kRows>(kc, a, lda, panel + 16, c + 16, ldc, n - 16, accumulate);
}

void tile_any(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
              int m, int n, bool accumulate) {
  switch (m) {
    case 1:
      return tile<1>(kc, a, lda, panel, c, ldc, n, accumulate);
    case 2:
      return tile<2>(kc, a, lda, panel, c, ldc, n, accumulate);
    case 3:
      return tile<3>(kc, a, lda, panel, c, ldc, n, accumulate);
    case 4:
      return tile<4>(kc, a, lda, panel, c, ldc, n, accumulate);
    case 5:
      return tile<5>(kc, a, lda, panel, c, ldc, n, accumulate);
    case 6:
      return tile<6>(kc, a, lda, panel, c, ldc, n, accumulate);
    default:
      return;
  }
}

}  // namespace

GemmKernel avx2_gemm_kernel() {
  return GemmKernel{tile_any, kTileRows};
}

}  // namespace r1::gemm_internal
