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
  static __m256i dot(const uint8_t* wb, const ActPrep& p) {
    return _mm256_dpbusd_epi32(p.init, unpack_nibbles(wb + 4), p.a);
  }
};

struct Q4_0Kernel {
  static constexpr int kWStride = sizeof(BlockQ4_0), kAStride = sizeof(BlockQ8_0), kFields = 1;
  static ActPrep prep(const uint8_t* ab) {
    const __m256i a = load256(ab + 2);
    const __m256i sum8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), a);
    return {a, _mm256_sub_epi32(_mm256_setzero_si256(), sum8)};
  }
  static __m256i dot(const uint8_t* wb, const ActPrep& p) {
    return _mm256_dpbusd_epi32(p.init, unpack_nibbles(wb + 2), p.a);
  }
};

struct Q8_0Kernel {
  static constexpr int kWStride = sizeof(BlockQ8_0), kAStride = sizeof(BlockQ8_0), kFields = 1;
  static ActPrep prep(const uint8_t* ab) {
    const __m256i a = load256(ab + 2);
    const __m256i sum128 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(0x80)), a);
    return {a, _mm256_sub_epi32(_mm256_setzero_si256(), sum128)};
  }
  static __m256i dot(const uint8_t* wb, const ActPrep& p) {
    const __m256i u = _mm256_xor_si256(load256(wb + 2), _mm256_set1_epi8(char(0x80)));
    return _mm256_dpbusd_epi32(p.init, u, p.a);
  }
};

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
        const __m256i dp = K::dot(w + r * stride + (i + k) * K::kWStride, p);
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
      const __m256i dp = K::dot(wb, p);
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

}  // namespace

IsaKernels avx512_kernels(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0: return {dot1<Q4_0Kernel>, dot4<Q4_0Kernel>};
    case TensorType::kQ4_1: return {dot1<Q4_1Kernel>, dot4<Q4_1Kernel>};
    case TensorType::kQ8_0: return {dot1<Q8_0Kernel>, dot4<Q8_0Kernel>};
    default: return {};
  }
}

}  // namespace r1::quant_internal
