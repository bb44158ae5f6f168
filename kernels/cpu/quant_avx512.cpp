// AVX-512 (F/BW/VL/VNNI/VBMI) dot products for the 32-element block formats in quant.h, and
// prefill tiles for those, the float types and the K-quants (Q4_K, Q6_K). Where a type has no
// kernel here (vec_dot of the float types and K-quants) the AVX2 one runs.
//
// Zen 4 runs 512-bit operations as two 256-bit halves, so the integer work mostly stays 256 bits
// wide (one block per vector; the Q8_0 decode kernel is the exception, see there) and uses
// AVX-512 for what it adds at that width: VNNI vpdpbusd (u8 x s8 summed in groups of 4 into
// i32 in one instruction), 32 vector registers and cross-lane 16-bit permutes. The per-block
// f16 scales are the costly part of these formats when done one by one; here the scales of 8
// consecutive blocks are pulled out of the rows with two permutes and converted by one
// vcvtph2ps, for weights and activations alike.
//
// vpdpbusd wants an unsigned operand. Weights are made unsigned and the offset is undone with
// a per-activation-block correction computed once and shared by every row:
//   Q4_1: nibbles q in [0, 15] are unsigned already.
//   Q4_0: dot(q - 8, a) = dot(q, a) - 8 * sum(a).
//   Q8_0: dot(w, a) = dot(w ^ 0x80, a) - 128 * sum(a)  (w ^ 0x80 = w + 128 as unsigned).
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstring>

// GCC 12's own AVX-512 headers build _mm512_cvtph_ps/_mm512_reduce_add_ps from an
// "undefined" vector and then warn about it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "kernels/cpu/quant.h"
#include "kernels/cpu/quant_impl.h"

namespace r1::quant_internal {
namespace {

inline float h2f(f16_t h) {
  return _cvtsh_ss(h);
}
inline f16_t load_f16(const uint8_t* p) {
  f16_t h;
  std::memcpy(&h, p, sizeof(h));
  return h;
}
inline __m256i load256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- the f16 scale fields of 8 consecutive blocks
// ------------------------------------------------

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
      words = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx0,
                                        _mm512_loadu_si512(p + 4 * kStride));
    } else {
      const __m512i idx1 = _mm512_load_si512(kIdx1.data());
      const __m512i t0 =
          _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx0, _mm512_loadu_si512(p + 64));
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
  const __m256i both =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)),
                          _mm256_set1_epi8(0x0F));
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
    const __m256i sum128 =
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(0x80)), a);
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
// The Q8_0 kernel below gets through its rows faster: three calls ahead measured best for it
// (SmolLM2-135M Q8_0 decode, 2 threads).
constexpr int kQ8_0PrefetchCallsAhead = 3;

template <int kCallsAhead = kPrefetchCallsAhead>
inline void prefetch_rows_ahead(const uint8_t* rows, int64_t group, int64_t groups, size_t stride) {
  const uint8_t* ahead = rows + kCallsAhead * 4 * stride;
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

// ---- Q8_0 decode: two blocks per 512-bit vector ----------------------------------------------

// Q8_0 rows are the densest block format here (34 bytes per 32 weights), so the generic driver's
// per-block work (one ymm vpdpbusd, convert, broadcast and FMA per block and row) cannot keep up
// with DRAM. This kernel works on pairs of blocks: the quants of blocks 2j and 2j + 1 fill the
// two halves of one zmm, so per pair and row it runs one xor, one vpdpbusd, one convert, one
// permute (the pair's two scales, each over its 8 lanes) and one FMA, all on registers: the
// loops are fully unrolled so the accumulators never leave them. The activation pair and its
// -128 * sum(a) correction are formed once per pair for all rows.
alignas(64) constexpr std::array<std::array<int32_t, 16>, 4> kQ8PairScale = [] {
  std::array<std::array<int32_t, 16>, 4> idx{};
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 16; ++l) idx[j][l] = 2 * j + l / 8;  // lane l: block 2j + l / 8
  return idx;
}();

// The 64 quant bytes of blocks b and b + 1 (b points at block b).
inline __m512i load_q8_0_pair(const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load256(b + 2)),
                            load256(b + sizeof(BlockQ8_0) + 2), 1);
}

template <int kRows>
void q8_0_dot_rows(int64_t n, const uint8_t* w, size_t stride, const uint8_t* act, float* out) {
  constexpr int kBlock = sizeof(BlockQ8_0);
  constexpr int kPairChains = kRows == 1 ? 4 : 2;  // independent FMA chains per row
  using Pick = FieldPicker<kBlock, 1>;
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[kRows][kPairChains];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < kPairChains; ++c) acc[r][c] = _mm512_setzero_ps();

  // scale[r] lanes 0..7: d_w * d_a of blocks i..i+7 of row r
  auto group_scales = [&](int64_t i, __m512(&scale)[kRows]) {
    const __m512 d_a = Pick::load(act + i * kBlock);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r)
      scale[r] = _mm512_mul_ps(Pick::load(w + r * stride + i * kBlock), d_a);
  };
  // blocks i + 2j and i + 2j + 1 of every row into chain c
  auto pair = [&](int64_t i, int j, const __m512(&scale)[kRows], int c) {
    const __m512i a = load_q8_0_pair(act + (i + 2 * j) * kBlock);
    const __m512i init = _mm512_sub_epi32(_mm512_setzero_si512(),
                                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a));
    const __m512i pick = _mm512_load_si512(kQ8PairScale[j].data());
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512i wq =
          _mm512_xor_si512(load_q8_0_pair(w + r * stride + (i + 2 * j) * kBlock), bias);
      const __m512 dp = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init, wq, a));
      acc[r][c] = _mm512_fmadd_ps(dp, _mm512_permutexvar_ps(pick, scale[r]), acc[r][c]);
    }
  };

  const int64_t nb = n / 32;
  int64_t i = 0;
  for (; i + 8 <= nb; i += 8) {
    if constexpr (kRows == 4)
      prefetch_rows_ahead<kQ8_0PrefetchCallsAhead>(w, i / 8, nb / 8, stride);
    __m512 scale[kRows];
    group_scales(i, scale);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) pair(i, j, scale, j % kPairChains);
  }
  if (i < nb && nb >= 8) {
    // The last nb - i < 8 blocks: the group of 8 that ends the row, whose loads stay inside it,
    // with the scales of the blocks already counted zeroed and their pairs skipped.
    const int first = static_cast<int>(8 - (nb - i));  // first block of the group still due
    const int64_t g = nb - 8;
    __m512 scale[kRows];
    group_scales(g, scale);
    const __mmask16 due = static_cast<__mmask16>(0xFF << first);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) scale[r] = _mm512_maskz_mov_ps(due, scale[r]);
    for (int j = first / 2; j < 4; ++j) pair(g, j, scale, 0);
  } else {
    // rows shorter than 8 blocks: one block per ymm, into the low half of chain 0
    for (; i < nb; ++i) {
      const uint8_t* ab = act + i * kBlock;
      const __m256i a = load256(ab + 2);
      const __m256i init = _mm256_sub_epi32(
          _mm256_setzero_si256(),
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm512_castsi512_si256(bias), a));
      const float d_a = h2f(load_f16(ab));
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* wb = w + r * stride + i * kBlock;
        const __m256i wq = _mm256_xor_si256(load256(wb + 2), _mm512_castsi512_si256(bias));
        const __m512 dp =
            _mm512_zextps256_ps512(_mm256_cvtepi32_ps(_mm256_dpbusd_epi32(init, wq, a)));
        acc[r][0] = _mm512_fmadd_ps(dp, _mm512_set1_ps(h2f(load_f16(wb)) * d_a), acc[r][0]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    __m512 s = acc[r][0];
    for (int c = 1; c < kPairChains; ++c) s = _mm512_add_ps(s, acc[r][c]);
    out[r] = _mm512_reduce_add_ps(s);
  }
}

float q8_0_dot1(int64_t n, const void* w, const void* a) {
  float out;
  q8_0_dot_rows<1>(n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(a), &out);
  return out;
}

void q8_0_dot4(int64_t n, const void* w, size_t stride, const void* a, float* out4) {
  q8_0_dot_rows<4>(n, static_cast<const uint8_t*>(w), stride, static_cast<const uint8_t*>(a), out4);
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

// ---- K-quant tiles: 4 Q4_K / Q6_K weight rows x kTokens Q8_K activation rows
// ---------------------

// K-quant sub-blocks (32 elements for Q4_K, 16 for Q6_K) each carry their own integer scale, so
// a vpdpbusd chain cannot run across them: per (row, token) pair and super-block, 4 vpdpbusd
// (one per 64 elements) feed 2 vpdpwssd that apply the sub-block scales, the i32 result is
// converted once and scaled by d_w * d_a in one FMA (k_quant_block_dot). Weights are unpacked,
// and their scale vectors built, once per row for all tokens; activations need no unpacking,
// since the 64-byte weight vectors below line up with 64 consecutive Q8_K quants. The integer
// lanes and the f32 order are the AVX2 vec_dot's, so prefill and decode give the same numbers.

alignas(64) constexpr int64_t kNibbleShift[8] = {0, 0, 0, 0, 4, 4, 4, 4};

// Word permutes that spread 8 (Q4_K) or 16 (Q6_K) i16 sub-block scales over the i16 lanes of
// the interleaved dots of groups 2m and 2m + 1 (k_quant_block_dot): word 2l holds i32 lane l of
// group 2m's vpdpbusd, word 2l + 1 lane l of group 2m + 1's; lane l of group g sums elements
// 64g + 4l .. 64g + 4l + 3.
template <int kSubBlock>
constexpr std::array<std::array<int16_t, 32>, 2> scale_spread() {
  std::array<std::array<int16_t, 32>, 2> idx{};
  for (int m = 0; m < 2; ++m) {
    for (int word = 0; word < 32; ++word) {
      const int group = 2 * m + word % 2, lane = word / 2;
      idx[m][word] = static_cast<int16_t>((64 * group + 4 * lane) / kSubBlock);
    }
  }
  return idx;
}
alignas(64) constexpr auto kQ4KScaleSpread = scale_spread<32>();
alignas(64) constexpr auto kQ6KScaleSpread = scale_spread<16>();

inline __m512i load512(const uint8_t* p) {
  return _mm512_loadu_si512(p);
}

// The 8 six-bit scales and 8 six-bit mins of a Q4_K super-block, one byte each (the
// q4_k_scale_min layout, 4 sub-blocks per 32-bit word).
inline void q4_k_unpack_scales(const uint8_t* packed, uint64_t* scales8, uint64_t* mins8) {
  uint32_t u[3];
  std::memcpy(u, packed, sizeof(u));
  const uint32_t sc_lo = u[0] & 0x3F3F3F3Fu;
  const uint32_t m_lo = u[1] & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (u[2] & 0x0F0F0F0Fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u[2] >> 4) & 0x0F0F0F0Fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  *scales8 = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
  *mins8 = m_lo | (static_cast<uint64_t>(m_hi) << 32);
}

// One (row, token) pair of a super-block: the integer sums the AVX2 vec_dot of these types forms,
// lane for lane (i32 lane l sums elements 32c + 4l .. 32c + 4l + 3 of every 32-element chunk c,
// times their scales, plus `init`'s lane l), so that the f32 results match vec_dot bit for bit.
// vpdpbusd sums 4 products per i32 lane (4 elements of one sub-block; |sum| <= 4 * 63 * 128
// fits i16); the lanes of two groups are interleaved as i16 words and one vpdpwssd multiplies
// them by their sub-block scales: 6 multiplies per 256 elements instead of 8 with vpmaddubsw +
// vpdpwssd. Lane l + 8 of a group is chunk 2g + 1's lane l, folded at the end.
inline __m256i k_quant_block_dot(const __m512i (&wq)[4], const __m512i (&scale)[2],
                                 const uint8_t* a_qs, __m512i init) {
  __m512i s = init;
  for (int m = 0; m < 2; ++m) {
    const __m512i d0 =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[2 * m], load512(a_qs + 128 * m));
    const __m512i d1 =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[2 * m + 1], load512(a_qs + 128 * m + 64));
    const __m512i both = _mm512_mask_blend_epi16(0xAAAAAAAAu, d0, _mm512_slli_epi32(d1, 16));
    s = _mm512_dpwssd_epi32(s, both, scale[m]);
  }
  return _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
}

constexpr size_t kQ8KQs = offsetof(BlockQ8_K, qs), kQ8KBsums = offsetof(BlockQ8_K, bsums);

// Q4_K: x = d * sc_j * q - dmin * m_j with q in [0, 15] (unsigned as vpmaddubsw wants). The min
// term, dmin * d_a * sum_j m_j * (bsum_2j + bsum_2j+1), is formed for the whole 4 x 4 tile at
// once: i32 lane 4r + t of one vector per super-block, from 4 vpdpwssd over the pairs of
// sub-blocks.
template <int kTokens>
void q4_k_tile(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
               size_t act_stride, float* out, size_t out_stride) {
  constexpr int R = 4, T = kTokens;
  static_assert(T == 4, "the min term packs 4 x 4 (token, row) pairs into one vector");
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* act = static_cast<const uint8_t*>(act_rows);
  __m256 acc[R][T];  // 8 lanes, as the AVX2 vec_dot's
  for (auto& row : acc)
    for (auto& c : row) c = _mm256_setzero_ps();
  __m512 min_acc = _mm512_setzero_ps();  // lane 4r + t: sum over super-blocks of dmin*d_a*msum
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i nibble_shift = _mm512_load_si512(kNibbleShift);
  // lane 4r + t <- dword 4t + k of the bsum pairs (pair k of token t's)
  const __m512i pick_token = _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    alignas(64) float dd[R][T];      // d_w * d_a
    alignas(64) float dmin_d[R][T];  // dmin_w * d_a
    alignas(32) uint64_t mins8[R];   // row r's 8 mins, one byte each
    uint64_t scales8[R];
    alignas(16) float d_a[T];
    for (int t = 0; t < T; ++t)
      std::memcpy(&d_a[t], act + t * act_stride + i * sizeof(BlockQ8_K), 4);
    const __m128 d_a4 = _mm_load_ps(d_a);
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * w_stride + i * sizeof(BlockQ4_K);
      q4_k_unpack_scales(b + offsetof(BlockQ4_K, scales), &scales8[r], &mins8[r]);
      _mm_store_ps(dd[r], _mm_mul_ps(_mm_set1_ps(h2f(load_f16(b))), d_a4));
      _mm_store_ps(dmin_d[r], _mm_mul_ps(_mm_set1_ps(h2f(load_f16(b + 2))), d_a4));
    }
    {
      // words 8r + j: min j of row r; words 8t + j: bsum_2j + bsum_2j+1 of token t (|.| <= 4096)
      const __m512i mins =
          _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(mins8)));
      auto bsum_pairs = [&](int t0) {
        const uint8_t* b0 = act + t0 * act_stride + i * sizeof(BlockQ8_K) + kQ8KBsums;
        const uint8_t* b1 = b0 + act_stride;
        const __m512i bs = _mm512_inserti64x4(_mm512_castsi256_si512(load256(b0)), load256(b1), 1);
        return _mm512_cvtepi32_epi16(_mm512_madd_epi16(bs, _mm512_set1_epi16(1)));
      };
      const __m512i pairs =
          _mm512_inserti64x4(_mm512_castsi256_si512(bsum_pairs(0)), bsum_pairs(2), 1);
      __m512i msum = _mm512_setzero_si512();
      // The shuffle control must be a compile-time constant for every compiler: spell out k.
      auto min_term = [&](__m512i m_k, int k) {
        const __m512i b_k =
            _mm512_permutexvar_epi32(_mm512_add_epi32(pick_token, _mm512_set1_epi32(k)), pairs);
        msum = _mm512_dpwssd_epi32(msum, m_k, b_k);
      };
      min_term(_mm512_shuffle_epi32(mins, static_cast<_MM_PERM_ENUM>(0x00)), 0);
      min_term(_mm512_shuffle_epi32(mins, static_cast<_MM_PERM_ENUM>(0x55)), 1);
      min_term(_mm512_shuffle_epi32(mins, static_cast<_MM_PERM_ENUM>(0xAA)), 2);
      min_term(_mm512_shuffle_epi32(mins, static_cast<_MM_PERM_ENUM>(0xFF)), 3);
      min_acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_load_ps(&dmin_d[0][0]), min_acc);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* qs = w + r * w_stride + i * sizeof(BlockQ4_K) + offsetof(BlockQ4_K, qs);
      __m512i wq[4], scale[2];
      const __m512i sc16 = _mm512_zextsi256_si512(
          _mm256_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(scales8[r]))));
      for (int g = 0; g < 4; ++g) {
        // low nibbles (sub-block 2g) in the lower half, high nibbles (2g + 1) in the upper
        wq[g] = _mm512_and_si512(
            _mm512_srlv_epi64(_mm512_broadcast_i64x4(load256(qs + 32 * g)), nibble_shift), low4);
      }
      for (int m = 0; m < 2; ++m)
        scale[m] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ4KScaleSpread[m].data()), sc16);
      for (int t = 0; t < T; ++t) {
        const uint8_t* a_qs = act + t * act_stride + i * sizeof(BlockQ8_K) + kQ8KQs;
        const __m256i s = k_quant_block_dot(wq, scale, a_qs, _mm512_setzero_si512());
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dd[r][t]), _mm256_cvtepi32_ps(s), acc[r][t]);
      }
    }
  }
  alignas(64) float mins[R][T];
  _mm512_store_ps(&mins[0][0], min_acc);
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) out[t * out_stride + r] = hsum(acc[r][t]) - mins[r][t];
}

// Q6_K: q in [0, 63] before the -32 offset is unsigned, so dot(q - 32, a) over a 16-element
// sub-block is maddubs(q, a) - 32 * bsum; the correction sum_j sc_j * (-32 * bsum_j) is added
// to the folded i32 sums (one vpdpwssd on the 16 bsums of two tokens).
//
// Tokens go in pairs: the unfolded i32 sums of tokens t and t + 1 fold into one zmm
// ([t's 8 lanes | t + 1's 8 lanes]), converted and scaled by one FMA into a paired accumulator;
// the lanes and the f32 order per token stay the AVX2 vec_dot's.
template <int kTokens>
void q6_k_tile(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
               size_t act_stride, float* out, size_t out_stride) {
  constexpr int R = 4, T = kTokens, P = kTokens / 2;
  static_assert(T % 2 == 0, "tokens go in pairs");
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* act = static_cast<const uint8_t*>(act_rows);
  __m512 acc[R][P];  // [token 2p's 8 lanes | token 2p + 1's], as the AVX2 vec_dot's
  for (auto& row : acc)
    for (auto& c : row) c = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i qh_fields = _mm512_set1_epi8(0x33);
  // qh bits 0-1 and 4-5 (lower half) / 2-3 and 6-7 (upper half) to bits 0-1 and 4-5
  const __m512i qh_shift = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    alignas(64) float d_a[P][16];  // token 2p's d in lanes 0-7, 2p + 1's in lanes 8-15
    for (int p = 0; p < P; ++p) {
      for (int k = 0; k < 2; ++k) {
        float d;
        std::memcpy(&d, act + (2 * p + k) * act_stride + i * sizeof(BlockQ8_K), 4);
        for (int j = 0; j < 8; ++j) d_a[p][8 * k + j] = d;
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w + r * w_stride + i * sizeof(BlockQ6_K);
      const __m256i sc16 = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + offsetof(BlockQ6_K, scales))));
      const __m256i offset_scale = _mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32));
      const __m512i offset_scale2 =
          _mm512_inserti64x4(_mm512_castsi256_si512(offset_scale), offset_scale, 1);
      __m512i wq[4], scale[2];
      for (int m = 0; m < 2; ++m)
        scale[m] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ6KScaleSpread[m].data()),
                                            _mm512_zextsi256_si512(sc16));
      for (int h = 0; h < 2; ++h) {
        // group 2h: elements 128h + [0, 64) from the low nibbles, 2h + 1: [64, 128) from the high
        const __m512i ql = load512(b + offsetof(BlockQ6_K, ql) + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(load256(b + offsetof(BlockQ6_K, qh) + 32 * h));
        // bits 0-1: group 2h's high bits, 4-5: group 2h + 1's; the rest zero
        const __m512i fields = _mm512_and_si512(_mm512_srlv_epi64(qh, qh_shift), qh_fields);
        // 0xCA: low4 ? first : second (bits 0-3 from the nibble, 4-7 from the fields)
        wq[2 * h] = _mm512_ternarylogic_epi32(low4, ql, _mm512_slli_epi16(fields, 4), 0xCA);
        wq[2 * h + 1] = _mm512_ternarylogic_epi32(low4, _mm512_srli_epi16(ql, 4), fields, 0xCA);
      }
      const __m512 d = _mm512_set1_ps(h2f(load_f16(b + offsetof(BlockQ6_K, d))));
      for (int p = 0; p < P; ++p) {
        __m512i s[2];
        for (int k = 0; k < 2; ++k) {
          const uint8_t* a_qs = act + (2 * p + k) * act_stride + i * sizeof(BlockQ8_K) + kQ8KQs;
          __m512i sk = _mm512_setzero_si512();
          for (int m = 0; m < 2; ++m) {
            const __m512i d0 =
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[2 * m], load512(a_qs + 128 * m));
            const __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[2 * m + 1],
                                                   load512(a_qs + 128 * m + 64));
            const __m512i both =
                _mm512_mask_blend_epi16(0xAAAAAAAAu, d0, _mm512_slli_epi32(d1, 16));
            sk = _mm512_dpwssd_epi32(sk, both, scale[m]);
          }
          s[k] = sk;
        }
        const uint8_t* ab0 = act + 2 * p * act_stride + i * sizeof(BlockQ8_K) + kQ8KBsums;
        const __m512i bsums =
            _mm512_inserti64x4(_mm512_castsi256_si512(load256(ab0)), load256(ab0 + act_stride), 1);
        // lane l (l + 8): lane l + lane l + 8 of token 2p's (2p + 1's) sums
        const __m512i folded = _mm512_add_epi32(_mm512_shuffle_i64x2(s[0], s[1], 0x44),
                                                _mm512_shuffle_i64x2(s[0], s[1], 0xEE));
        const __m512i sum = _mm512_dpwssd_epi32(folded, offset_scale2, bsums);
        acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_load_ps(d_a[p])),
                                    _mm512_cvtepi32_ps(sum), acc[r][p]);
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    for (int r = 0; r < R; ++r) {
      out[2 * p * out_stride + r] = hsum(_mm512_castps512_ps256(acc[r][p]));
      out[(2 * p + 1) * out_stride + r] = hsum(_mm512_extractf32x8_ps(acc[r][p], 1));
    }
  }
}

// Tokens per Q6_K tile: 4 rows x 8 tokens in 16 paired zmm accumulators, so each row's 6-bit
// unpack serves 8 tokens.
constexpr int kQ6KTileTokens = 8;

// Tokens per tile for the block formats: 16 ymm accumulators.
constexpr int kQuantTileTokens = 4;

// Tokens per K-quant tile: 16 zmm accumulators, 4 weight and 4 scale vectors per row.
constexpr int kKQuantTileTokens = 4;

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
    case TensorType::kQ8_0: {
      IsaKernels k = quant_kernels<Q8_0Kernel>();
      k.vec_dot = q8_0_dot1;
      k.vec_dot4 = q8_0_dot4;
      return k;
    }
    case TensorType::kQ4_K:
      return {nullptr, nullptr, q4_k_tile<kKQuantTileTokens>, 4, kKQuantTileTokens};
    case TensorType::kQ6_K:
      return {nullptr, nullptr, q6_k_tile<kQ6KTileTokens>, 4, kQ6KTileTokens};
    default:
      return {};
  }
}

}  // namespace r1::quant_internal
