// AVX2/F16C attention_head: the same arithmetic as attention_head_ref with 8-wide f16 loads.
// Compiled with -mavx2 -mfma -mf16c; attention_head() only runs it after a CPU check.
#include <immintrin.h>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"

namespace r1 {

namespace {

inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

}  // namespace

void attention_head_avx2(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_kv,
                         int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                         float* scores, float* out) {
  // head_dim is a multiple of 8 here (checked by the caller).
  __m256 q8[128];
  const int64_t nb = head_dim / 8;
  for (int64_t b = 0; b < nb; ++b) {
    // Round the query through f16, as the reference does.
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(q + 8 * b), _MM_FROUND_TO_NEAREST_INT);
    q8[b] = _mm256_cvtph_ps(h);
  }
  for (int64_t j = 0; j < n_kv; ++j) {
    const uint16_t* kr = k + j * kv_stride + kv_offset;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256 kf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kr + 8 * b)));
      acc = _mm256_fmadd_ps(q8[b], kf, acc);
    }
    scores[j] = hsum256(acc) * scale;
  }
  softmax_inplace(scores, n_kv);
  __m256 o[128];
  for (int64_t b = 0; b < nb; ++b) o[b] = _mm256_setzero_ps();
  for (int64_t j = 0; j < n_kv; ++j) {
    const float p32 = _cvtsh_ss(_cvtss_sh(scores[j], _MM_FROUND_TO_NEAREST_INT));
    const __m256 p = _mm256_set1_ps(p32);
    const uint16_t* vr = v + j * kv_stride + kv_offset;
    for (int64_t b = 0; b < nb; ++b) {
      __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(vr + 8 * b)));
      o[b] = _mm256_fmadd_ps(p, vf, o[b]);
    }
  }
  for (int64_t b = 0; b < nb; ++b) _mm256_storeu_ps(out + 8 * b, o[b]);
}

}  // namespace r1
