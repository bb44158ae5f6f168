// Device images of quantized weights (repacking at upload), activation quantizers and
// dequantizers. Layouts: kernels/cuda/quant.h; block formats: kernels/cpu/quant.cpp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>

#include "kernels/cuda/quant.h"
#include "kernels/cuda/quant_device.cuh"

namespace r1::cuda {

using namespace qd;

namespace {

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

}  // namespace

bool weight_type_supported(TensorType type) {
  return block_elems(type) != 0;
}

int64_t matrix_bytes(TensorType type, int64_t rows, int64_t cols) {
  const int64_t bs = block_elems(type);
  if (bs == 0 || cols <= 0 || rows < 0 || cols % bs != 0) return -1;
  return matrix_planes(type, rows, cols).total;
}

TensorType activation_type(TensorType weight_type) {
  return act_type_of(weight_type);
}

int64_t activation_bytes(TensorType weight_type, int64_t cols) {
  return activation_planes(act_type_of(weight_type), cols).total;
}

// ---- repacking (host) ------------------------------------------------------------------------

void repack_rows(TensorType type, const void* src, size_t src_row_bytes, int64_t col_begin,
                 int64_t n_rows, int64_t cols, int64_t total_rows, int64_t row_begin, void* image) {
  const Planes p = matrix_planes(type, total_rows, cols);
  auto* img = static_cast<uint8_t*>(image);
  uint8_t* p0 = img + p.off[0];
  uint8_t* p1 = img + p.off[1];
  uint8_t* p2 = img + p.off[2];
  const int64_t nb = cols / 32;
  const int64_t nk = cols / 256;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(src) + r * src_row_bytes;
    const int64_t R = row_begin + r;  // row in the image
    switch (type) {
      case TensorType::kF32:
        std::memcpy(p0 + R * cols * 4, row + col_begin * 4, cols * 4);
        break;
      case TensorType::kF16:
      case TensorType::kBF16:
        std::memcpy(p0 + R * cols * 2, row + col_begin * 2, cols * 2);
        break;
      case TensorType::kQ8_0: {
        const uint8_t* b = row + (col_begin / 32) * 34;
        for (int64_t i = 0; i < nb; ++i, b += 34) {
          std::memcpy(p1 + (R * nb + i) * 2, b, 2);
          std::memcpy(p0 + (R * nb + i) * 32, b + 2, 32);
        }
        break;
      }
      case TensorType::kQ4_0: {
        const uint8_t* b = row + (col_begin / 32) * 18;
        for (int64_t i = 0; i < nb; ++i, b += 18) {
          std::memcpy(p1 + (R * nb + i) * 2, b, 2);
          std::memcpy(p0 + (R * nb + i) * 16, b + 2, 16);
        }
        break;
      }
      case TensorType::kQ4_1: {
        const uint8_t* b = row + (col_begin / 32) * 20;
        for (int64_t i = 0; i < nb; ++i, b += 20) {
          std::memcpy(p1 + (R * nb + i) * 4, b, 4);  // d, m
          std::memcpy(p0 + (R * nb + i) * 16, b + 4, 16);
        }
        break;
      }
      case TensorType::kQ4_K: {
        const uint8_t* b = row + (col_begin / 256) * 144;
        for (int64_t i = 0; i < nk; ++i, b += 144) {
          std::memcpy(p1 + (R * nk + i) * 16, b, 16);  // d, dmin, scales[12]
          std::memcpy(p0 + (R * nk + i) * 128, b + 16, 128);
        }
        break;
      }
      case TensorType::kQ6_K: {
        const uint8_t* b = row + (col_begin / 256) * 210;
        for (int64_t i = 0; i < nk; ++i, b += 210) {
          std::memcpy(p0 + (R * nk + i) * 192, b, 192);      // ql, qh
          std::memcpy(p1 + (R * nk + i) * 16, b + 192, 16);  // scales
          std::memcpy(p2 + (R * nk + i) * 2, b + 208, 2);    // d
        }
        break;
      }
      default:
        break;
    }
  }
}

// ---- activation quantizers -------------------------------------------------------------------

namespace {

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ int warp_sum_int(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float f16_round(float x) {
  return __half2float(__float2half_rn(x));
}

// One warp per 32-element block: d = amax / 127, q = round_half_even(x * 127 / amax), as the
// CPU's quantize_block_q8. The multiply is kept apart from the rounding (no fused multiply-add)
// so the quants are the CPU's bit for bit.
template <bool kWithSum>
__global__ void quantize_q8_32_kernel(const float* __restrict__ x, int8_t* __restrict__ qs,
                                      float* __restrict__ d, int64_t nb) {
  const int64_t b = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (b >= nb) return;
  const float v = x[b * 32 + lane];
  const float amax = warp_max(fabsf(v));
  const float dd = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const int q = __float2int_rn(__fmul_rn(v, id));
  qs[b * 32 + lane] = static_cast<int8_t>(q);
  if constexpr (kWithSum) {
    const int sum = warp_sum_int(q);
    if (lane == 0) {
      d[2 * b] = f16_round(dd);
      d[2 * b + 1] = f16_round(__fmul_rn(dd, static_cast<float>(sum)));
    }
  } else {
    if (lane == 0) d[b] = f16_round(dd);
  }
}

// One 256-thread block per 256-element super-block, as ggml's quantize_row_q8_K_ref: the
// element of largest magnitude (the first one on ties) sets iscale = -127 / max.
__global__ void quantize_q8_k_kernel(const float* __restrict__ x, int8_t* __restrict__ qs,
                                     float* __restrict__ d, int16_t* __restrict__ bsums) {
  __shared__ float s_amax[8];
  __shared__ int s_idx[8];
  __shared__ float s_max;
  const int64_t sb = blockIdx.x;
  const int t = threadIdx.x;
  const int lane = t % 32;
  const int warp = t / 32;
  const float v = x[sb * 256 + t];
  float a = fabsf(v);
  int idx = t;
  for (int o = 16; o > 0; o >>= 1) {
    const float a2 = __shfl_xor_sync(0xffffffffu, a, o);
    const int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
    if (a2 > a || (a2 == a && i2 < idx)) {
      a = a2;
      idx = i2;
    }
  }
  if (lane == 0) {
    s_amax[warp] = a;
    s_idx[warp] = idx;
  }
  __syncthreads();
  if (t == 0) {
    float best = s_amax[0];
    int best_i = s_idx[0];
    for (int w = 1; w < 8; ++w) {
      if (s_amax[w] > best || (s_amax[w] == best && s_idx[w] < best_i)) {
        best = s_amax[w];
        best_i = s_idx[w];
      }
    }
    s_amax[0] = best;
    s_max = x[sb * 256 + best_i];
  }
  __syncthreads();
  const float amax = s_amax[0];
  int q = 0;
  float iscale = 0.f;
  if (amax != 0.f) {
    iscale = -127.f / s_max;
    q = min(127, __float2int_rn(__fmul_rn(iscale, v)));
  }
  qs[sb * 256 + t] = static_cast<int8_t>(q);
  int s = q;
  for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);  // within 16 lanes
  if (t % 16 == 0) bsums[sb * 16 + t / 16] = static_cast<int16_t>(s);
  if (t == 0) d[sb] = amax != 0.f ? 1.f / iscale : 0.f;
}

__global__ void convert_f16_kernel(const float* __restrict__ x, __half* __restrict__ y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = __float2half_rn(x[i]);
}

__global__ void convert_bf16_kernel(const float* __restrict__ x, __nv_bfloat16* __restrict__ y,
                                    int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = __float2bfloat16_rn(x[i]);
}

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace

void quantize_activation(TensorType weight_type, const float* x, int64_t cols, void* act,
                         void* stream) {
  const TensorType at = act_type_of(weight_type);
  const Planes p = activation_planes(at, cols);
  auto* base = static_cast<uint8_t*>(act);
  auto* qs = reinterpret_cast<int8_t*>(base + p.off[0]);
  auto* d = reinterpret_cast<float*>(base + p.off[1]);
  cudaStream_t s = as_stream(stream);
  switch (at) {
    case TensorType::kQ8_0:
      quantize_q8_32_kernel<false><<<blocks_for(cols, 256), 256, 0, s>>>(x, qs, d, cols / 32);
      break;
    case TensorType::kQ8_1:
      quantize_q8_32_kernel<true><<<blocks_for(cols, 256), 256, 0, s>>>(x, qs, d, cols / 32);
      break;
    case TensorType::kQ8_K:
      quantize_q8_k_kernel<<<static_cast<unsigned>(cols / 256), 256, 0, s>>>(
          x, qs, d, reinterpret_cast<int16_t*>(base + p.off[2]));
      break;
    case TensorType::kF16:
      convert_f16_kernel<<<blocks_for(cols, 256), 256, 0, s>>>(x, reinterpret_cast<__half*>(qs),
                                                               cols);
      break;
    case TensorType::kBF16:
      convert_bf16_kernel<<<blocks_for(cols, 256), 256, 0, s>>>(
          x, reinterpret_cast<__nv_bfloat16*>(qs), cols);
      break;
    case TensorType::kF32:
      cudaMemcpyAsync(qs, x, cols * sizeof(float), cudaMemcpyDeviceToDevice, s);
      break;
    default:
      break;
  }
}

// ---- dequantization --------------------------------------------------------------------------

namespace {

template <TensorType kType, typename T>
__global__ void dequantize_rows_kernel(Mat w, int64_t row_begin, int64_t n_rows,
                                       int64_t units_per_row, T* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_rows * units_per_row) return;
  const int64_t r = i / units_per_row;
  const int64_t u = i % units_per_row;
  T* dst = out + r * w.cols;
  dequant_unit<kType>(w, row_begin + r, u, [&](int64_t e, float v) {
    if constexpr (sizeof(T) == 2) {
      dst[e] = __float2half_rn(v);
    } else {
      dst[e] = v;
    }
  });
}

template <TensorType kType>
__global__ void gather_rows_kernel(Mat w, const int32_t* __restrict__ ids, int64_t n,
                                   int64_t units_per_row, float* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * units_per_row) return;
  const int64_t t = i / units_per_row;
  const int64_t u = i % units_per_row;
  float* dst = out + t * w.cols;
  dequant_unit<kType>(w, ids[t], u, [&](int64_t e, float v) { dst[e] = v; });
}

template <typename T>
void dequantize_rows(const DeviceMatrix& w, int64_t row_begin, int64_t n_rows, T* out,
                     void* stream) {
  const Mat m = mat_view(w.type, w.data, w.rows, w.cols);
  const int64_t upr = w.cols / unit_elems(w.type);
  const int64_t n = n_rows * upr;
  if (n == 0) return;
  dispatch_type(w.type, [&]<TensorType kT>() {
    dequantize_rows_kernel<kT, T>
        <<<blocks_for(n, 128), 128, 0, as_stream(stream)>>>(m, row_begin, n_rows, upr, out);
  });
}

}  // namespace

void dequantize_rows_f16(const DeviceMatrix& w, int64_t row_begin, int64_t n_rows, uint16_t* out,
                         void* stream) {
  dequantize_rows<__half>(w, row_begin, n_rows, reinterpret_cast<__half*>(out), stream);
}

void dequantize_rows_f32(const DeviceMatrix& w, int64_t row_begin, int64_t n_rows, float* out,
                         void* stream) {
  dequantize_rows<float>(w, row_begin, n_rows, out, stream);
}

void gather_rows_f32(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out,
                     void* stream) {
  const Mat m = mat_view(w.type, w.data, w.rows, w.cols);
  const int64_t upr = w.cols / unit_elems(w.type);
  const int64_t total = n * upr;
  if (total == 0) return;
  dispatch_type(w.type, [&]<TensorType kT>() {
    gather_rows_kernel<kT>
        <<<blocks_for(total, 128), 128, 0, as_stream(stream)>>>(m, ids, n, upr, out);
  });
}

}  // namespace r1::cuda
