// AVX-512 (F/BW/VL/VNNI/VBMI) dot products for the 32-element block formats in quant.h.
// Types without a kernel here (float types, K-quants) use the AVX2 ones.
//
// Zen 4 runs 512-bit operations as two 256-bit halves, so the integer work stays 256 bits wide
// (one block per vector) and uses AVX-512 for what it adds at that width: VNNI vpdpbusd (u8 x
// s8 summed in groups of 4 into i32 in one instruction), 32 vector registers and cross-lane
// 16-bit permutes. The per-block f16 scales are the costly part of these formats when done one
// by one; here the scales of 8 consecutive blocks are pulled out of the rows with two permutes
// and converted by one vcvtph2ps, for weights and activations alike.
//
// vpdpbusd wants an unsigned operand. Weights are made unsigned and the offset is undone with
// a per-activation-block correction computed once and shared by every row:
//   Q4_1: nibbles q in [0, 15] are unsigned already.
//   Q4_0: dot(q - 8, a) = dot(q, a) - 8 * sum(a).
//   Q8_0: dot(w, a) = dot(w ^ 0x80, a) - 128 * sum(a)  (w ^ 0x80 = w + 128 as unsigned).
#include <immintrin.h>

#include <array>
#include <cstring>

// GCC 12's own AVX-512 headers build _mm512_cvtph_ps/_mm512_reduce_add_ps from an
// "undefined" vector and then warn about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "kernels/cpu/quant.h"
#include "kernels/cpu/quant_impl.h"

namespace r1::quant_internal {
namespace {

inline float h2f(f16_t h) { return _cvtsh_ss(h); }
inline f16_t load_f16(const uint8_t* p) {
  f16_t h;
  std::memcpy(&h, p, sizeof(h));
  return h;
}
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- the f16 scale fields of 8 consecutive blocks ------------------------------------------------

// Permute indices that pick the 16-bit fields at byte offsets 0 (and 2 when kFields == 2) of
// blocks 0..7, kStride bytes apart, into word lanes k * kFields + f. Blocks 0..3 come from the
// 128 bytes at the group start, blocks 4..7 from the 128 bytes at 4 * kStride (or, when each
// half's fields fit in 64 bytes, from one 64-byte load per half).
template <int kStride, int kFields>
struct FieldPicker {
  static constexpr bool kOneLoadPerHalf = 3 * kStride + 2 * kFields <= 64;
  static_assert(kStride % 2 == 0 && 3 * kStride + 2 * kFields <= 128 && kStride >= 16);

  static constexpr std::array<int16_t, 32> indices(int half) {
    std::array<int16_t, 32> idx{};
    for (int k = 0; k < 8; ++k) {
      for (int f = 0; f < kFields; ++f) {
        const int in_half = ((k % 4) * kStride + 2 * f) / 2;  // word within its half's window
        int v;
        if (kOneLoadPerHalf) {
          v = k < 4 ? in_half : 32 + in_half;  // second permute source is half 1's load
        } else {
          v = (k < 4) == (half == 0) ? in_half : 0;  // lanes of the other half get blended away
        }
        idx[k * kFields + f] = static_cast<int16_t>(v);
      }
    }
    return idx;
  }
  alignas(64) static constexpr std::array<int16_t, 32> kIdx0 = indices(0);
  alignas(64) static constexpr std::array<int16_t, 32> kIdx1 = indices(1);

  // 8 * kFields f16 fields -> f32 lanes k * kFields + f (upper lanes undefined when
  // kFields == 1).
  static inline __m512 load(const uint8_t* p) {
    const __m512i idx0 = _mm512_load_si512(kIdx0.data());
    __m512i words;
    if constexpr (kOneLoadPerHalf) {
      words = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx0, _mm512_loadu_si512(p + 4 * kStride));
    } else {
      const __m512i idx1 = _mm512_load_si512(kIdx1.data());
      const __m512i t0 = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx0, _mm512_loadu_si512(p + 64));
      const __m512i t1 = _mm512_permutex2var_epi16(_mm512_loadu_si512(p + 4 * kStride), idx1,
                                                   _mm512_loadu_si512(p + 4 * kStride + 64));
      constexpr __mmask32 kHalf1 = ((1u << (8 * kFields)) - 1) & ~((1u << (4 * kFields)) - 1);
      words = _mm512_mask_blend_epi16(kHalf1, t0, t1);
    }
    return _mm512_cvtph_ps(_mm512_castsi512_si256(words));
  }
};

// ---- per-format block kernels ------------------------------------------------------------------

// 16 packed nibble bytes -> 32 bytes in [0, 15]: low nibbles, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// Activation block prepared once for all rows: its quants and the i32 lane correction that
// vpdpbusd starts from.
struct ActPrep {
  __m256i a;
  __m256i init;
};

struct Q4_1Kernel {
  static constexpr int kWStride = sizeof(BlockQ4_1), kAStride = sizeof(BlockQ8_1), kFields = 2;
  static ActPrep prep(const uint8_t* ab) { return {load256(ab + 4), _mm256_setzero_si256()}; }
  static __m256i weight(const uint8_t* wb) { return unpack_nibbles(wb + 4); }
};

struct Q4_0Kernel {
  static constexpr int kWStride = sizeof(BlockQ4_0), kAStride = sizeof(BlockQ8_0), kFields = 1;
  static ActPrep prep(const uint8_t* ab) {
    const __m256i a = load256(ab + 2);
    const __m256i sum8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), a);
    return {a, _mm256_sub_epi32(_mm256_setzero_si256(), sum8)};
  }
  static __m256i weight(const uint8_t* wb) { return unpack_nibbles(wb + 2); }
};

struct Q8_0Kernel {
  static constexpr int kWStride = sizeof(BlockQ8_0), kAStride = sizeof(BlockQ8_0), kFields = 1;
  static ActPrep prep(const uint8_t* ab) {
    const __m256i a = load256(ab + 2);
    const __m256i sum128 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(0x80)), a);
    return {a, _mm256_sub_epi32(_mm256_setzero_si256(), sum128)};
  }
  static __m256i weight(const uint8_t* wb) {
    return _mm256_xor_si256(load256(wb + 2), _mm256_set1_epi8(char(0x80)));
  }
};

// Integer dot of one prepared weight block with one prepared activation block: 8 i32 lanes.
inline __m256i dot_block(__m256i weight, const ActPrep& p) {
  return _mm256_dpbusd_epi32(p.init, weight, p.a);
}

// ---- driver: kRows weight rows against one activation row ---------------------------------------

template <int kRows>
constexpr int kChains = kRows == 1 ? 4 : 2;  // independent FMA chains per row

// vec_dot4 reads 4 rows side by side: 4 short streams, which this CPU's prefetchers serve at
// about half the bandwidth of one long stream (measured from DRAM: 10 vs 20 GB/s for 640-byte
// rows). So while computing rows [r, r + 4) the kernel prefetches into L2, front to back, the
// 4 rows a matmul reads two calls later: one sequential stream far enough ahead to cover DRAM
// latency (one call ahead, or an L1 hint, measured 30-40% slower for Q8_0). Past the last row
// this touches memory the kernel never reads; prefetches do not fault.
constexpr int kPrefetchCallsAhead = 2;

inline void prefetch_rows_ahead(const uint8_t* rows, int64_t group, int64_t groups, size_t stride) {
  const uint8_t* ahead = rows + kPrefetchCallsAhead * 4 * stride;
  // this group's share of the 4-row region, in 64-byte lines
  const size_t region = 4 * stride;
  const size_t begin = region * static_cast<size_t>(group) / static_cast<size_t>(groups);
  const size_t end = region * static_cast<size_t>(group + 1) / static_cast<size_t>(groups);
  for (size_t off = begin & ~size_t{63}; off < end; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T1);
  }
}

template <class K, int kRows>
void dot_rows(int64_t n, const uint8_t* w, size_t stride, const uint8_t* act, float* out) {
  constexpr int F = K::kFields;
  using WPick = FieldPicker<K::kWStride, F>;
  using APick = FieldPicker<K::kAStride, F>;
  __m256 acc[kRows][kChains<kRows>];
  __m512 min_acc[kRows];  // Q4_1: m_w * s_a products in the odd lanes
  float tail_min[kRows] = {};
  for (int r = 0; r < kRows; ++r) {
    for (auto& c : acc[r]) c = _mm256_setzero_ps();
    min_acc[r] = _mm512_setzero_ps();
  }
  alignas(64) float scales[kRows][16];  // lane k * F: d_w * d_a of block k in the group

  const int64_t nb = n / 32;
  int64_t i = 0;
  for (; i + 8 <= nb; i += 8) {
    const uint8_t* ag = act + i * K::kAStride;
    const __m512 af = APick::load(ag);
    if constexpr (kRows == 4) prefetch_rows_ahead(w, i / 8, nb / 8, stride);
    for (int r = 0; r < kRows; ++r) {
      const __m512 s = _mm512_mul_ps(WPick::load(w + r * stride + i * K::kWStride), af);
      if constexpr (F == 2) min_acc[r] = _mm512_mask_add_ps(min_acc[r], 0xAAAA, min_acc[r], s);
      _mm512_store_ps(scales[r], s);
    }
    for (int k = 0; k < 8; ++k) {
      const ActPrep p = K::prep(ag + k * K::kAStride);
      for (int r = 0; r < kRows; ++r) {
        const __m256i dp = dot_block(K::weight(w + r * stride + (i + k) * K::kWStride), p);
        auto& c = acc[r][k % kChains<kRows>];
        c = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(scales[r][k * F]), c);
      }
    }
  }
  for (; i < nb; ++i) {
    const uint8_t* ab = act + i * K::kAStride;
    const ActPrep p = K::prep(ab);
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* wb = w + r * stride + i * K::kWStride;
      const __m256i dp = dot_block(K::weight(wb), p);
      const float s = h2f(load_f16(wb)) * h2f(load_f16(ab));
      if constexpr (F == 2) tail_min[r] += h2f(load_f16(wb + 2)) * h2f(load_f16(ab + 2));
      auto& c = acc[r][i % kChains<kRows>];
      c = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(s), c);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    __m256 s = acc[r][0];
    for (int c = 1; c < kChains<kRows>; ++c) s = _mm256_add_ps(s, acc[r][c]);
    out[r] = hsum(s);
    if constexpr (F == 2) out[r] += _mm512_reduce_add_ps(min_acc[r]) + tail_min[r];
  }
}

template <class K>
float dot1(int64_t n, const void* w, const void* a) {
  float out;
  dot_rows<K, 1>(n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(a), &out);
  return out;
}

template <class K>
void dot4(int64_t n, const void* w, size_t stride, const void* a, float* out4) {
  dot_rows<K, 4>(n, static_cast<const uint8_t*>(w), stride, static_cast<const uint8_t*>(a), out4);
}

// ---- tiles: 4 weight rows x kTokens activation rows, all outputs in registers -----------------

// The sums of a0..a3 in lanes 0..3.
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m128 b0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
  const __m128 b1 = _mm_add_ps(_mm256_castps256_ps128(a1), _mm256_extractf128_ps(a1, 1));
  const __m128 b2 = _mm_add_ps(_mm256_castps256_ps128(a2), _mm256_extractf128_ps(a2, 1));
  const __m128 b3 = _mm_add_ps(_mm256_castps256_ps128(a3), _mm256_extractf128_ps(a3, 1));
  return _mm_hadd_ps(_mm_hadd_ps(b0, b1), _mm_hadd_ps(b2, b3));
}

inline __m256 fold512(__m512 a) {
  return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}

// Block formats: per block and per (row, token) one vpdpbusd, one convert and one FMA whose
// scale d_w * d_a comes from memory by embedded broadcast; the scale products of 8 blocks are
// formed by 16-lane multiplies (FieldPicker), weights are unpacked once per block and
// activations prepared once per block, for the whole tile. 16 ymm accumulators + 4 weights +
// the activation being used fit the 32 registers.
template <class K, int kTokens>
void dot_tile(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
              size_t act_stride, float* out, size_t out_stride) {
  constexpr int R = 4, T = kTokens, F = K::kFields;
  using WPick = FieldPicker<K::kWStride, F>;
  using APick = FieldPicker<K::kAStride, F>;
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* act = static_cast<const uint8_t*>(act_rows);
  __m256 acc[R][T];
  for (auto& row : acc)
    for (auto& c : row) c = _mm256_setzero_ps();
  // Scale products of a group of 8 blocks, double-buffered: group g + 1's are formed before
  // group g's blocks are computed, so the picks and multiplies overlap that work instead of
  // stalling the FMAs that wait for them.
  alignas(64) float scales[2][R][T][16];  // lane k * F: d_w * d_a of block k of a group
  alignas(64) float min_lanes[R][T][F == 2 ? 16 : 1];  // Q4_1: m_w * s_a sums in the odd lanes
  float tail_min[R][T] = {};
  if constexpr (F == 2) std::memset(min_lanes, 0, sizeof(min_lanes));
  auto group_scales = [&](int64_t i, float(*out)[T][16]) {
    __m512 w_scale[R];
    for (int r = 0; r < R; ++r) w_scale[r] = WPick::load(w + r * w_stride + i * K::kWStride);
    for (int t = 0; t < T; ++t) {
      const __m512 a_scale = APick::load(act + t * act_stride + i * K::kAStride);
      for (int r = 0; r < R; ++r) {
        const __m512 s = _mm512_mul_ps(w_scale[r], a_scale);
        _mm512_store_ps(out[r][t], s);
        if constexpr (F == 2) {
          const __m512 m = _mm512_load_ps(min_lanes[r][t]);
          _mm512_store_ps(min_lanes[r][t], _mm512_mask_add_ps(m, 0xAAAA, m, s));
        }
      }
    }
  };

  const int64_t nb = n / 32;
  const int64_t n_groups = nb / 8;
  if (n_groups > 0) group_scales(0, scales[0]);
  for (int64_t g = 0; g < n_groups; ++g) {
    if (g + 1 < n_groups) group_scales(8 * (g + 1), scales[(g + 1) % 2]);
    const float(*sc)[T][16] = scales[g % 2];
    const int64_t i = 8 * g;
    for (int k = 0; k < 8; ++k) {
      __m256i wq[R];
      for (int r = 0; r < R; ++r) wq[r] = K::weight(w + r * w_stride + (i + k) * K::kWStride);
      for (int t = 0; t < T; ++t) {
        const ActPrep p = K::prep(act + t * act_stride + (i + k) * K::kAStride);
        for (int r = 0; r < R; ++r) {
          const __m256 dp = _mm256_cvtepi32_ps(dot_block(wq[r], p));
          acc[r][t] = _mm256_fmadd_ps(dp, _mm256_set1_ps(sc[r][t][k * F]), acc[r][t]);
        }
      }
    }
  }
  int64_t i = 8 * n_groups;
  for (; i < nb; ++i) {
    __m256i wq[R];
    float d_w[R], m_w[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* wb = w + r * w_stride + i * K::kWStride;
      wq[r] = K::weight(wb);
      d_w[r] = h2f(load_f16(wb));
      m_w[r] = F == 2 ? h2f(load_f16(wb + 2)) : 0.f;
    }
    for (int t = 0; t < T; ++t) {
      const uint8_t* ab = act + t * act_stride + i * K::kAStride;
      const ActPrep p = K::prep(ab);
      const float d_a = h2f(load_f16(ab));
      for (int r = 0; r < R; ++r) {
        const __m256 dp = _mm256_cvtepi32_ps(dot_block(wq[r], p));
        acc[r][t] = _mm256_fmadd_ps(dp, _mm256_set1_ps(d_w[r] * d_a), acc[r][t]);
        if constexpr (F == 2) tail_min[r][t] += m_w[r] * h2f(load_f16(ab + 2));
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    __m128 sum = hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
    if constexpr (F == 2) {
      float mins[R];
      for (int r = 0; r < R; ++r)
        mins[r] = _mm512_reduce_add_ps(_mm512_load_ps(min_lanes[r][t])) + tail_min[r][t];
      sum = _mm_add_ps(sum, _mm_loadu_ps(mins));
    }
    _mm_storeu_ps(out + t * out_stride, sum);
  }
}

// Float types, 16 elements per step: elements of both operands are widened to f32 (exactly)
// and multiplied-added in f32, as vec_dot does. 4 x kTokens zmm accumulators.
// kTileTokens, measured on Zen 4 (bench suite of quant_test): f32 and bf16 take 6 tokens (24
// zmm accumulators), which spreads each weight vector's load or widening over more FMAs; f16
// runs best at 4, where its vcvtph2ps work and the FMAs balance.
struct F32Elems {
  static constexpr int kBytes = 4, kTileTokens = 6;
  static __m512 load(const uint8_t* p) { return _mm512_loadu_ps(p); }
  static __m512 load_part(const uint8_t* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct F16Elems {
  static constexpr int kBytes = 2, kTileTokens = 4;
  static __m512 load(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 load_part(const uint8_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};
struct BF16Elems {  // bf16 -> f32 is a 16-bit left shift of the bits
  static constexpr int kBytes = 2, kTileTokens = 6;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 load(const uint8_t* p) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 load_part(const uint8_t* p, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, p));
  }
};

template <class E, int kTokens>
void float_tile(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
                size_t act_stride, float* out, size_t out_stride) {
  constexpr int R = 4, T = kTokens;
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* act = static_cast<const uint8_t*>(act_rows);
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& c : row) c = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = E::load(w + r * w_stride + i * E::kBytes);
    for (int t = 0; t < T; ++t) {
      const __m512 av = E::load(act + t * act_stride + i * E::kBytes);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
    }
  }
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = E::load_part(w + r * w_stride + i * E::kBytes, m);
    for (int t = 0; t < T; ++t) {
      const __m512 av = E::load_part(act + t * act_stride + i * E::kBytes, m);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    _mm_storeu_ps(out + t * out_stride, hsum4(fold512(acc[0][t]), fold512(acc[1][t]),
                                              fold512(acc[2][t]), fold512(acc[3][t])));
  }
}

// Tokens per tile for the block formats: 16 ymm accumulators.
constexpr int kQuantTileTokens = 4;

template <class K>
IsaKernels quant_kernels() {
  return {dot1<K>, dot4<K>, dot_tile<K, kQuantTileTokens>, 4, kQuantTileTokens};
}

template <class E>
IsaKernels float_kernels() {
  return {nullptr, nullptr, float_tile<E, E::kTileTokens>, 4, E::kTileTokens};
}

}  // namespace

IsaKernels avx512_kernels(TensorType type) {
  switch (type) {
    case TensorType::kF32:
      return float_kernels<F32Elems>();
    case TensorType::kF16:
      return float_kernels<F16Elems>();
    case TensorType::kBF16:
      return float_kernels<BF16Elems>();
    case TensorType::kQ4_0:
      return quant_kernels<Q4_0Kernel>();
    case TensorType::kQ4_1:
      return quant_kernels<Q4_1Kernel>();
    case TensorType::kQ8_0:
      return quant_kernels<Q8_0Kernel>();
    default: return {};
  }
}

}  // namespace r1::quant_internal
