// Element-wise and row-wise transformer operations on the device, twins of kernels/cpu/ops.h.
//
// Every function launches asynchronously on `stream` (a cudaStream_t passed as void*) and takes
// device pointers; errors surface at the next check_last_error() or stream synchronization.
// Positions are read from device memory (pos0: the position of the first token) so a captured
// CUDA graph replays with new positions.
#pragma once

#include <cstdint>

namespace r1::cuda {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight for n_rows rows of n floats (rows contiguous).
// x and y may alias.
void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps,
              void* stream);

// The step between q/k/v projection and attention, for n_tokens rows of qkv, each
// [q (n_head * head_dim) | k (n_head_kv * head_dim) | v (n_head_kv * head_dim)] f32, qkv_stride
// floats apart: adds bias (same layout, or nullptr), rotates the first rope_dims dims of every q
// and k head at position *pos0 + t (pairs (2i, 2i+1), or (i, i + rope_dims/2) when neox; angle
// (pos * freq_scale) * theta_scale^i with theta_scale = freq_base^(-2/rope_dims), built by
// repeated multiplication as the CPU does), and stores k and v as f16 rows at cache row
// *pos0 + t of k_cache / v_cache ((n_ctx, n_head_kv * head_dim) f16).
void qkv_bias_rope_store(float* qkv, int64_t n_tokens, int64_t qkv_stride, int64_t n_head,
                         int64_t n_head_kv, int64_t head_dim, int64_t rope_dims, const float* bias,
                         const int32_t* pos0, float theta_scale, float freq_scale, bool neox,
                         uint16_t* k_cache, uint16_t* v_cache, void* stream);

// In place for n_tokens rows of [gate (n_ff) | up (n_ff)], stride floats apart:
// gate = silu(gate) * up.
void silu_mul(float* gate_up, int64_t n_tokens, int64_t n_ff, int64_t stride, void* stream);

// In-place softmax of each of n_rows rows of n floats (max-subtracted).
void softmax_rows(float* x, int64_t n_rows, int64_t n, void* stream);

// *out = index of the largest of x[0..n) (the lowest index on ties), as the sampler's argmax.
void argmax(const float* x, int64_t n, int32_t* out, void* stream);

// y (n_rows, cols) f16 / bf16 (dense) = x rows (x_stride floats apart) rounded to nearest even.
void convert_rows_f16(const float* x, int64_t x_stride, int64_t n_rows, int64_t cols, uint16_t* y,
                      void* stream);
void convert_rows_bf16(const float* x, int64_t x_stride, int64_t n_rows, int64_t cols, uint16_t* y,
                       void* stream);

// y += x over n floats.
void add_inplace(float* y, const float* x, int64_t n, void* stream);

}  // namespace r1::cuda
