// Internal to kernels/cuda/*.cu: the device image layouts of quant.h as plane offsets, and the
// per-unit dot products and dequantizers every kernel shares. Not a public header (CUDA only).
//
// A "unit" is the piece of a row one thread handles at a time, sized so its loads are 8 or 16
// bytes wide: 32 elements (one block) for Q4_0/Q4_1/Q8_0; 64 (two sub-blocks sharing their
// nibble bytes) for Q4_K; 32 for Q6_K (8 positions l of one 128-element half, times the 4
// groups that share their ql/qh bytes); 8 for F16/BF16; 4 for F32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/tensor_type.h"

namespace r1::cuda::qd {

__host__ __device__ inline int64_t align256(int64_t b) {
  return (b + 255) / 256 * 256;
}

struct Planes {
  int64_t off[3] = {0, 0, 0};
  int64_t total = 0;
};

inline Planes make_planes(int64_t s0, int64_t s1, int64_t s2) {
  Planes p;
  p.off[0] = 0;
  p.off[1] = align256(s0);
  p.off[2] = p.off[1] + align256(s1);
  p.total = p.off[2] + align256(s2);
  return p;
}

inline int64_t unit_elems(TensorType t) {
  switch (t) {
    case TensorType::kF32:
      return 4;
    case TensorType::kF16:
    case TensorType::kBF16:
      return 8;
    case TensorType::kQ4_K:
      return 64;
    default:
      return 32;
  }
}

// Block size of the GGUF type (what cols must be a multiple of), 0 when unsupported here.
inline int64_t block_elems(TensorType t) {
  switch (t) {
    case TensorType::kF32:
      return 4;
    case TensorType::kF16:
    case TensorType::kBF16:
      return 8;
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
      return 32;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return 256;
    default:
      return 0;
  }
}

inline Planes matrix_planes(TensorType t, int64_t rows, int64_t cols) {
  const int64_t nb = cols / 32;
  const int64_t nk = cols / 256;
  switch (t) {
    case TensorType::kF32:
      return make_planes(rows * cols * 4, 0, 0);
    case TensorType::kF16:
    case TensorType::kBF16:
      return make_planes(rows * cols * 2, 0, 0);
    case TensorType::kQ8_0:
      return make_planes(rows * nb * 32, rows * nb * 2, 0);
    case TensorType::kQ4_0:
      return make_planes(rows * nb * 16, rows * nb * 2, 0);
    case TensorType::kQ4_1:
      return make_planes(rows * nb * 16, rows * nb * 4, 0);
    case TensorType::kQ4_K:
      return make_planes(rows * nk * 128, rows * nk * 16, 0);
    case TensorType::kQ6_K:
      return make_planes(rows * nk * 192, rows * nk * 16, rows * nk * 2);
    default:
      return Planes{};
  }
}

inline Planes activation_planes(TensorType act_type, int64_t cols) {
  switch (act_type) {
    case TensorType::kF32:
      return make_planes(cols * 4, 0, 0);
    case TensorType::kF16:
    case TensorType::kBF16:
      return make_planes(cols * 2, 0, 0);
    case TensorType::kQ8_0:
      return make_planes(cols, cols / 32 * 4, 0);
    case TensorType::kQ8_1:
      return make_planes(cols, cols / 32 * 8, 0);
    case TensorType::kQ8_K:
      return make_planes(cols, cols / 256 * 4, cols / 256 * 32);
    default:
      return Planes{};
  }
}

inline TensorType act_type_of(TensorType w) {
  switch (w) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
      return w;
    case TensorType::kQ4_0:
    case TensorType::kQ8_0:
      return TensorType::kQ8_0;
    case TensorType::kQ4_1:
      return TensorType::kQ8_1;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return TensorType::kQ8_K;
    default:
      return TensorType::kF32;
  }
}

// Kernel-side views (passed by value).
struct Mat {
  const uint8_t* p0;
  const uint8_t* p1;
  const uint8_t* p2;
  int64_t rows;
  int64_t cols;
};

struct Act {
  const int8_t* qs;  // quantized values, or the raw f32/f16/bf16 values
  const float* d;    // Q8_0: d [nb]; Q8_1: (d, s) [nb][2]; Q8_K: d [nk]
  const int16_t* bsums;
};

inline Mat mat_view(TensorType t, const void* data, int64_t rows, int64_t cols) {
  const Planes p = matrix_planes(t, rows, cols);
  const auto* b = static_cast<const uint8_t*>(data);
  return Mat{b + p.off[0], b + p.off[1], b + p.off[2], rows, cols};
}

inline Act act_view(TensorType act_type, const void* data, int64_t cols) {
  const Planes p = activation_planes(act_type, cols);
  const auto* b = static_cast<const uint8_t*>(data);
  return Act{reinterpret_cast<const int8_t*>(b + p.off[0]),
             reinterpret_cast<const float*>(b + p.off[1]),
             reinterpret_cast<const int16_t*>(b + p.off[2])};
}

// ---- dot products of one unit of weight row `row` with the activation --------------------

__device__ __forceinline__ int dp4a(int a, int b, int c) {
  return __dp4a(a, b, c);
}

__device__ __forceinline__ float dot_unit_q4_0(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const int64_t nb = w.cols / 32;
  const int64_t gb = row * nb + u;
  const uint4 wq = *reinterpret_cast<const uint4*>(w.p0 + gb * 16);
  const int4* aq = reinterpret_cast<const int4*>(a.qs + u * 32);
  const int4 al = aq[0];
  const int4 ah = aq[1];
  const unsigned wi[4] = {wq.x, wq.y, wq.z, wq.w};
  const int alo[4] = {al.x, al.y, al.z, al.w};
  const int ahi[4] = {ah.x, ah.y, ah.z, ah.w};
  int sumi = 0;
  int suma = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    sumi = dp4a(static_cast<int>(wi[i] & 0x0F0F0F0Fu), alo[i], sumi);
    sumi = dp4a(static_cast<int>((wi[i] >> 4) & 0x0F0F0F0Fu), ahi[i], sumi);
    suma = dp4a(0x01010101, alo[i], suma);
    suma = dp4a(0x01010101, ahi[i], suma);
  }
  const float dw = __half2float(reinterpret_cast<const __half*>(w.p1)[gb]);
  return static_cast<float>(sumi - 8 * suma) * (dw * a.d[u]);
}

__device__ __forceinline__ float dot_unit_q4_1(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const int64_t nb = w.cols / 32;
  const int64_t gb = row * nb + u;
  const uint4 wq = *reinterpret_cast<const uint4*>(w.p0 + gb * 16);
  const int4* aq = reinterpret_cast<const int4*>(a.qs + u * 32);
  const int4 al = aq[0];
  const int4 ah = aq[1];
  const unsigned wi[4] = {wq.x, wq.y, wq.z, wq.w};
  const int alo[4] = {al.x, al.y, al.z, al.w};
  const int ahi[4] = {ah.x, ah.y, ah.z, ah.w};
  int sumi = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    sumi = dp4a(static_cast<int>(wi[i] & 0x0F0F0F0Fu), alo[i], sumi);
    sumi = dp4a(static_cast<int>((wi[i] >> 4) & 0x0F0F0F0Fu), ahi[i], sumi);
  }
  const __half2 dm = reinterpret_cast<const __half2*>(w.p1)[gb];
  const float dw = __low2float(dm);
  const float mw = __high2float(dm);
  const float da = a.d[2 * u];
  const float sa = a.d[2 * u + 1];
  return static_cast<float>(sumi) * (dw * da) + mw * sa;
}

__device__ __forceinline__ float dot_unit_q8_0(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const int64_t nb = w.cols / 32;
  const int64_t gb = row * nb + u;
  const int4* wq = reinterpret_cast<const int4*>(w.p0 + gb * 32);
  const int4* aq = reinterpret_cast<const int4*>(a.qs + u * 32);
  const int4 w0 = wq[0], w1 = wq[1], a0 = aq[0], a1 = aq[1];
  int sumi = 0;
  sumi = dp4a(w0.x, a0.x, sumi);
  sumi = dp4a(w0.y, a0.y, sumi);
  sumi = dp4a(w0.z, a0.z, sumi);
  sumi = dp4a(w0.w, a0.w, sumi);
  sumi = dp4a(w1.x, a1.x, sumi);
  sumi = dp4a(w1.y, a1.y, sumi);
  sumi = dp4a(w1.z, a1.z, sumi);
  sumi = dp4a(w1.w, a1.w, sumi);
  const float dw = __half2float(reinterpret_cast<const __half*>(w.p1)[gb]);
  return static_cast<float>(sumi) * (dw * a.d[u]);
}

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
__device__ __forceinline__ void q4_k_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

__device__ __forceinline__ float dot_unit_q4_k(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const int64_t nk = w.cols / 256;
  const int64_t sb = u / 4;  // super-block in the row
  const int g = static_cast<int>(u % 4);
  const int64_t gsb = row * nk + sb;
  const int4* wq = reinterpret_cast<const int4*>(w.p0 + gsb * 128 + 32 * g);
  const int4 w0 = wq[0], w1 = wq[1];
  const unsigned wi[8] = {static_cast<unsigned>(w0.x), static_cast<unsigned>(w0.y),
                          static_cast<unsigned>(w0.z), static_cast<unsigned>(w0.w),
                          static_cast<unsigned>(w1.x), static_cast<unsigned>(w1.y),
                          static_cast<unsigned>(w1.z), static_cast<unsigned>(w1.w)};
  const int4* aq = reinterpret_cast<const int4*>(a.qs + sb * 256 + 64 * g);
  const int4 a0 = aq[0], a1 = aq[1], a2 = aq[2], a3 = aq[3];
  const int alo[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
  const int ahi[8] = {a2.x, a2.y, a2.z, a2.w, a3.x, a3.y, a3.z, a3.w};
  int dot_lo = 0;
  int dot_hi = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    dot_lo = dp4a(static_cast<int>(wi[i] & 0x0F0F0F0Fu), alo[i], dot_lo);
    dot_hi = dp4a(static_cast<int>((wi[i] >> 4) & 0x0F0F0F0Fu), ahi[i], dot_hi);
  }
  const uint4 meta = *reinterpret_cast<const uint4*>(w.p1 + gsb * 16);
  const uint8_t* mb = reinterpret_cast<const uint8_t*>(&meta);
  const float d = __half2float(*reinterpret_cast<const __half*>(mb));
  const float dmin = __half2float(*reinterpret_cast<const __half*>(mb + 2));
  int sc_lo, m_lo, sc_hi, m_hi;
  q4_k_scale_min(mb + 4, 2 * g, &sc_lo, &m_lo);
  q4_k_scale_min(mb + 4, 2 * g + 1, &sc_hi, &m_hi);
  const int16_t* bs = a.bsums + sb * 16 + 4 * g;
  const int isum = sc_lo * dot_lo + sc_hi * dot_hi;
  const int msum = m_lo * (bs[0] + bs[1]) + m_hi * (bs[2] + bs[3]);
  const float ad = a.d[sb];
  return d * ad * static_cast<float>(isum) - dmin * ad * static_cast<float>(msum);
}

// The 4 q values (0..63) of group k (0..3) for 4 consecutive positions, from the ql bytes of
// positions l (lo) and l + 32 (lo32) and the qh bytes (hi).
__device__ __forceinline__ int q6_k_group(unsigned lo, unsigned lo32, unsigned hi, int k) {
  const unsigned low = (k == 0)   ? (lo & 0x0F0F0F0Fu)
                       : (k == 1) ? (lo32 & 0x0F0F0F0Fu)
                       : (k == 2) ? ((lo >> 4) & 0x0F0F0F0Fu)
                                  : ((lo32 >> 4) & 0x0F0F0F0Fu);
  const unsigned high = (hi >> (2 * k)) & 0x03030303u;
  return static_cast<int>(low | (high << 4));
}

__device__ __forceinline__ float dot_unit_q6_k(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const int64_t nk = w.cols / 256;
  const int64_t sb = u / 8;
  const int r = static_cast<int>(u % 8);
  const int h = r / 4;  // 128-element half
  const int c = r % 4;  // positions l in [8c, 8c + 8)
  const int64_t gsb = row * nk + sb;
  const uint8_t* base = w.p0 + gsb * 192;
  const uint2 L0 = *reinterpret_cast<const uint2*>(base + 64 * h + 8 * c);
  const uint2 L1 = *reinterpret_cast<const uint2*>(base + 64 * h + 32 + 8 * c);
  const uint2 H = *reinterpret_cast<const uint2*>(base + 128 + 32 * h + 8 * c);
  const int8_t* sc = reinterpret_cast<const int8_t*>(w.p1 + gsb * 16);
  const int8_t* aq = a.qs + sb * 256 + 128 * h + 8 * c;
  int isum = 0;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const uint2 av = *reinterpret_cast<const uint2*>(aq + 32 * k);
    const int q0 = q6_k_group(L0.x, L1.x, H.x, k);
    const int q1 = q6_k_group(L0.y, L1.y, H.y, k);
    int dot = dp4a(q0, static_cast<int>(av.x), 0);
    dot = dp4a(q1, static_cast<int>(av.y), dot);
    int suma = dp4a(0x01010101, static_cast<int>(av.x), 0);
    suma = dp4a(0x01010101, static_cast<int>(av.y), suma);
    isum += sc[8 * h + 2 * k + c / 2] * (dot - 32 * suma);
  }
  const float d = __half2float(reinterpret_cast<const __half*>(w.p2)[gsb]);
  return d * a.d[sb] * static_cast<float>(isum);
}

__device__ __forceinline__ float dot_unit_f16(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const uint4 wv = *reinterpret_cast<const uint4*>(w.p0 + (row * w.cols + 8 * u) * 2);
  const uint4 av = *reinterpret_cast<const uint4*>(a.qs + 16 * u);
  const __half2* wh = reinterpret_cast<const __half2*>(&wv);
  const __half2* ah = reinterpret_cast<const __half2*>(&av);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 wf = __half22float2(wh[i]);
    const float2 af = __half22float2(ah[i]);
    s += wf.x * af.x + wf.y * af.y;
  }
  return s;
}

__device__ __forceinline__ float dot_unit_bf16(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const uint4 wv = *reinterpret_cast<const uint4*>(w.p0 + (row * w.cols + 8 * u) * 2);
  const uint4 av = *reinterpret_cast<const uint4*>(a.qs + 16 * u);
  const __nv_bfloat162* wh = reinterpret_cast<const __nv_bfloat162*>(&wv);
  const __nv_bfloat162* ah = reinterpret_cast<const __nv_bfloat162*>(&av);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 wf = __bfloat1622float2(wh[i]);
    const float2 af = __bfloat1622float2(ah[i]);
    s += wf.x * af.x + wf.y * af.y;
  }
  return s;
}

__device__ __forceinline__ float dot_unit_f32(const Mat& w, int64_t row, int64_t u, const Act& a) {
  const float4 wv = *reinterpret_cast<const float4*>(w.p0 + (row * w.cols + 4 * u) * 4);
  const float4 av = *reinterpret_cast<const float4*>(a.qs + 16 * u);
  return wv.x * av.x + wv.y * av.y + wv.z * av.z + wv.w * av.w;
}

template <TensorType kType>
__device__ __forceinline__ float dot_unit(const Mat& w, int64_t row, int64_t u, const Act& a) {
  if constexpr (kType == TensorType::kQ4_0) return dot_unit_q4_0(w, row, u, a);
  if constexpr (kType == TensorType::kQ4_1) return dot_unit_q4_1(w, row, u, a);
  if constexpr (kType == TensorType::kQ8_0) return dot_unit_q8_0(w, row, u, a);
  if constexpr (kType == TensorType::kQ4_K) return dot_unit_q4_k(w, row, u, a);
  if constexpr (kType == TensorType::kQ6_K) return dot_unit_q6_k(w, row, u, a);
  if constexpr (kType == TensorType::kF16) return dot_unit_f16(w, row, u, a);
  if constexpr (kType == TensorType::kBF16) return dot_unit_bf16(w, row, u, a);
  if constexpr (kType == TensorType::kF32) return dot_unit_f32(w, row, u, a);
  return 0.f;
}

// ---- dequantization of one unit: out(e, value) for each element e of the row --------------

template <TensorType kType, typename Out>
__device__ __forceinline__ void dequant_unit(const Mat& w, int64_t row, int64_t u, Out out) {
  if constexpr (kType == TensorType::kQ4_0 || kType == TensorType::kQ4_1) {
    const int64_t gb = row * (w.cols / 32) + u;
    const uint8_t* q = w.p0 + gb * 16;
    float d, m;
    if constexpr (kType == TensorType::kQ4_0) {
      d = __half2float(reinterpret_cast<const __half*>(w.p1)[gb]);
      m = -8.f * d;
    } else {
      const __half2 dm = reinterpret_cast<const __half2*>(w.p1)[gb];
      d = __low2float(dm);
      m = __high2float(dm);
    }
    for (int j = 0; j < 16; ++j) {
      if constexpr (kType == TensorType::kQ4_0) {
        out(32 * u + j, d * ((q[j] & 0xF) - 8));
        out(32 * u + 16 + j, d * ((q[j] >> 4) - 8));
      } else {
        out(32 * u + j, d * (q[j] & 0xF) + m);
        out(32 * u + 16 + j, d * (q[j] >> 4) + m);
      }
    }
  } else if constexpr (kType == TensorType::kQ8_0) {
    const int64_t gb = row * (w.cols / 32) + u;
    const int8_t* q = reinterpret_cast<const int8_t*>(w.p0 + gb * 32);
    const float d = __half2float(reinterpret_cast<const __half*>(w.p1)[gb]);
    for (int j = 0; j < 32; ++j) out(32 * u + j, d * q[j]);
  } else if constexpr (kType == TensorType::kQ4_K) {
    const int64_t sb = u / 4;
    const int g = static_cast<int>(u % 4);
    const int64_t gsb = row * (w.cols / 256) + sb;
    const uint8_t* q = w.p0 + gsb * 128 + 32 * g;
    const uint8_t* mb = w.p1 + gsb * 16;
    const float d = __half2float(*reinterpret_cast<const __half*>(mb));
    const float dmin = __half2float(*reinterpret_cast<const __half*>(mb + 2));
    int sc_lo, m_lo, sc_hi, m_hi;
    q4_k_scale_min(mb + 4, 2 * g, &sc_lo, &m_lo);
    q4_k_scale_min(mb + 4, 2 * g + 1, &sc_hi, &m_hi);
    const float d_lo = d * sc_lo, m1_lo = dmin * m_lo;
    const float d_hi = d * sc_hi, m1_hi = dmin * m_hi;
    const int64_t e0 = sb * 256 + 64 * g;
    for (int l = 0; l < 32; ++l) {
      out(e0 + l, d_lo * (q[l] & 0xF) - m1_lo);
      out(e0 + 32 + l, d_hi * (q[l] >> 4) - m1_hi);
    }
  } else if constexpr (kType == TensorType::kQ6_K) {
    const int64_t sb = u / 8;
    const int r = static_cast<int>(u % 8);
    const int h = r / 4;
    const int c = r % 4;
    const int64_t gsb = row * (w.cols / 256) + sb;
    const uint8_t* base = w.p0 + gsb * 192;
    const uint8_t* ql = base + 64 * h;
    const uint8_t* qh = base + 128 + 32 * h;
    const int8_t* sc = reinterpret_cast<const int8_t*>(w.p1 + gsb * 16);
    const float d = __half2float(reinterpret_cast<const __half*>(w.p2)[gsb]);
    for (int i = 0; i < 8; ++i) {
      const int l = 8 * c + i;
      const int q0 = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
      const int q1 = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
      const int q2 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
      const int q3 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
      const int64_t e = sb * 256 + 128 * h + l;
      out(e, d * sc[8 * h + 0 + l / 16] * (q0 - 32));
      out(e + 32, d * sc[8 * h + 2 + l / 16] * (q1 - 32));
      out(e + 64, d * sc[8 * h + 4 + l / 16] * (q2 - 32));
      out(e + 96, d * sc[8 * h + 6 + l / 16] * (q3 - 32));
    }
  } else if constexpr (kType == TensorType::kF16) {
    const __half* p = reinterpret_cast<const __half*>(w.p0) + row * w.cols + 8 * u;
    for (int j = 0; j < 8; ++j) out(8 * u + j, __half2float(p[j]));
  } else if constexpr (kType == TensorType::kBF16) {
    const __nv_bfloat16* p = reinterpret_cast<const __nv_bfloat16*>(w.p0) + row * w.cols + 8 * u;
    for (int j = 0; j < 8; ++j) out(8 * u + j, __bfloat162float(p[j]));
  } else if constexpr (kType == TensorType::kF32) {
    const float* p = reinterpret_cast<const float*>(w.p0) + row * w.cols + 4 * u;
    for (int j = 0; j < 4; ++j) out(4 * u + j, p[j]);
  }
}

// Calls f.template operator()<kType>() for the weight type: one switch instead of one per call
// site. Unsupported types do nothing (callers check weight_type_supported first).
template <typename F>
inline void dispatch_type(TensorType t, F&& f) {
  switch (t) {
    case TensorType::kQ4_0:
      f.template operator()<TensorType::kQ4_0>();
      break;
    case TensorType::kQ4_1:
      f.template operator()<TensorType::kQ4_1>();
      break;
    case TensorType::kQ8_0:
      f.template operator()<TensorType::kQ8_0>();
      break;
    case TensorType::kQ4_K:
      f.template operator()<TensorType::kQ4_K>();
      break;
    case TensorType::kQ6_K:
      f.template operator()<TensorType::kQ6_K>();
      break;
    case TensorType::kF16:
      f.template operator()<TensorType::kF16>();
      break;
    case TensorType::kBF16:
      f.template operator()<TensorType::kBF16>();
      break;
    case TensorType::kF32:
      f.template operator()<TensorType::kF32>();
      break;
    default:
      break;
  }
}

}  // namespace r1::cuda::qd
