// AVX2/F16C attention: attention_group (all heads of a GQA group times a block of tokens), with the
// arithmetic of attention_head_ref up to summation order and exp_row()'s polynomial in place of
// std::exp. Compiled with -mavx2 -mfma -mf16c; the dispatchers in attention.cpp only run it after a
// CPU check.
//
// attention_group works in three passes over a per-call scratch (see attention.cpp for sizes):
//   qf    (R, head_dim) f32        the R = n_tokens * n_group queries, rounded through f16
//   s     (R, s_stride) f32        scores, then f16-rounded probabilities (0 past the diagonal)
//   tile  (kKeyTile, head_dim) f32 the current keys, transposed in chunks of 8 keys
//                                  (chunk c: (head_dim, 8), keys in lanes), or the current values
// Scores are a register-blocked GEMM with keys in lanes, so no horizontal sums are needed;
// out = P V is the same shape of GEMM with head dims in lanes.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cpu/attention.h"

namespace r1 {

namespace {

constexpr int64_t kKeyTile = 64;  // keys per tile: 64 * head_dim f32 stays in L1 for head_dim 64
constexpr int kMaxRowBlock = 6;   // query rows per micro-kernel: 12 accumulators + 3 operands

inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 round_f16x8(__m256 x) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by Cephes' degree-7 expf polynomial (<= 2 ulp),
// scaled by 2^n through the exponent bits. x < ln(FLT_MIN) (and -inf) gives 0.
inline __m256 exp256(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.336544f), _CMP_LT_OQ);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.336544f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// Softmax of x[0, n), rounded through f16 as the reference weights values with; x[n, n_zero)
// is set to 0 (keys past the causal diagonal). Denominator summed in double, as ops.h does.
void softmax_row_f16(float* x, int64_t n, int64_t n_zero) {
  const int64_t n8 = n / 8 * 8;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n8; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + j));
  float max_v = -INFINITY;
  {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmax);
    for (float e : lanes) max_v = std::max(max_v, e);
    for (int64_t j = n8; j < n; ++j) max_v = std::max(max_v, x[j]);
  }
  const __m256 m = _mm256_set1_ps(max_v);
  __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
  for (int64_t j = 0; j < n8; j += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), m));
    _mm256_storeu_ps(x + j, e);
    sum_lo = _mm256_add_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum_hi = _mm256_add_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) float tail[8];
  if (n8 < n) {
    for (int64_t j = 0; j < 8; ++j) tail[j] = n8 + j < n ? x[n8 + j] : -INFINITY;
    const __m256 e = exp256(_mm256_sub_ps(_mm256_load_ps(tail), m));
    _mm256_store_ps(tail, e);
    sum_lo = _mm256_add_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum_hi = _mm256_add_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double sums[4];
  _mm256_store_pd(sums, _mm256_add_pd(sum_lo, sum_hi));
  const float inv = static_cast<float>(1.0 / (sums[0] + sums[1] + sums[2] + sums[3]));
  const __m256 vinv = _mm256_set1_ps(inv);
  for (int64_t j = 0; j < n8; j += 8) {
    _mm256_storeu_ps(x + j, round_f16x8(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv)));
  }
  if (n8 < n) {
    _mm256_store_ps(tail, round_f16x8(_mm256_mul_ps(_mm256_load_ps(tail), vinv)));
    for (int64_t j = n8; j < n; ++j) x[j] = tail[j - n8];
  }
  for (int64_t j = n; j < n_zero; ++j) x[j] = 0.0f;
}

inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// s[r][0, 8 * NC) = scale * qf[r] . keys of NC chunks (kt: (NC, head_dim, 8)), for RB rows.
template <int RB, int NC>
void score_block(const float* qf, int64_t head_dim, const float* kt, float scale, float* s,
                 int64_t s_stride) {
  __m256 acc[RB][NC];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t d = 0; d < head_dim; ++d) {
    __m256 kd[NC];
    for (int c = 0; c < NC; ++c) kd[c] = _mm256_loadu_ps(kt + c * 8 * head_dim + d * 8);
    for (int r = 0; r < RB; ++r) {
      const __m256 qd = _mm256_broadcast_ss(qf + r * head_dim + d);
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_fmadd_ps(qd, kd[c], acc[r][c]);
    }
  }
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NC; ++c)
      _mm256_storeu_ps(s + r * s_stride + 8 * c, _mm256_mul_ps(acc[r][c], vscale));
}

// Turns a run-time row count (1..6; more is treated as 6) into a compile-time one:
// calls f(std::integral_constant<int, RB>{}).
template <class F>
void with_row_count(int rb, F&& f) {
  switch (rb) {
    case 1:
      f(std::integral_constant<int, 1>{});
      break;
    case 2:
      f(std::integral_constant<int, 2>{});
      break;
    case 3:
      f(std::integral_constant<int, 3>{});
      break;
    case 4:
      f(std::integral_constant<int, 4>{});
      break;
    case 5:
      f(std::integral_constant<int, 5>{});
      break;
    default:
      f(std::integral_constant<int, 6>{});
      break;
  }
}

template <int NC>
void score_rows(int rb, const float* qf, int64_t head_dim, const float* kt, float scale, float* s,
                int64_t s_stride) {
  with_row_count(rb, [&](auto rows) {
    score_block<decltype(rows)::value, NC>(qf, head_dim, kt, scale, s, s_stride);
  });
}

// o[r][0, 8 * NV) += sum_j p[r][j] * vt[j][0, 8 * NV) over nk values (vt: (nk, head_dim)).
template <int RB, int NV>
void value_block(const float* p, int64_t s_stride, const float* vt, int64_t head_dim, int64_t nk,
                 float* const* o) {
  __m256 acc[RB][NV];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm256_loadu_ps(o[r] + 8 * c);
  for (int64_t j = 0; j < nk; ++j) {
    __m256 vj[NV];
    for (int c = 0; c < NV; ++c) vj[c] = _mm256_loadu_ps(vt + j * head_dim + 8 * c);
    for (int r = 0; r < RB; ++r) {
      const __m256 pj = _mm256_broadcast_ss(p + r * s_stride + j);
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm256_fmadd_ps(pj, vj[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NV; ++c) _mm256_storeu_ps(o[r] + 8 * c, acc[r][c]);
}

template <int NV>
void value_rows(int rb, const float* p, int64_t s_stride, const float* vt, int64_t head_dim,
                int64_t nk, float* const* o) {
  with_row_count(rb, [&](auto rows) {
    value_block<decltype(rows)::value, NV>(p, s_stride, vt, head_dim, nk, o);
  });
}

}  // namespace

void exp_row_avx2(const float* x, float* y, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, exp256(_mm256_loadu_ps(x + j)));
  if (j < n) {
    alignas(32) float tail[8] = {};
    for (int64_t i = j; i < n; ++i) tail[i - j] = x[i];
    _mm256_store_ps(tail, exp256(_mm256_load_ps(tail)));
    for (int64_t i = j; i < n; ++i) y[i] = tail[i - j];
  }
}

void f32_to_f16_row_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void attention_group_avx2(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                          const uint16_t* k, const uint16_t* v, int64_t n_kv_first,
                          int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                          float* scratch, float* out, int64_t out_stride) {
  const int64_t n_rows = n_tokens * n_group;
  const int64_t n_kv = n_kv_first + n_tokens - 1;  // keys the last token sees
  const int64_t s_stride = (n_kv + 7) / 8 * 8;
  float* qf = scratch;                  // (n_rows, head_dim)
  float* s = qf + n_rows * head_dim;    // (n_rows, s_stride)
  float* tile = s + n_rows * s_stride;  // (kKeyTile, head_dim)
  float* o_rows[kMaxRowBlock];

  for (int64_t r = 0; r < n_rows; ++r) {
    const float* src = q + (r / n_group) * q_stride + (r % n_group) * head_dim;
    for (int64_t d = 0; d < head_dim; d += 8) {
      _mm256_storeu_ps(qf + r * head_dim + d, round_f16x8(_mm256_loadu_ps(src + d)));
    }
  }

  // Scores.
  for (int64_t j0 = 0; j0 < n_kv; j0 += kKeyTile) {
    const int64_t nk = std::min(kKeyTile, n_kv - j0);
    const int64_t n_chunks = (nk + 7) / 8;
    for (int64_t c = 0; c < n_chunks; ++c) {
      float* kt = tile + c * 8 * head_dim;
      for (int64_t d = 0; d < head_dim; d += 8) {
        __m256 rows[8];
        for (int64_t lane = 0; lane < 8; ++lane) {
          const int64_t j = j0 + c * 8 + lane;
          rows[lane] =
              j < n_kv ? load_f16x8(k + j * kv_stride + kv_offset + d) : _mm256_setzero_ps();
        }
        transpose8(rows);
        for (int64_t i = 0; i < 8; ++i) _mm256_storeu_ps(kt + (d + i) * 8, rows[i]);
      }
    }
    for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxRowBlock) {
      const int rb = static_cast<int>(std::min<int64_t>(kMaxRowBlock, n_rows - r0));
      int64_t c = 0;
      for (; c + 2 <= n_chunks; c += 2) {
        score_rows<2>(rb, qf + r0 * head_dim, head_dim, tile + c * 8 * head_dim, scale,
                      s + r0 * s_stride + j0 + c * 8, s_stride);
      }
      if (c < n_chunks) {
        score_rows<1>(rb, qf + r0 * head_dim, head_dim, tile + c * 8 * head_dim, scale,
                      s + r0 * s_stride + j0 + c * 8, s_stride);
      }
    }
  }

  // Probabilities; token i sees n_kv_first + i keys.
  for (int64_t r = 0; r < n_rows; ++r) {
    softmax_row_f16(s + r * s_stride, n_kv_first + r / n_group, n_kv);
  }

  // out = P V.
  for (int64_t r = 0; r < n_rows; ++r) {
    float* o = out + (r / n_group) * out_stride + (r % n_group) * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
  }
  for (int64_t j0 = 0; j0 < n_kv; j0 += kKeyTile) {
    const int64_t nk = std::min(kKeyTile, n_kv - j0);
    for (int64_t j = 0; j < nk; ++j) {
      const uint16_t* vr = v + (j0 + j) * kv_stride + kv_offset;
      for (int64_t d = 0; d < head_dim; d += 8) {
        _mm256_storeu_ps(tile + j * head_dim + d, load_f16x8(vr + d));
      }
    }
    for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxRowBlock) {
      const int rb = static_cast<int>(std::min<int64_t>(kMaxRowBlock, n_rows - r0));
      const float* p = s + r0 * s_stride + j0;
      int64_t d = 0;
      for (; d + 16 <= head_dim; d += 16) {
        for (int r = 0; r < rb; ++r) {
          const int64_t row = r0 + r;
          o_rows[r] = out + (row / n_group) * out_stride + (row % n_group) * head_dim + d;
        }
        value_rows<2>(rb, p, s_stride, tile + d, head_dim, nk, o_rows);
      }
      if (d < head_dim) {
        for (int r = 0; r < rb; ++r) {
          const int64_t row = r0 + r;
          o_rows[r] = out + (row / n_group) * out_stride + (row % n_group) * head_dim + d;
        }
        value_rows<1>(rb, p, s_stride, tile + d, head_dim, nk, o_rows);
      }
    }
  }
}

}  // namespace r1
