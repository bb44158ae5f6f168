// Weight matrices on the device, kept quantized, and the activation formats they multiply.
//
// Device image of a (rows, cols) matrix. GGUF blocks interleave scales and quants with odd
// sizes (18, 20, 34, 210 bytes), which defeats wide loads; at upload each matrix is split into
// planes of equal-sized pieces so that a warp reading consecutive blocks issues 8- or 16-byte
// loads that are coalesced. The bits are the GGUF ones, only moved; planes start 256-byte
// aligned, in this order (nb = cols / 32, nk = cols / 256, per row, rows after each other):
//   F32    values f32                 | -
//   F16    values f16                 | -            BF16: values bf16
//   Q8_0   qs int8 [nb][32]           | d f16 [nb]
//   Q4_0   qs [nb][16]                | d f16 [nb]
//   Q4_1   qs [nb][16]                | (d, m) f16 [nb][2]
//   Q4_K   qs [nk][128]               | (d, dmin, scales[12]) [nk][16]
//   Q6_K   (ql[128], qh[64]) [nk][192] | scales int8 [nk][16] | d f16 [nk]
//
// Activations for the decode mat-vec are quantized on the device exactly as the CPU kernels
// quantize them (kernels/cpu/quant.h: Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1, Q8_K for Q4_K/Q6_K,
// f16/bf16/f32 for the float types), so each block's integer dot is the CPU's bit for bit and
// only the float summation order differs. One activation row, planes 256-byte aligned:
//   Q8_0  qs int8 [cols] | d f32 [nb] (the f16-rounded scale)
//   Q8_1  qs int8 [cols] | (d, s) f32 [nb][2] (both f16-rounded)
//   Q8_K  qs int8 [cols] | d f32 [nk] | bsums int16 [nk][16]
//   F16 / BF16 / F32: the values.
//
// All launch functions are asynchronous on the given stream (cudaStream_t as void*), take
// device pointers, and report errors through check_last_error(). Host functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/tensor_type.h"

namespace r1::cuda {

// True when the device kernels run this weight type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K,
// Q6_K).
bool weight_type_supported(TensorType type);

// Bytes of the device image of a (rows, cols) matrix; -1 when the type is unsupported or cols
// is not a multiple of its block size (F16/BF16 need cols % 8 == 0, F32 cols % 4 == 0).
int64_t matrix_bytes(TensorType type, int64_t rows, int64_t cols);

// Host: fills rows [row_begin, row_begin + n_rows) of the device image (in host memory `image`,
// laid out for total_rows rows of `cols` columns) from n_rows GGUF rows at src, src_row_bytes
// apart, taking their columns [col_begin, col_begin + cols) (col_begin a multiple of the block
// size). Several calls build one image from several tensors (fused q/k/v) or from a slice of
// one (tensor parallelism).
void repack_rows(TensorType type, const void* src, size_t src_row_bytes, int64_t col_begin,
                 int64_t n_rows, int64_t cols, int64_t total_rows, int64_t row_begin, void* image);

// A matrix in device memory.
struct DeviceMatrix {
  TensorType type = TensorType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;  // device image, matrix_bytes(type, rows, cols)
};

// Activation format of a weight type (its CPU dot type) and the bytes of one row of it.
TensorType activation_type(TensorType weight_type);
int64_t activation_bytes(TensorType weight_type, int64_t cols);

// x (cols) f32 -> one activation row for weights of `weight_type`, bit-identical to the CPU's
// quantize_act.
void quantize_activation(TensorType weight_type, const float* x, int64_t cols, void* act,
                         void* stream);

// Dequantizes rows [row_begin, row_begin + n_rows) to (n_rows, cols) f16 (prefill GEMM input).
void dequantize_rows_f16(const DeviceMatrix& w, int64_t row_begin, int64_t n_rows, uint16_t* out,
                         void* stream);
// Same, to f32 (tests).
void dequantize_rows_f32(const DeviceMatrix& w, int64_t row_begin, int64_t n_rows, float* out,
                         void* stream);
// out[t] (cols f32) = row ids[t] of w for t < n: the embedding lookup. ids are device int32 and
// must be in range.
void gather_rows_f32(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out,
                     void* stream);

}  // namespace r1::cuda
