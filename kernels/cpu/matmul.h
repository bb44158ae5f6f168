// Matrix products of GGUF weight matrices with f32 activations, on the CPU.
//
// A weight matrix W is (rows, cols) in its storage type, rows contiguous (GGUF ne[0] = cols).
// Activations X are (n_tokens, cols) f32; results Y are (n_tokens, rows) f32:
// Y[t][r] = dot(W[r], X[t]). X is first converted once to the weight type's dot type (see
// quant.h) so several matrices that read the same input share that work (q/k/v; gate/up).
// Work is split over the pool by blocks of weight rows, so each thread streams a disjoint
// slice of W once per call however many tokens there are; with several tokens the slice is
// multiplied in register tiles (vec_dot_tile, quant.h). Thread-safety: one call at a time per
// ActivationBuffer.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/tensor_type.h"

namespace r1 {

// X converted to one dot type: (n_tokens, row_bytes) bytes.
struct ActivationBuffer {
  TensorType dot_type = TensorType::kF32;
  int64_t cols = 0;
  int64_t n_tokens = 0;
  int64_t row_bytes = 0;
  std::vector<uint8_t> data;
};

// Converts X (n_tokens, cols) f32 for weights of `weight_type`. False when the type is not
// supported by the CPU kernels or cols is not a multiple of its block size.
bool quantize_activations(ThreadPool& pool, TensorType weight_type, const float* x,
                          int64_t n_tokens, int64_t cols, ActivationBuffer& out);

struct MatmulTarget {
  TensorType type = TensorType::kF32;
  const void* weights = nullptr;  // (rows, cols) in `type`
  int64_t rows = 0;
  float* y = nullptr;    // (n_tokens, y_stride) f32; writes columns [0, rows)
  int64_t y_stride = 0;  // floats between consecutive tokens' outputs
};

// Computes every target against the same activations (all targets must share the activations'
// dot type and cols) in one parallel region.
void matmul(ThreadPool& pool, const ActivationBuffer& x, const MatmulTarget* targets,
            int n_targets);

// One product on the calling thread, with explicit strides, for small products inside a
// parallel region (attention heads): y[t * y_stride + r] = dot(W row r, X row t) for r in
// [0, rows), t in [0, n_tokens). W rows (cols elements of `type`) start w_stride bytes apart; X
// rows, already in the type's dot type (for F32: plain floats), x_stride bytes apart. The type
// must be supported (cpu_type_kernels); same numbers as matmul() up to summation order.
void matmul_strided(TensorType type, const void* w, int64_t rows, size_t w_stride, int64_t cols,
                    const void* x, size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride);

// Reference: dequantize each row and accumulate in double. For tests.
void matmul_ref(TensorType type, const void* weights, int64_t rows, int64_t cols, const float* x,
                int64_t n_tokens, float* y);

}  // namespace r1
