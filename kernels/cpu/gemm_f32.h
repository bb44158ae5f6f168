// Many-token f32 matrix products against weights packed once: C(M, N) = A(M, K) * W(N, K)^T.
//
// W is a weight matrix as GGUF stores it, (N, K) rows contiguous; pack_gemm_weights() copies it
// (widened to f32) into panels of kGemmPanel rows laid out k-major, so the micro-kernels read
// one contiguous vector row of the panel per k and broadcast A elements against it. A and C are
// plain row-major f32 with explicit strides. gemm_f32() splits C into blocks of rows and runs
// them on the pool; each block walks K in slices small enough that the A slice stays in L2 and
// the panel slice in L1 while the register tile sweeps over it.
//
// The kernel is chosen at run time: AVX-512 (gemm_f32_avx512.cpp) or AVX2+FMA
// (gemm_f32_avx2.cpp) when the CPU kernels' dispatcher picked that level (quant.h; R1_CPU_ISA
// caps it), a portable loop otherwise. Results differ from gemm_f32_ref only by f32 summation
// order. PackedWeightsF32 is immutable after packing and may be shared by any number of threads;
// one gemm_f32() call at a time per ThreadPool.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/thread_pool.h"
#include "kernels/cpu/quant.h"
#include "kernels/tensor_type.h"

namespace r1 {

// Weight rows (outputs) per packed panel: two 16-float AVX-512 vectors.
constexpr int64_t kGemmPanel = 32;

struct PackedWeightsF32 {
  int64_t n = 0;  // output columns (weight rows)
  int64_t k = 0;  // inner dimension (weight columns)
  // (ceil(n / kGemmPanel), k, kGemmPanel) f32, 64-byte aligned: panel p, row k holds
  // W[p * kGemmPanel + j][k] for j in [0, kGemmPanel), zero past n.
  std::unique_ptr<float[], decltype(&std::free)> panels{nullptr, &std::free};

  bool empty() const { return panels == nullptr; }
};

// True for the weight types pack_gemm_weights() takes: those whose elements widen to f32
// exactly (F32, F16, BF16).
bool gemm_packable_type(TensorType type);

// Packs `n_parts` weight matrices stacked along N (part i: rows[i] rows of k elements of
// `type`, rows contiguous) into one PackedWeightsF32 with n = sum(rows). Stacking q, k and v
// gives one product for the three. Returns an empty result when the type is not packable or a
// shape is not positive.
PackedWeightsF32 pack_gemm_weights(TensorType type, const void* const* parts, const int64_t* rows,
                                   int n_parts, int64_t k);

// C[i * ldc + j] = sum_k A[i * lda + k] * W[j][k] for i in [0, m), j in [0, w.n); columns of C
// at and past w.n are left unchanged. A is (m, w.k) with row stride lda floats; C must not
// overlap A. Uses the kernel of the dispatcher's chosen level.
void gemm_f32(ThreadPool& pool, const float* a, int64_t lda, int64_t m, const PackedWeightsF32& w,
              float* c, int64_t ldc);

// The same with the kernel of exactly one level, for tests and benchmarks: false (C untouched)
// when the CPU lacks it. kScalar is the portable loop.
bool gemm_f32_for_isa(CpuIsa isa, ThreadPool& pool, const float* a, int64_t lda, int64_t m,
                      const PackedWeightsF32& w, float* c, int64_t ldc);

// Reference: C(m, n) = A(m, k) * W(n, k)^T from the unpacked f32 weights, each dot accumulated
// in double. For tests.
void gemm_f32_ref(const float* a, int64_t m, int64_t k, const float* w, int64_t n, float* c);

}  // namespace r1
