// Causal attention of one query head over an f16 key/value cache, on the CPU.
//
// Numerics follow llama.cpp's non-fused path so greedy decoding tracks it: the query is rounded
// to f16 before q.k, scores are scaled then soft-maxed in f32, and the probabilities are rounded
// to f16 before weighting the values (f32 accumulation throughout). Summation order is free, and
// the fast paths use exp_row() (<= 2 ulp) instead of std::exp. Pure and thread-safe.
//
// attention_group() is the fast path for prefill and decode: it takes every query head that
// shares one kv head (GQA group) and a block of consecutive query tokens, so each f16 key and
// value row is converted once and reused by all of them (scores = Q K^T, out = P V, as small
// register-blocked GEMMs).
#pragma once

#include <cstdint>

namespace r1 {

// One query head: q (head_dim) f32; k, v: (n_kv, kv_stride) f16 rows, of which this head reads
// columns [kv_offset, kv_offset + head_dim); scores: (n_kv) f32 scratch; out: (head_dim) f32.
// The scalar reference the fast paths are tested against.
void attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_kv,
                        int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                        float* scores, float* out);

// Causal attention of n_tokens consecutive query tokens times the n_group query heads that read
// the same kv head. Query (token i, head g) is (head_dim) f32 at q + i * q_stride + g * head_dim
// and sees cache rows [0, n_kv_first + i); its result goes to out + i * out_stride + g * head_dim.
// k, v as for attention_head_ref. scratch: attention_group_scratch_floats(n_tokens * n_group,
// n_kv_first + n_tokens - 1, head_dim) floats. n_kv_first >= 1, head_dim <= 1024.
void attention_group(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                     const uint16_t* k, const uint16_t* v, int64_t n_kv_first, int64_t kv_stride,
                     int64_t kv_offset, int64_t head_dim, float scale, float* scratch, float* out,
                     int64_t out_stride);

// Same contract; per-(token, head) calls of attention_head_ref. Used by tests and as fallback.
void attention_group_ref(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                         const uint16_t* k, const uint16_t* v, int64_t n_kv_first,
                         int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                         float* scratch, float* out, int64_t out_stride);

// Scratch floats attention_group needs for n_rows = n_tokens * n_group queries seeing at most
// n_kv_max cache rows.
int64_t attention_group_scratch_floats(int64_t n_rows, int64_t n_kv_max, int64_t head_dim);

// y[i] = e^x[i] with the vector polynomial the fast softmax uses: relative error <= 2 ulp for
// x in [-87.33, 88], 0 below (including -inf; no subnormals), e^88 above. Without AVX2 it is
// std::exp with the same cut-off. x and y may alias.
void exp_row(const float* x, float* y, int64_t n);

// f32 -> f16 for a row (cache writes).
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);

}  // namespace r1
