// Internal to kernels/cpu/gemm_f32*.cpp: the register-tile kernel each instruction-set file
// offers the driver in gemm_f32.cpp. Not a public header.
#pragma once

#include <cstdint>

namespace r1::gemm_internal {

// One register tile: for i in [0, m), j in [0, n)
//   c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0) + sum_{k < kc} a[i * lda + k] * panel[k * 32
//   + j]
// with m in [1, tile_rows] and n in [1, 32]; panel is a 64-byte aligned slice of a packed panel
// (kc, 32). Columns of c at and past n are neither read nor written.
using GemmTileFn = void (*)(int64_t kc, const float* a, int64_t lda, const float* panel, float* c,
                            int64_t ldc, int m, int n, bool accumulate);

struct GemmKernel {
  GemmTileFn tile = nullptr;
  int tile_rows = 0;  // rows of A (and C) per tile
};

// gemm_f32_avx2.cpp: call only when the CPU has AVX2 and FMA.
GemmKernel avx2_gemm_kernel();
// gemm_f32_avx512.cpp: call only when the CPU has AVX-512 F.
GemmKernel avx512_gemm_kernel();

}  // namespace r1::gemm_internal
