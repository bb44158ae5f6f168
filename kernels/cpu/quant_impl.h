// Internal to kernels/cpu/quant*.cpp: the entry points each instruction-set file offers the
// dispatcher in quant.cpp, and small scalar helpers they share. Not a public header.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant.h"

namespace r1::quant_internal {

// Vec-dot kernels one instruction-set file provides for a weight type.
struct IsaKernels {
  VecDotFn vec_dot = nullptr;
  VecDot4Fn vec_dot4 = nullptr;
  VecDotTileFn vec_dot_tile = nullptr;
  int tile_rows = 4;  // shape of vec_dot_tile
  int tile_tokens = 4;
  QuantizeActFn quantize_act = nullptr;  // must equal the scalar one bit for bit
};

// quant_avx2.cpp: call only when the CPU has AVX2, FMA and F16C. Null members for types it
// has no kernel for.
IsaKernels avx2_kernels(TensorType type);
// quant_avx512.cpp: call only when the CPU has AVX-512 F/BW/VL/VNNI/VBMI (and AVX2/FMA/F16C).
IsaKernels avx512_kernels(TensorType type);

// vec_dot4 as 4 calls of a vec_dot, for types where reading the activation once per row is
// already cheap (float types, K-quants whose activation blocks stay in L1).
template <VecDotFn kDot>
void vec_dot4_by_rows(int64_t n, const void* w_rows, size_t row_stride_bytes, const void* act,
                      float* out4) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  for (int r = 0; r < 4; ++r) out4[r] = kDot(n, w + r * row_stride_bytes, act);
}

// vec_dot_tile as kRows x kTokens calls of a vec_dot: the reference tile.
template <VecDotFn kDot, int kRows, int kTokens>
void vec_dot_tile_by_dots(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
                          size_t act_stride, float* out, size_t out_stride) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* a = static_cast<const uint8_t*>(act_rows);
  for (int t = 0; t < kTokens; ++t) {
    for (int r = 0; r < kRows; ++r)
      out[t * out_stride + r] = kDot(n, w + r * w_stride, a + t * act_stride);
  }
}

// vec_dot_tile of 4 rows as kTokens calls of a vec_dot4: the fallback for types without a
// register-blocked kernel.
template <VecDot4Fn kDot4, int kTokens>
void vec_dot_tile_by_dot4(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
                          size_t act_stride, float* out, size_t out_stride) {
  const auto* a = static_cast<const uint8_t*>(act_rows);
  for (int t = 0; t < kTokens; ++t)
    kDot4(n, w_rows, w_stride, a + t * act_stride, out + t * out_stride);
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K super-block.
inline void q4_k_scale_min(const uint8_t* scales, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

}  // namespace r1::quant_internal
