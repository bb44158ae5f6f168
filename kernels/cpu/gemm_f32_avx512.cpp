// AVX-512 register tile for gemm_f32.cpp: kRows rows of A times one packed panel of 32 weight
// rows, accumulated in 2 * kRows zmm registers (one row of C is two 16-float vectors). Per k the
// panel row is loaded as two vectors and each A element is broadcast against both: 8 rows do
// 16 FMAs per 2 vector loads and 8 broadcasts. Zen 4 runs a zmm FMA as two 256-bit halves (one
// per cycle) with a 4-cycle latency, so 16 independent chains keep it busy; measured on Zen 4
// (M 4096, the MiniLM shapes, one thread) 8 rows ran at ~108 GFLOP/s, 6 at ~105 and 12 at ~107,
// near the core's ~115 GFLOP/s f32 FMA peak.
#include <immintrin.h>

#include "kernels/cpu/gemm_f32_impl.h"

namespace r1::gemm_internal {
namespace {

constexpr int kTileRows = 8;  // see the top of the file

template <int kRows>
void tile(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc, int n,
          bool accumulate) {
  const auto lo_mask = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const auto hi_mask = static_cast<__mmask16>(n >= 32   ? 0xFFFF
                                              : n <= 16 ? 0
                                                        : (1u << (n - 16)) - 1);
  __m512 lo[kRows], hi[kRows];  // C rows: columns [0, 16) and [16, 32)
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    lo[i] = accumulate ? _mm512_maskz_loadu_ps(lo_mask, c + i * ldc) : _mm512_setzero_ps();
    hi[i] = accumulate ? _mm512_maskz_loadu_ps(hi_mask, c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b_lo = _mm512_load_ps(panel + k * 32);
    const __m512 b_hi = _mm512_load_ps(panel + k * 32 + 16);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512 x = _mm512_set1_ps(a[i * lda + k]);
      lo[i] = _mm512_fmadd_ps(x, b_lo, lo[i]);
      hi[i] = _mm512_fmadd_ps(x, b_hi, hi[i]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    _mm512_mask_storeu_ps(c + i * ldc, lo_mask, lo[i]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, hi_mask, hi[i]);
  }
}

void tile_any(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
              int m, int n, bool accumulate) {
  switch (m) {
#define R1_TILE_CASE(r) \
  case r:               \
    return tile<r>(kc, a, lda, panel, c, ldc, n, accumulate);
    R1_TILE_CASE(1)
    R1_TILE_CASE(2)
    R1_TILE_CASE(3)
    R1_TILE_CASE(4)
    R1_TILE_CASE(5)
    R1_TILE_CASE(6)
    R1_TILE_CASE(7)
    R1_TILE_CASE(8)
    R1_TILE_CASE(9)
    R1_TILE_CASE(10)
    R1_TILE_CASE(11)
    R1_TILE_CASE(12)
#undef R1_TILE_CASE
    default:
      return;
  }
}

}  // namespace

GemmKernel avx512_gemm_kernel() {
  static_assert(kTileRows <= 12, "tile_any instantiates up to 12 rows");
  return GemmKernel{tile_any, kTileRows};
}

}  // namespace r1::gemm_internal
