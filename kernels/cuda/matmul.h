// Products of device weight matrices with f32 activations, the twin of kernels/cpu/matmul.h.
//
// W is (rows, cols) in its device image (quant.h); results are Y[t][r] = dot(W[r], X[t]).
// Decode (one token) runs matvec(): one warp per weight row streams the row once with 8- or
// 16-byte loads, dequantizing in registers against the activation quantized like the CPU's
// (integer dot per block with dp4a). That is bound by memory bandwidth, as decode should be.
// Prefill (many tokens) runs linear_gemm(): weights are dequantized to f16 in chunks of rows
// and multiplied on the tensor cores by cuBLAS (f16 or bf16 inputs, f32 accumulation and
// output); F16/BF16/F32 weights go to cuBLAS as they are.
//
// Launches are asynchronous on `stream`; device pointers only.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/quant.h"

namespace r1::cuda {

// y[r] = dot(W row r, act) (or y[r] += when accumulate) for every row; act is one activation
// row in activation_type(w.type) (quantize_activation()).
void matvec(const DeviceMatrix& w, const void* act, float* y, bool accumulate, void* stream);

// A cuBLAS handle bound to one stream. Not thread-safe; one per stream.
class Blas {
 public:
  Blas() = default;
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  // Creates the handle on the current device and binds it to `stream`.
  Status init(void* stream);
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;  // cublasHandle_t
};

// Halves of scratch linear_gemm needs: for the activations (n_tokens * cols) and for one chunk
// of dequantized weight rows (gemm_weight_chunk_elems()).
int64_t gemm_weight_chunk_elems(const DeviceMatrix& w, int64_t max_chunk_elems);

// Y (n_tokens rows, y_stride floats apart; columns [0, rows)) = X W^T, or += when accumulate.
// X: n_tokens rows of cols f32, x_stride floats apart. x16: n_tokens * cols halves of scratch;
// w16: chunk_elems halves (at least one row of cols). kInternal naming the cuBLAS status on
// failure.
Status linear_gemm(Blas& blas, const DeviceMatrix& w, const float* x, int64_t x_stride,
                   int64_t n_tokens, float* y, int64_t y_stride, bool accumulate, uint16_t* x16,
                   uint16_t* w16, int64_t chunk_elems, void* stream);

}  // namespace r1::cuda
