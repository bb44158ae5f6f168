// Scalar reference kernels for the block formats in quant.h, and the run-time dispatcher.
//
// Block formats (all little-endian, f16 = IEEE half):
//   Q4_0  (32 elements, 18 bytes): d f16 | qs[16]. x[j] = d * ((qs[j] & 15) - 8),
//         x[j + 16] = d * ((qs[j] >> 4) - 8).
//   Q4_1  (32, 20): d f16 | m f16 | qs[16]. Same nibble order, x = d * q + m.
//   Q8_0  (32, 34): d f16 | qs[32] int8. x = d * q.
//   Q8_1  (32, 36): d f16 | s f16 | qs[32] int8. x = d * q; s = d * sum(q) (activations only).
//   Q4_K  (256, 144): d f16 | dmin f16 | scales[12] | qs[128]. Sub-block j (32 elements) has a
//         6-bit scale sc_j and min m_j packed in scales[] (see q4_k_scale_min);
//         x = d * sc_j * q - dmin * m_j. Each 64 elements (sub-blocks 2g, 2g+1) use 32 bytes
//         qs[32g..32g+31]: low nibbles are sub-block 2g, high nibbles sub-block 2g+1.
//   Q6_K  (256, 210): ql[128] | qh[64] | scales[16] int8 | d f16. Per half h (128 elements,
//         ql += 64h, qh += 32h), for l < 32: element l uses ql[l] low nibble and qh[l] bits 0-1,
//         l+32: ql[l+32] low, bits 2-3; l+64: ql[l] high, bits 4-5; l+96: ql[l+32] high,
//         bits 6-7. q = (low4 | high2 << 4) - 32, x = d * scales[i / 16] * q (i in 0..255).
//   Q8_K  (256, 292): d f32 | qs[256] int8 | bsums[16] int16 (sum of each 16 qs). x = d * q.
#include "kernels/cpu/quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/quant_impl.h"

namespace r1 {

using quant_internal::q4_k_scale_min;

// ---- fp16 / bf16 ------------------------------------------------------------------------------

float f16_to_f32(f16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    // inf, or NaN made quiet (as F16C does)
    bits = sign | 0x7F800000u | (mant << 13) | (mant != 0 ? 0x400000u : 0u);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // subnormal half: normalize into an f32 normal
    int e = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

f16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  const uint32_t sign = (u >> 16) & 0x8000;
  const uint32_t exp = (u >> 23) & 0xFF;
  const uint32_t mant = u & 0x7FFFFF;
  if (exp == 0xFF) {
    // NaN keeps its top payload bits and becomes quiet (as F16C does)
    return static_cast<f16_t>(sign | 0x7C00 | (mant != 0 ? 0x200 | (mant >> 13) : 0));
  }
  const int e = static_cast<int>(exp) - 112;  // biased half exponent
  if (e >= 31) return static_cast<f16_t>(sign | 0x7C00);
  if (e <= 0) {
    // half subnormal (or zero): value = m >> shift in units of 2^-24, rounded to nearest even
    if (e < -10) return static_cast<f16_t>(sign);
    const uint32_t m = mant | 0x800000;
    const int shift = 14 - e;
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return static_cast<f16_t>(sign | r);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFF;
  // a carry out of the mantissa correctly bumps the exponent, up to inf
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return static_cast<f16_t>(h);
}

float bf16_to_f32(bf16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

bf16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7FFFFFFF) > 0x7F800000) return static_cast<bf16_t>((u >> 16) | 0x40);
  return static_cast<bf16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

namespace {

// Round to nearest, ties to even, for |x| < 2^22: ggml's nearest_int, bit for bit.
inline int nearest_int(float x) {
  const float v = x + 12582912.f;  // 1.5 * 2^23 pushes the fraction out of the mantissa
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007FFFFF) - 0x00400000;
}

inline float h2f(f16_t h) {
  return f16_to_f32(h);
}

// ---- dequantizers ------------------------------------------------------------------------------

void dequant_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_0) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = d * ((x[i].qs[j] & 0xF) - 8);
      y[j + 16] = d * ((x[i].qs[j] >> 4) - 8);
    }
  }
}

void dequant_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_1) {
    const float d = h2f(x[i].d);
    const float m = h2f(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = d * (x[i].qs[j] & 0xF) + m;
      y[j + 16] = d * (x[i].qs[j] >> 4) + m;
    }
  }
}

void dequant_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_0) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * x[i].qs[j];
  }
}

void dequant_q8_1(const BlockQ8_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK8_1) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < kQK8_1; ++j) y[j] = d * x[i].qs[j];
  }
}

void dequant_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const float dmin = h2f(x[i].dmin);
    for (int j = 0; j < 8; ++j, y += 32) {
      int sc, m;
      q4_k_scale_min(x[i].scales, j, &sc, &m);
      const float d1 = d * sc;
      const float m1 = dmin * m;
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = (j % 2) * 4;
      for (int l = 0; l < 32; ++l) y[l] = d1 * ((q[l] >> shift) & 0xF) - m1;
    }
  }
}

// q in [0, 63] (before the -32 offset) of element i (0..255) of a Q6_K block.
inline int q6_k_raw(const BlockQ6_K& b, int i) {
  const int h = i / 128;
  const int e = i % 128;
  const int l = e % 32;
  const int group = e / 32;  // 0..3
  const uint8_t* ql = b.ql + 64 * h;
  const uint8_t qh = b.qh[32 * h + l];
  const uint8_t low_byte = ql[l + 32 * (group & 1)];
  const int low = group < 2 ? (low_byte & 0xF) : (low_byte >> 4);
  const int high = (qh >> (2 * group)) & 3;
  return low | (high << 4);
}

void dequant_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    const float d = h2f(x[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      y[e] = d * x[i].scales[e / 16] * (q6_k_raw(x[i], e) - 32);
    }
  }
}

void dequant_q8_k(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK_K) {
    for (int e = 0; e < kQK_K; ++e) y[e] = x[i].d * x[i].qs[e];
  }
}

}  // namespace

bool dequantize_row_ref(TensorType type, const void* src, float* dst, int64_t n) {
  const int64_t bs = tensor_type_traits(type).block_size;
  if (bs == 0 || n < 0 || n % bs != 0) return false;
  const int64_t nb = n / bs;
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case TensorType::kF16: {
      const auto* h = static_cast<const f16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
      return true;
    }
    case TensorType::kBF16: {
      const auto* h = static_cast<const bf16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return true;
    }
    case TensorType::kQ4_0:
      dequant_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
      return true;
    case TensorType::kQ4_1:
      dequant_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb);
      return true;
    case TensorType::kQ8_0:
      dequant_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
      return true;
    case TensorType::kQ8_1:
      dequant_q8_1(static_cast<const BlockQ8_1*>(src), dst, nb);
      return true;
    case TensorType::kQ4_K:
      dequant_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb);
      return true;
    case TensorType::kQ6_K:
      dequant_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb);
      return true;
    case TensorType::kQ8_K:
      dequant_q8_k(static_cast<const BlockQ8_K*>(src), dst, nb);
      return true;
    default:
      return false;
  }
}

// ---- quantizers -----------------------------------------------------------------------------

namespace {

// Quantizes 32 floats with amax/127 as llama.cpp's x86 quantize_row_q8_0/q8_1 do: multiply by
// 127/amax (not 1/d) and round half to even. Returns d (f32, before f16 rounding) and the sum
// of the quants.
inline float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
  float amax = 0.f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  int s = 0;
  for (int j = 0; j < 32; ++j) {
    const int q = nearest_int(x[j] * id);
    qs[j] = static_cast<int8_t>(q);
    s += q;
  }
  *sum = s;
  return d;
}

}  // namespace

bool quantize_row_ref(TensorType type, const float* src, void* dst, int64_t n) {
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case TensorType::kF16:
      for (int64_t i = 0; i < n; ++i) static_cast<f16_t*>(dst)[i] = f32_to_f16(src[i]);
      return true;
    case TensorType::kBF16:
      for (int64_t i = 0; i < n; ++i) static_cast<bf16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return true;
    case TensorType::kQ4_0:
      quantize_row_q4_0_ref(src, static_cast<BlockQ4_0*>(dst), n);
      return true;
    case TensorType::kQ4_1:
      quantize_row_q4_1_ref(src, static_cast<BlockQ4_1*>(dst), n);
      return true;
    case TensorType::kQ8_0:
      quantize_row_q8_0_ref(src, static_cast<BlockQ8_0*>(dst), n);
      return true;
    case TensorType::kQ8_1:
      quantize_row_q8_1_ref(src, static_cast<BlockQ8_1*>(dst), n);
      return true;
    case TensorType::kQ4_K:
      quantize_row_q4_k_ref(src, static_cast<BlockQ4_K*>(dst), n);
      return true;
    case TensorType::kQ6_K:
      quantize_row_q6_k_ref(src, static_cast<BlockQ6_K*>(dst), n);
      return true;
    case TensorType::kQ8_K:
      quantize_row_q8_k_ref(src, static_cast<BlockQ8_K*>(dst), n);
      return true;
    default:
      return false;
  }
}

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    int sum;
    y[i].d = f32_to_f16(quantize_block_q8(x, y[i].qs, &sum));
  }
}

void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_1; ++i, x += kQK8_1) {
    int sum;
    const float d = quantize_block_q8(x, y[i].qs, &sum);
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * static_cast<float>(sum));  // the f32 d, as ggml does
  }
}

void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0.f;  // the element of largest magnitude, sign kept
    float amax = 0.f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.f) {
      y[i].d = 0.f;
      std::memset(y[i].qs, 0, sizeof(y[i].qs));
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.f / iscale;
  }
}

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; ++i, x += kQK4_0) {
    float amax = 0.f, max = 0.f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    // the extreme value maps to -8, the one level without a positive twin
    const float d = max / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_1; ++i, x += kQK4_1) {
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK4_1; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((x[j + 16] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scale[8], min[8];  // per sub-block: x ~ scale * q - min, q in [0, 15]
    float max_scale = 0.f, max_min = 0.f;
    for (int j = 0; j < 8; ++j) {
      float lo = 0.f, hi = 0.f;  // the range always holds 0 so mins stay >= 0
      for (int l = 0; l < 32; ++l) {
        lo = std::min(lo, x[32 * j + l]);
        hi = std::max(hi, x[32 * j + l]);
      }
      scale[j] = (hi - lo) / 15.f;
      min[j] = -lo;
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    y[i].d = f32_to_f16(max_scale / 63.f);
    y[i].dmin = f32_to_f16(max_min / 63.f);
    const float d = h2f(y[i].d), dmin = h2f(y[i].dmin);
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
      // round the min up so that x + dmin * m stays >= 0 for the block's smallest element
      sc[j] = d > 0.f ? std::clamp(nearest_int(scale[j] / d), 0, 63) : 0;
      m[j] = dmin > 0.f ? std::clamp(static_cast<int>(std::ceil(min[j] / dmin)), 0, 63) : 0;
    }
    for (int j = 0; j < 4; ++j) {
      y[i].scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
      y[i].scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
      y[i].scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
    std::memset(y[i].qs, 0, sizeof(y[i].qs));
    for (int j = 0; j < 8; ++j) {
      const float d1 = d * sc[j];
      const float m1 = dmin * m[j];
      for (int l = 0; l < 32; ++l) {
        const int q = d1 > 0.f ? std::clamp(nearest_int((x[32 * j + l] + m1) / d1), 0, 15) : 0;
        y[i].qs[32 * (j / 2) + l] |= static_cast<uint8_t>(q << (4 * (j % 2)));
      }
    }
  }
}

void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scale[16];  // per 16 elements: the extreme maps to -32
    float max_scale = 0.f, amax_scale = 0.f;
    for (int g = 0; g < 16; ++g) {
      float amax = 0.f, max = 0.f;
      for (int l = 0; l < 16; ++l) {
        if (std::fabs(x[16 * g + l]) > amax) {
          amax = std::fabs(x[16 * g + l]);
          max = x[16 * g + l];
        }
      }
      scale[g] = max / -32.f;
      if (std::fabs(scale[g]) > amax_scale) {
        amax_scale = std::fabs(scale[g]);
        max_scale = scale[g];
      }
    }
    const float d_f32 = max_scale / -128.f;
    y[i].d = f32_to_f16(d_f32);
    const float d = h2f(y[i].d);
    uint8_t q[kQK_K];  // q + 32, in [0, 63]
    for (int g = 0; g < 16; ++g) {
      const int sc = d != 0.f ? std::clamp(nearest_int(scale[g] / d), -128, 127) : 0;
      y[i].scales[g] = static_cast<int8_t>(sc);
      const float dl = d * sc;
      for (int l = 0; l < 16; ++l) {
        const int v = dl != 0.f ? std::clamp(nearest_int(x[16 * g + l] / dl), -32, 31) : 0;
        q[16 * g + l] = static_cast<uint8_t>(v + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const uint8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                     ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
      }
    }
  }
}

// ---- scalar reference dot products -----------------------------------------------------------

namespace {

float dot_f32_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

float dot_f16_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const f16_t*>(w);
  const auto* y = static_cast<const f16_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(h2f(x[i]) * h2f(y[i]));
  return static_cast<float>(sum);
}

float dot_bf16_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const bf16_t*>(w);
  const auto* y = static_cast<const bf16_t*>(a);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
  return static_cast<float>(sum);
}

// Quantized dots: exact integer sums per block, then one float multiply-add per block, in the
// order ggml's generic code uses.
float dot_q4_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
      isum += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sum += static_cast<float>(isum) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_q4_1_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += (x[i].qs[j] & 0xF) * y[i].qs[j];
      isum += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    }
    sum += static_cast<float>(isum) * (h2f(x[i].d) * h2f(y[i].d)) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sum;
}

float dot_q8_0_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK8_0; ++j) isum += x[i].qs[j] * y[i].qs[j];
    sum += static_cast<float>(isum) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_q4_k_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int isum = 0;  // sum_j sc_j * dot(q, a) over sub-block j
    int msum = 0;  // sum_j m_j * sum(a) over sub-block j
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      q4_k_scale_min(x[i].scales, j, &sc, &m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      const int8_t* act = y[i].qs + 32 * j;
      int dot = 0;
      for (int l = 0; l < 32; ++l) dot += ((q[l] >> shift) & 0xF) * act[l];
      isum += sc * dot;
      msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += h2f(x[i].d) * y[i].d * static_cast<float>(isum) -
           h2f(x[i].dmin) * y[i].d * static_cast<float>(msum);
  }
  return sum;
}

float dot_q6_k_ref(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int isum = 0;
    for (int g = 0; g < 16; ++g) {
      int dot = 0;
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * g + l;
        dot += (q6_k_raw(x[i], e) - 32) * y[i].qs[e];
      }
      isum += x[i].scales[g] * dot;
    }
    sum += h2f(x[i].d) * y[i].d * static_cast<float>(isum);
  }
  return sum;
}

void quantize_act_f32(const float* x, void* y, int64_t n) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}
void quantize_act_f16(const float* x, void* y, int64_t n) {
  auto* h = static_cast<f16_t*>(y);
  for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
}
void quantize_act_bf16(const float* x, void* y, int64_t n) {
  auto* h = static_cast<bf16_t*>(y);
  for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
}
void quantize_act_q8_0(const float* x, void* y, int64_t n) {
  quantize_row_q8_0_ref(x, static_cast<BlockQ8_0*>(y), n);
}
void quantize_act_q8_1(const float* x, void* y, int64_t n) {
  quantize_row_q8_1_ref(x, static_cast<BlockQ8_1*>(y), n);
}
void quantize_act_q8_k(const float* x, void* y, int64_t n) {
  quantize_row_q8_k_ref(x, static_cast<BlockQ8_K*>(y), n);
}

// ---- dispatcher -------------------------------------------------------------------------------

constexpr TensorType kSupportedTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0,
    TensorType::kQ4_1, TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ6_K,
};
constexpr int kNumSupported = sizeof(kSupportedTypes) / sizeof(kSupportedTypes[0]);

int supported_index(TensorType type) {
  for (int i = 0; i < kNumSupported; ++i) {
    if (kSupportedTypes[i] == type) return i;
  }
  return -1;
}

// The reference tile of one shape; nullptr for a shape no kernel uses.
template <VecDotFn kDot>
VecDotTileFn tile_ref_of_shape(int rows, int tokens) {
  using quant_internal::vec_dot_tile_by_dots;
  if (rows == 4 && tokens == 4) return vec_dot_tile_by_dots<kDot, 4, 4>;
  if (rows == 4 && tokens == 6) return vec_dot_tile_by_dots<kDot, 4, 6>;
  if (rows == 4 && tokens == 8) return vec_dot_tile_by_dots<kDot, 4, 8>;
  return nullptr;
}

VecDotTileFn tile_ref(TensorType type, int rows, int tokens) {
  switch (type) {
    case TensorType::kF32:
      return tile_ref_of_shape<dot_f32_ref>(rows, tokens);
    case TensorType::kF16:
      return tile_ref_of_shape<dot_f16_ref>(rows, tokens);
    case TensorType::kBF16:
      return tile_ref_of_shape<dot_bf16_ref>(rows, tokens);
    case TensorType::kQ4_0:
      return tile_ref_of_shape<dot_q4_0_ref>(rows, tokens);
    case TensorType::kQ4_1:
      return tile_ref_of_shape<dot_q4_1_ref>(rows, tokens);
    case TensorType::kQ8_0:
      return tile_ref_of_shape<dot_q8_0_ref>(rows, tokens);
    case TensorType::kQ4_K:
      return tile_ref_of_shape<dot_q4_k_ref>(rows, tokens);
    case TensorType::kQ6_K:
      return tile_ref_of_shape<dot_q6_k_ref>(rows, tokens);
    default:
      return nullptr;
  }
}

// Takes an instruction-set file's kernels for `type` into `k` where it has them.
void apply_isa_kernels(TensorType type, const quant_internal::IsaKernels& v, const char* isa,
                       CpuTypeKernels& k) {
  if (v.vec_dot) {
    k.vec_dot = v.vec_dot;
    k.isa = isa;
  }
  if (v.vec_dot4) k.vec_dot4 = v.vec_dot4;
  if (v.quantize_act) k.quantize_act = v.quantize_act;
  if (v.vec_dot_tile) {
    k.vec_dot_tile = v.vec_dot_tile;
    k.tile_rows = v.tile_rows;
    k.tile_tokens = v.tile_tokens;
    k.vec_dot_tile_ref = tile_ref(type, v.tile_rows, v.tile_tokens);
    assert(k.vec_dot_tile_ref != nullptr &&
           "tile shape without a reference: add it to tile_ref_of_shape");
  }
}

CpuTypeKernels scalar_kernels(TensorType type) {
  CpuTypeKernels k;
  switch (type) {
    case TensorType::kF32:
      k = {TensorType::kF32, quantize_act_f32, dot_f32_ref, dot_f32_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_f32_ref>;
      break;
    case TensorType::kF16:
      k = {TensorType::kF16, quantize_act_f16, dot_f16_ref, dot_f16_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_f16_ref>;
      break;
    case TensorType::kBF16:
      k = {TensorType::kBF16, quantize_act_bf16, dot_bf16_ref, dot_bf16_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_bf16_ref>;
      break;
    case TensorType::kQ4_0:
      k = {TensorType::kQ8_0, quantize_act_q8_0, dot_q4_0_ref, dot_q4_0_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_q4_0_ref>;
      break;
    case TensorType::kQ4_1:
      k = {TensorType::kQ8_1, quantize_act_q8_1, dot_q4_1_ref, dot_q4_1_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_q4_1_ref>;
      break;
    case TensorType::kQ8_0:
      k = {TensorType::kQ8_0, quantize_act_q8_0, dot_q8_0_ref, dot_q8_0_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_q8_0_ref>;
      break;
    case TensorType::kQ4_K:
      k = {TensorType::kQ8_K, quantize_act_q8_k, dot_q4_k_ref, dot_q4_k_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_q4_k_ref>;
      break;
    case TensorType::kQ6_K:
      k = {TensorType::kQ8_K, quantize_act_q8_k, dot_q6_k_ref, dot_q6_k_ref};
      k.vec_dot4 = k.vec_dot4_ref = quant_internal::vec_dot4_by_rows<dot_q6_k_ref>;
      break;
    default:
      break;
  }
  k.vec_dot_tile = k.vec_dot_tile_ref = tile_ref(type, 4, 4);
  k.tile_rows = 4;
  k.tile_tokens = 4;
  k.isa = "scalar";
  return k;
}

// One table per instruction-set level; level L falls back to level L-1 type by type.
struct KernelTables {
  CpuIsa detected = CpuIsa::kScalar;  // what the CPU supports
  CpuIsa chosen = CpuIsa::kScalar;    // detected, capped by R1_CPU_ISA
  CpuTypeKernels by_isa[3][kNumSupported];
};

CpuIsa detect_isa() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("avx2");
  if (!avx2) return CpuIsa::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                      __builtin_cpu_supports("avx512vbmi");
  return avx512 ? CpuIsa::kAvx512 : CpuIsa::kAvx2;
}

const KernelTables& tables() {
  static const KernelTables t = [] {
    KernelTables k;
    k.detected = detect_isa();
    k.chosen = k.detected;
    if (const char* cap = std::getenv("R1_CPU_ISA")) {
      CpuIsa want = k.chosen;
      if (std::strcmp(cap, "scalar") == 0) want = CpuIsa::kScalar;
      if (std::strcmp(cap, "avx2") == 0) want = CpuIsa::kAvx2;
      if (std::strcmp(cap, "avx512") == 0) want = CpuIsa::kAvx512;
      k.chosen = std::min(k.chosen, want);
    }
    for (int i = 0; i < kNumSupported; ++i) {
      const TensorType type = kSupportedTypes[i];
      CpuTypeKernels base = scalar_kernels(type);
      k.by_isa[0][i] = base;
      if (k.detected >= CpuIsa::kAvx2) {
        apply_isa_kernels(type, quant_internal::avx2_kernels(type), "avx2", base);
      }
      k.by_isa[1][i] = base;
      if (k.detected >= CpuIsa::kAvx512) {
        apply_isa_kernels(type, quant_internal::avx512_kernels(type), "avx512", base);
      }
      k.by_isa[2][i] = base;
    }
    return k;
  }();
  return t;
}

}  // namespace

bool cpu_type_supported(TensorType type) {
  return supported_index(type) >= 0;
}

const CpuTypeKernels* cpu_type_kernels(TensorType type) {
  const int i = supported_index(type);
  if (i < 0) return nullptr;
  const KernelTables& t = tables();
  return &t.by_isa[static_cast<int>(t.chosen)][i];
}

const char* cpu_isa_name() {
  switch (tables().chosen) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    default:
      return "scalar";
  }
}

CpuIsa cpu_isa_detected() {
  return tables().detected;
}

const CpuTypeKernels* cpu_type_kernels_for_isa(TensorType type, CpuIsa isa) {
  const int i = supported_index(type);
  const KernelTables& t = tables();
  if (i < 0 || isa > t.detected) return nullptr;
  return &t.by_isa[static_cast<int>(isa)][i];
}

}  // namespace r1
