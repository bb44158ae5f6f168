// Tiled causal attention with an online softmax (kernels/cuda/attention.h).
//
// Per block: kv head hk (blockIdx.y), query rows [8 * blockIdx.x, +8) of the (token, group head)
// rows of that kv head, keys [split * split_len, ...) (blockIdx.z). One warp per query row. Per
// tile of 32 keys, lane j scores key j against the warp's query (both f16 in shared memory,
// products in f32), the warp updates its running max m and sum l, and then accumulates
// p_j * v_j over the tile with each lane owning dims lane + 32 i.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "kernels/cuda/attention.h"

namespace r1::cuda {

namespace {

constexpr int kWarps = 8;  // query rows per block
constexpr int kTile = 32;  // keys per shared-memory tile
constexpr int kMaxHalf2 = kMaxAttentionHeadDim / 2;

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// kDpl: head dims per lane (head_dim <= 32 * kDpl). When partial != nullptr the block writes
// its unnormalised state (acc[head_dim], m, l) per row and split instead of the output.
template <int kDpl>
__global__ void __launch_bounds__(kWarps * 32)
    attention_kernel(const float* __restrict__ q, int64_t q_stride, int n_tokens, int n_head,
                     int n_head_kv, int head_dim, const __half* __restrict__ kc,
                     const __half* __restrict__ vc, const int32_t* __restrict__ pos0, float scale,
                     int split_len, float* __restrict__ out, int64_t out_stride,
                     float* __restrict__ partial) {
  __shared__ __half2 s_k[kTile][kMaxHalf2 + 1];  // +1 word: lane j reads row j conflict-free
  __shared__ __half s_v[kTile][kMaxAttentionHeadDim];
  __shared__ __half2 s_q[kWarps][kMaxHalf2];

  const int group = n_head / n_head_kv;
  const int hk = blockIdx.y;
  const int split = blockIdx.z;
  const int n_splits = gridDim.z;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int n_rows = n_tokens * group;
  const int row0 = blockIdx.x * kWarps;
  const int row = row0 + warp;
  const bool active = row < n_rows;
  const int t = active ? row / group : 0;
  const int h = hk * group + (active ? row % group : 0);
  const int kv_dim = n_head_kv * head_dim;
  const int hd2 = head_dim / 2;
  const int p0 = *pos0;
  const int limit = p0 + t;  // last key this row sees
  const int last_row = min(row0 + kWarps, n_rows) - 1;
  const int block_limit = p0 + last_row / group;

  if (active) {
    const float* qr = q + static_cast<int64_t>(t) * q_stride + static_cast<int64_t>(h) * head_dim;
    for (int w = lane; w < hd2; w += 32) s_q[warp][w] = __floats2half2_rn(qr[2 * w], qr[2 * w + 1]);
  }

  const int k_begin = split * split_len;
  const int k_end = min(k_begin + split_len, block_limit + 1);  // exclusive

  float m = -FLT_MAX;
  float l = 0.f;
  float acc[kDpl];
#pragma unroll
  for (int i = 0; i < kDpl; ++i) acc[i] = 0.f;

  for (int j0 = k_begin; j0 < k_end; j0 += kTile) {
    __syncthreads();  // previous tile consumed (and s_q written, on the first pass)
    const int n_in_tile = min(kTile, k_end - j0);
    for (int idx = threadIdx.x; idx < kTile * hd2; idx += blockDim.x) {
      const int jj = idx / hd2;
      const int w = idx % hd2;
      __half2 kv2 = __floats2half2_rn(0.f, 0.f);
      __half2 vv2 = kv2;
      if (jj < n_in_tile) {
        const int64_t off = static_cast<int64_t>(j0 + jj) * kv_dim + hk * head_dim + 2 * w;
        kv2 = *reinterpret_cast<const __half2*>(kc + off);
        vv2 = *reinterpret_cast<const __half2*>(vc + off);
      }
      s_k[jj][w] = kv2;
      *reinterpret_cast<__half2*>(&s_v[jj][2 * w]) = vv2;
    }
    __syncthreads();
    if (!active) continue;

    const int key = j0 + lane;
    float s = -FLT_MAX;
    if (lane < n_in_tile && key <= limit) {
      float dot = 0.f;
      for (int w = 0; w < hd2; ++w) {
        const float2 qf = __half22float2(s_q[warp][w]);
        const float2 kf = __half22float2(s_k[lane][w]);
        dot += qf.x * kf.x + qf.y * kf.y;
      }
      s = dot * scale;
    }
    const float m_tile = warp_max(s);
    if (m_tile == -FLT_MAX) continue;  // no key of this tile is visible to this row
    const float m_new = fmaxf(m, m_tile);
    const float corr = expf(m - m_new);
    const float p = (s == -FLT_MAX) ? 0.f : expf(s - m_new);
    l = l * corr + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[i] *= corr;
    for (int jj = 0; jj < n_in_tile; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
      for (int i = 0; i < kDpl; ++i) {
        const int d = lane + 32 * i;
        if (d < head_dim) acc[i] += pj * __half2float(s_v[jj][d]);
      }
    }
  }
  if (!active) return;

  if (partial != nullptr) {
    // (n_tokens * n_head rows, n_splits, head_dim + 2): acc, m, l
    float* dst =
        partial + ((static_cast<int64_t>(t) * n_head + h) * n_splits + split) * (head_dim + 2);
#pragma unroll
    for (int i = 0; i < kDpl; ++i) {
      const int d = lane + 32 * i;
      if (d < head_dim) dst[d] = acc[i];
    }
    if (lane == 0) {
      dst[head_dim] = m;
      dst[head_dim + 1] = l;
    }
    return;
  }
  const float inv = l > 0.f ? 1.0f / l : 0.f;
  float* o = out + static_cast<int64_t>(t) * out_stride + static_cast<int64_t>(h) * head_dim;
#pragma unroll
  for (int i = 0; i < kDpl; ++i) {
    const int d = lane + 32 * i;
    if (d < head_dim) o[d] = acc[i] * inv;
  }
}

// One block per (token, head): merges the splits' states into the output.
__global__ void attention_merge_kernel(const float* __restrict__ partial, int n_splits, int n_head,
                                       int head_dim, float* __restrict__ out, int64_t out_stride) {
  const int row = blockIdx.x;  // t * n_head + h
  const int t = row / n_head;
  const int h = row % n_head;
  const float* src = partial + static_cast<int64_t>(row) * n_splits * (head_dim + 2);
  float m_max = -FLT_MAX;
  for (int s = 0; s < n_splits; ++s) m_max = fmaxf(m_max, src[s * (head_dim + 2) + head_dim]);
  float l_sum = 0.f;
  for (int s = 0; s < n_splits; ++s) {
    const float* st = src + s * (head_dim + 2);
    if (st[head_dim + 1] > 0.f) l_sum += st[head_dim + 1] * expf(st[head_dim] - m_max);
  }
  const float inv = l_sum > 0.f ? 1.0f / l_sum : 0.f;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float v = 0.f;
    for (int s = 0; s < n_splits; ++s) {
      const float* st = src + s * (head_dim + 2);
      if (st[head_dim + 1] > 0.f) v += st[d] * expf(st[head_dim] - m_max);
    }
    out[static_cast<int64_t>(t) * out_stride + static_cast<int64_t>(h) * head_dim + d] = v * inv;
  }
}

void launch(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_head, int64_t n_head_kv,
            int64_t head_dim, const uint16_t* k_cache, const uint16_t* v_cache, const int32_t* pos0,
            float scale, int split_len, int n_splits, float* out, int64_t out_stride,
            float* partial, void* stream) {
  const int64_t group = n_head / n_head_kv;
  const dim3 grid(static_cast<unsigned>((n_tokens * group + kWarps - 1) / kWarps),
                  static_cast<unsigned>(n_head_kv), static_cast<unsigned>(n_splits));
  const auto* kc = reinterpret_cast<const __half*>(k_cache);
  const auto* vc = reinterpret_cast<const __half*>(v_cache);
  const int nt = static_cast<int>(n_tokens), nh = static_cast<int>(n_head),
            nkv = static_cast<int>(n_head_kv), hd = static_cast<int>(head_dim);
  cudaStream_t s = as_stream(stream);
  if (head_dim <= 64) {
    attention_kernel<2><<<grid, kWarps * 32, 0, s>>>(q, q_stride, nt, nh, nkv, hd, kc, vc, pos0,
                                                     scale, split_len, out, out_stride, partial);
  } else if (head_dim <= 128) {
    attention_kernel<4><<<grid, kWarps * 32, 0, s>>>(q, q_stride, nt, nh, nkv, hd, kc, vc, pos0,
                                                     scale, split_len, out, out_stride, partial);
  } else {
    attention_kernel<8><<<grid, kWarps * 32, 0, s>>>(q, q_stride, nt, nh, nkv, hd, kc, vc, pos0,
                                                     scale, split_len, out, out_stride, partial);
  }
}

}  // namespace

void attention_prefill(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_head,
                       int64_t n_head_kv, int64_t head_dim, const uint16_t* k_cache,
                       const uint16_t* v_cache, const int32_t* pos0, float scale, float* out,
                       int64_t out_stride, void* stream) {
  if (n_tokens <= 0) return;
  launch(q, q_stride, n_tokens, n_head, n_head_kv, head_dim, k_cache, v_cache, pos0, scale, 1 << 30,
         1, out, out_stride, nullptr, stream);
}

int64_t attention_decode_splits(int64_t n_ctx) {
  // Keys per split: at least 128 (two tiles), and at most 64 splits.
  int64_t split_len = 128;
  while ((n_ctx + split_len - 1) / split_len > 64) split_len *= 2;
  return split_len;
}

int64_t attention_decode_scratch_floats(int64_t n_head, int64_t head_dim, int64_t n_ctx) {
  const int64_t split_len = attention_decode_splits(n_ctx);
  const int64_t n_splits = (n_ctx + split_len - 1) / split_len;
  return n_head * n_splits * (head_dim + 2);
}

void attention_decode(const float* q, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                      const uint16_t* k_cache, const uint16_t* v_cache, const int32_t* pos0,
                      int64_t n_ctx, float scale, float* scratch, float* out, void* stream) {
  const int64_t split_len = attention_decode_splits(n_ctx);
  const int n_splits = static_cast<int>((n_ctx + split_len - 1) / split_len);
  launch(q, n_head * head_dim, 1, n_head, n_head_kv, head_dim, k_cache, v_cache, pos0, scale,
         static_cast<int>(split_len), n_splits, out, n_head * head_dim, scratch, stream);
  attention_merge_kernel<<<static_cast<unsigned>(n_head), 128, 0, as_stream(stream)>>>(
      scratch, n_splits, static_cast<int>(n_head), static_cast<int>(head_dim), out,
      n_head * head_dim);
}

}  // namespace r1::cuda
