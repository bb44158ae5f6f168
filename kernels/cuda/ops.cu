// Transformer element-wise and row-wise kernels (kernels/cuda/ops.h). Numerics follow the CPU
// twins in kernels/cpu/ops.cpp where it matters for greedy agreement: the rotary angles are built
// by the same repeated float multiplication, SiLU uses expf, and no fast-math is used.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "kernels/cuda/ops.h"

namespace r1::cuda {

namespace {

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int n_warps = blockDim.x / 32;
  v = lane < n_warps ? partial[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ float block_max(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int n_warps = blockDim.x / 32;
  v = lane < n_warps ? partial[lane] : -FLT_MAX;
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__global__ void rms_norm_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                float* __restrict__ y, int64_t n, float eps) {
  const float* xr = x + blockIdx.x * n;
  float* yr = y + blockIdx.x * n;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += xr[i] * xr[i];
  s = block_sum(s);
  const float scale = 1.0f / sqrtf(s / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

// One block per token; threads walk the q and k pairs, then copy k and v to the cache.
__global__ void qkv_bias_rope_store_kernel(float* __restrict__ qkv, int64_t qkv_stride, int n_head,
                                           int n_head_kv, int head_dim, int rope_dims,
                                           const float* __restrict__ bias,
                                           const int32_t* __restrict__ pos0, float theta_scale,
                                           float freq_scale, bool neox, __half* __restrict__ kc,
                                           __half* __restrict__ vc) {
  const int t = blockIdx.x;
  float* row = qkv + t * qkv_stride;
  const int q_dim = n_head * head_dim;
  const int kv_dim = n_head_kv * head_dim;
  const int total = q_dim + 2 * kv_dim;
  if (bias != nullptr) {
    for (int i = threadIdx.x; i < total; i += blockDim.x) row[i] += bias[i];
    __syncthreads();
  }
  const int pos = *pos0 + t;
  const int half = rope_dims / 2;
  const int n_pairs = (n_head + n_head_kv) * half;
  for (int p = threadIdx.x; p < n_pairs; p += blockDim.x) {
    const int head = p / half;  // q heads first, then k heads (contiguous in the row)
    const int i = p % half;
    float theta = static_cast<float>(pos) * freq_scale;
    for (int j = 0; j < i; ++j) theta *= theta_scale;
    const float c = cosf(theta);
    const float s = sinf(theta);
    float* x = row + head * head_dim;
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + half : 2 * i + 1;
    const float x0 = x[a];
    const float x1 = x[b];
    x[a] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    x[b] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
  }
  __syncthreads();
  __half* kd = kc + static_cast<int64_t>(pos) * kv_dim;
  __half* vd = vc + static_cast<int64_t>(pos) * kv_dim;
  for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    kd[i] = __float2half_rn(row[q_dim + i]);
    vd[i] = __float2half_rn(row[q_dim + kv_dim + i]);
  }
}

__global__ void silu_mul_kernel(float* __restrict__ gu, int64_t n_tokens, int64_t n_ff,
                                int64_t stride) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_tokens * n_ff) return;
  const int64_t t = i / n_ff;
  const int64_t j = i % n_ff;
  float* g = gu + t * stride + j;
  const float v = *g;
  *g = v / (1.0f + expf(-v)) * g[n_ff];
}

__global__ void softmax_rows_kernel(float* __restrict__ x, int64_t n) {
  float* r = x + blockIdx.x * n;
  float m = -FLT_MAX;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, r[i]);
  m = block_max(m);
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(r[i] - m);
    r[i] = e;
    s += e;
  }
  s = block_sum(s);
  const float inv = 1.0f / s;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) r[i] *= inv;
}

__device__ __forceinline__ void better(float& v, int& i, float v2, int i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

__global__ void argmax_kernel(const float* __restrict__ x, int64_t n, int32_t* __restrict__ out) {
  __shared__ float sv[32];
  __shared__ int si[32];
  float v = -FLT_MAX;
  int idx = 0x7fffffff;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) better(v, idx, x[i], static_cast<int>(i));
  for (int o = 16; o > 0; o >>= 1) {
    better(v, idx, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, idx, o));
  }
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (lane == 0) {
    sv[warp] = v;
    si[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) better(v, idx, sv[w], si[w]);
    *out = idx;
  }
}

__global__ void convert_rows_f16_kernel(const float* __restrict__ x, int64_t x_stride,
                                        int64_t n_rows, int64_t cols, __half* __restrict__ y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * cols) return;
  y[i] = __float2half_rn(x[(i / cols) * x_stride + i % cols]);
}

__global__ void convert_rows_bf16_kernel(const float* __restrict__ x, int64_t x_stride,
                                         int64_t n_rows, int64_t cols,
                                         __nv_bfloat16* __restrict__ y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * cols) return;
  y[i] = __float2bfloat16_rn(x[(i / cols) * x_stride + i % cols]);
}

__global__ void add_inplace_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps,
              void* stream) {
  if (n_rows <= 0) return;
  rms_norm_kernel<<<static_cast<unsigned>(n_rows), 256, 0, as_stream(stream)>>>(x, weight, y, n,
                                                                                eps);
}

void qkv_bias_rope_store(float* qkv, int64_t n_tokens, int64_t qkv_stride, int64_t n_head,
                         int64_t n_head_kv, int64_t head_dim, int64_t rope_dims, const float* bias,
                         const int32_t* pos0, float theta_scale, float freq_scale, bool neox,
                         uint16_t* k_cache, uint16_t* v_cache, void* stream) {
  if (n_tokens <= 0) return;
  qkv_bias_rope_store_kernel<<<static_cast<unsigned>(n_tokens), 256, 0, as_stream(stream)>>>(
      qkv, qkv_stride, static_cast<int>(n_head), static_cast<int>(n_head_kv),
      static_cast<int>(head_dim), static_cast<int>(rope_dims), bias, pos0, theta_scale, freq_scale,
      neox, reinterpret_cast<__half*>(k_cache), reinterpret_cast<__half*>(v_cache));
}

void silu_mul(float* gate_up, int64_t n_tokens, int64_t n_ff, int64_t stride, void* stream) {
  const int64_t n = n_tokens * n_ff;
  if (n <= 0) return;
  silu_mul_kernel<<<blocks_for(n, 256), 256, 0, as_stream(stream)>>>(gate_up, n_tokens, n_ff,
                                                                     stride);
}

void softmax_rows(float* x, int64_t n_rows, int64_t n, void* stream) {
  if (n_rows <= 0) return;
  softmax_rows_kernel<<<static_cast<unsigned>(n_rows), 256, 0, as_stream(stream)>>>(x, n);
}

void argmax(const float* x, int64_t n, int32_t* out, void* stream) {
  argmax_kernel<<<1, 1024, 0, as_stream(stream)>>>(x, n, out);
}

void convert_rows_f16(const float* x, int64_t x_stride, int64_t n_rows, int64_t cols, uint16_t* y,
                      void* stream) {
  const int64_t n = n_rows * cols;
  if (n <= 0) return;
  convert_rows_f16_kernel<<<blocks_for(n, 256), 256, 0, as_stream(stream)>>>(
      x, x_stride, n_rows, cols, reinterpret_cast<__half*>(y));
}

void convert_rows_bf16(const float* x, int64_t x_stride, int64_t n_rows, int64_t cols, uint16_t* y,
                       void* stream) {
  const int64_t n = n_rows * cols;
  if (n <= 0) return;
  convert_rows_bf16_kernel<<<blocks_for(n, 256), 256, 0, as_stream(stream)>>>(
      x, x_stride, n_rows, cols, reinterpret_cast<__nv_bfloat16*>(y));
}

void add_inplace(float* y, const float* x, int64_t n, void* stream) {
  if (n <= 0) return;
  add_inplace_kernel<<<blocks_for(n, 256), 256, 0, as_stream(stream)>>>(y, x, n);
}

}  // namespace r1::cuda
