// AVX2 + FMA + F16C dot products for the block formats in quant.h (compiled with -mavx2 -mfma
// -mf16c; the dispatcher in quant.cpp calls these only after checking the CPU).
//
// Integer parts are exact: 4-bit weights are unpacked to unsigned bytes and multiplied with the
// signed int8 activations by vpmaddubsw (u8 x s8 -> pairwise i16, no saturation for these
// ranges: 15 * 127 * 2 and 63 * 127 * 2 < 32767), then summed to i32 by vpmaddwd. Each block's
// integer sum is converted once and scaled by an FMA into one of several independent float
// accumulators, so the FMA latency chain does not bound the loop.
#include <immintrin.h>

#include "kernels/cpu/quant.h"
#include "kernels/cpu/quant_impl.h"

namespace r1::quant_internal {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float h2f(f16_t h) {
  return _cvtsh_ss(h);
}

// 16 packed nibble bytes -> 32 bytes in [0, 15]: low nibbles first, then high nibbles. The
// 16 bytes are broadcast to both lanes and the upper lane shifted right by 4 (one variable
// shift instead of shift + insert).
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m256i both =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m256i shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
}

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// u8 x s8 over 32 bytes -> 8 i32 partial sums.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// ---- float types ------------------------------------------------------------------------------

float dot_f32(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] =
          _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8)
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

inline __m256 load_f16x8(const f16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dot_f16(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const f16_t*>(w);
  const auto* y = static_cast<const f16_t*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(load_f16x8(x + i + 8 * k), load_f16x8(y + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += h2f(x[i]) * h2f(y[i]);
  return sum;
}

// bf16 -> f32 is a 16-bit left shift of the bits.
inline __m256 load_bf16x8(const bf16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

float dot_bf16(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const bf16_t*>(w);
  const auto* y = static_cast<const bf16_t*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(load_bf16x8(x + i + 8 * k), load_bf16x8(y + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8)
    acc[0] = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
  return sum;
}

// f32 -> f16 activations: vcvtps2ph rounds to nearest even and quiets NaNs exactly as
// f32_to_f16 does (tests/kernels/quant_test.cpp pins the two together).
void quantize_act_f16(const float* x, void* y, int64_t n) {
  auto* h = static_cast<f16_t*>(y);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) h[i] = f32_to_f16(x[i]);
}

// One block of 32 activations -> int8 quants as quant.cpp's quantize_block_q8 does, operation
// for operation: amax (NaNs skipped, as std::max does), id = 127 / amax, q = nearest_int(x * id)
// by the same 1.5 * 2^23 addition, stored as the low byte. Returns d = amax / 127 and the sum
// of q.
inline float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(_mm256_and_ps(v[k], abs_mask), amax);  // a NaN lane keeps amax
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float a = _mm_cvtss_f32(m);
  const float d = a / 127.f;
  const float id = a != 0.f ? 127.f / a : 0.f;
  __m256i q[4];
  __m256i s = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256 shifted =
        _mm256_add_ps(_mm256_mul_ps(v[k], _mm256_set1_ps(id)), _mm256_set1_ps(12582912.f));
    q[k] = _mm256_sub_epi32(
        _mm256_and_si256(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x007FFFFF)),
        _mm256_set1_epi32(0x00400000));
    s = _mm256_add_epi32(s, q[k]);
    q[k] = _mm256_srai_epi32(_mm256_slli_epi32(q[k], 24), 24);  // the low byte, so packing is exact
  }
  *sum = hsum_i32(s);
  const __m256i p =
      _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  // packs work per 128-bit lane: dword j of p holds elements 4 * order[j] .. + 3
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), _mm256_permutevar8x32_epi32(p, order));
  return d;
}

void quantize_act_q8_0(const float* x, void* y, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(y);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sum;
    b[i].d = f32_to_f16(quantize_block_q8(x + i * kQK8_0, b[i].qs, &sum));
  }
}

void quantize_act_q8_1(const float* x, void* y, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(y);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    int sum;
    const float d = quantize_block_q8(x + i * kQK8_1, b[i].qs, &sum);
    b[i].d = f32_to_f16(d);
    b[i].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

// ---- 32-element block formats, kRows weight rows against one activation row -------------------

// Independent accumulator chains per row: enough to cover the FMA latency.
template <int kRows>
constexpr int kChains = kRows == 1 ? 4 : 2;

template <int kRows>
inline void finish(__m256 (&acc)[kRows][kChains<kRows>], const float* extra, float* out) {
  for (int r = 0; r < kRows; ++r) {
    __m256 s = acc[r][0];
    for (int c = 1; c < kChains<kRows>; ++c) s = _mm256_add_ps(s, acc[r][c]);
    out[r] = hsum(s) + extra[r];
  }
}

// Q4_0 x Q8_0: dot(q - 8, a) = maddubs(q, a) - maddubs(8, a); the second term is per activation
// block, shared by the rows.
template <int kRows>
void dot_q4_0_rows(int64_t n, const uint8_t* w, size_t stride, const BlockQ8_0* y, float* out) {
  __m256 acc[kRows][kChains<kRows>];
  for (auto& row : acc)
    for (auto& c : row) c = _mm256_setzero_ps();
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i a = load256(y[i].qs);
    const __m256i a8 = _mm256_maddubs_epi16(_mm256_set1_epi8(8), a);
    const float da = h2f(y[i].d);
    for (int r = 0; r < kRows; ++r) {
      const auto* x = reinterpret_cast<const BlockQ4_0*>(w + r * stride) + i;
      const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(unpack_nibbles(x->qs), a), a8);
      const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
      auto& c = acc[r][i % kChains<kRows>];
      c = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * da), p, c);
    }
  }
  const float zero[kRows] = {};
  finish<kRows>(acc, zero, out);
}

template <int kRows>
void dot_q4_1_rows(int64_t n, const uint8_t* w, size_t stride, const BlockQ8_1* y, float* out) {
  __m256 acc[kRows][kChains<kRows>];
  for (auto& row : acc)
    for (auto& c : row) c = _mm256_setzero_ps();
  float mins[kRows][kChains<kRows>] = {};  // sums of m_w * s_a, split to shorten add chains
  const int64_t nb = n / kQK4_1;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i a = load256(y[i].qs);
    const float da = h2f(y[i].d);
    const float sa = h2f(y[i].s);
    for (int r = 0; r < kRows; ++r) {
      const auto* x = reinterpret_cast<const BlockQ4_1*>(w + r * stride) + i;
      const __m256 p = _mm256_cvtepi32_ps(dot_u8_s8(unpack_nibbles(x->qs), a));
      auto& c = acc[r][i % kChains<kRows>];
      c = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * da), p, c);
      mins[r][i % kChains<kRows>] += h2f(x->m) * sa;
    }
  }
  float min_sum[kRows] = {};
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kChains<kRows>; ++c) min_sum[r] += mins[r][c];
  }
  finish<kRows>(acc, min_sum, out);
}

// Q8_0 x Q8_0: maddubs needs one unsigned operand, so multiply |w| by a carrying w's sign.
template <int kRows>
void dot_q8_0_rows(int64_t n, const uint8_t* w, size_t stride, const BlockQ8_0* y, float* out) {
  __m256 acc[kRows][kChains<kRows>];
  for (auto& row : acc)
    for (auto& c : row) c = _mm256_setzero_ps();
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i a = load256(y[i].qs);
    const float da = h2f(y[i].d);
    for (int r = 0; r < kRows; ++r) {
      const auto* x = reinterpret_cast<const BlockQ8_0*>(w + r * stride) + i;
      const __m256i q = load256(x->qs);
      const __m256 p =
          _mm256_cvtepi32_ps(dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q)));
      auto& c = acc[r][i % kChains<kRows>];
      c = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * da), p, c);
    }
  }
  const float zero[kRows] = {};
  finish<kRows>(acc, zero, out);
}

template <typename Act, void (*kRowsFn)(int64_t, const uint8_t*, size_t, const Act*, float*)>
float dot1(int64_t n, const void* w, const void* a) {
  float out;
  kRowsFn(n, static_cast<const uint8_t*>(w), 0, static_cast<const Act*>(a), &out);
  return out;
}

template <typename Act, void (*kRowsFn)(int64_t, const uint8_t*, size_t, const Act*, float*)>
void dot4(int64_t n, const void* w, size_t stride, const void* a, float* out4) {
  kRowsFn(n, static_cast<const uint8_t*>(w), stride, static_cast<const Act*>(a), out4);
}

// ---- K-quants ---------------------------------------------------------------------------------

float dot_q4_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.f;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) q4_k_scale_min(x[i].scales, j, &sc[j], &m[j]);
    int msum = 0;
    for (int j = 0; j < 8; ++j) msum += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    __m256i sumi = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i raw = load256(x[i].qs + 32 * g);
      const __m256i lo = _mm256_and_si256(raw, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      const __m256i p_lo = _mm256_maddubs_epi16(lo, load256(y[i].qs + 64 * g));
      const __m256i p_hi = _mm256_maddubs_epi16(hi, load256(y[i].qs + 64 * g + 32));
      sumi = _mm256_add_epi32(
          sumi, _mm256_madd_epi16(p_lo, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * g]))));
      sumi = _mm256_add_epi32(
          sumi, _mm256_madd_epi16(p_hi, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * g + 1]))));
    }
    const float d = h2f(x[i].d) * y[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    mins += h2f(x[i].dmin) * y[i].d * static_cast<float>(msum);
  }
  return hsum(acc) - mins;
}

// Q6_K: q in [0, 63] is unsigned, so dot(q - 32, a) = maddubs(q, a) - 32 * sum(a); the sums of
// a per 16 elements are the Q8_K bsums.
float dot_q6_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x30);
  // broadcasts dword p of the 16 i16 scales and spreads its two words over the two lanes
  const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,  //
                                          2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
    // sum_g sc_g * bsum_g, subtracted 32 times below
    const __m256i bias = _mm256_madd_epi16(sc16, load256(y[i].bsums));
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const __m256i qh = load256(x[i].qh + 32 * h);
      const __m256i ql0 = load256(ql);
      const __m256i ql1 = load256(ql + 32);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_and_si256(qh, m2));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
      for (int k = 0; k < 4; ++k) {
        const __m256i p16 = _mm256_maddubs_epi16(q[k], load256(y[i].qs + 128 * h + 32 * k));
        const int pair = 4 * h + k;  // scales 2*pair (first 16 elements) and 2*pair+1
        const __m256i s =
            _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(pair)), spread);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, s));
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(bias, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

}  // namespace

// Every type's tile is its vec_dot4 once per token (no register-blocked AVX2 kernels yet: the
// machines we tune for have AVX-512).
template <VecDotFn kDot, VecDot4Fn kDot4>
IsaKernels with_tile() {
  return {kDot, kDot4, vec_dot_tile_by_dot4<kDot4, 4>, 4, 4};
}

IsaKernels avx2_kernels(TensorType type) {
  switch (type) {
    case TensorType::kF32:
      return with_tile<dot_f32, vec_dot4_by_rows<dot_f32>>();
    case TensorType::kF16: {
      IsaKernels k = with_tile<dot_f16, vec_dot4_by_rows<dot_f16>>();
      k.quantize_act = quantize_act_f16;
      return k;
    }
    case TensorType::kBF16:
      return with_tile<dot_bf16, vec_dot4_by_rows<dot_bf16>>();
    case TensorType::kQ4_0: {
      IsaKernels k =
          with_tile<dot1<BlockQ8_0, dot_q4_0_rows<1>>, dot4<BlockQ8_0, dot_q4_0_rows<4>>>();
      k.quantize_act = quantize_act_q8_0;
      return k;
    }
    case TensorType::kQ4_1: {
      IsaKernels k =
          with_tile<dot1<BlockQ8_1, dot_q4_1_rows<1>>, dot4<BlockQ8_1, dot_q4_1_rows<4>>>();
      k.quantize_act = quantize_act_q8_1;
      return k;
    }
    case TensorType::kQ8_0: {
      IsaKernels k =
          with_tile<dot1<BlockQ8_0, dot_q8_0_rows<1>>, dot4<BlockQ8_0, dot_q8_0_rows<4>>>();
      k.quantize_act = quantize_act_q8_0;
      return k;
    }
    case TensorType::kQ4_K:
      return with_tile<dot_q4_k, vec_dot4_by_rows<dot_q4_k>>();
    case TensorType::kQ6_K:
      return with_tile<dot_q6_k, vec_dot4_by_rows<dot_q6_k>>();
    default:
      return {};
  }
}

}  // namespace r1::quant_internal
