// Causal attention over an f16 KV cache on the device, the twin of kernels/cpu/attention.h.
//
// One kernel serves prefill and decode. A thread block takes one kv head and up to 8 query rows
// that read it (the GQA group's heads times consecutive tokens), streams the keys and values in
// tiles of 32 through shared memory once for all of them, and keeps a running (online) softmax
// per row, so no score matrix is ever stored. For decode (one token) the key range is split
// across blocks (split-K) and a second kernel merges the partial softmax states, so a long
// context spreads over the whole GPU. As on the CPU, each query is rounded to f16 before q.k and
// scores are scaled in f32; unlike it, probabilities are not rounded to f16 (the online softmax
// never holds the final ones), a difference of the order of f16 rounding.
//
// Layouts: q row of token t is at q + t * q_stride, heads of head_dim f32 after each other;
// k_cache / v_cache are (n_ctx, n_head_kv * head_dim) f16; token t sees cache rows
// [0, *pos0 + t]. Query head h reads kv head h / (n_head / n_head_kv). head_dim must be even and
// at most 256. Launches are asynchronous on `stream`.
#pragma once

#include <cstdint>

namespace r1::cuda {

// Largest head_dim the kernels take.
constexpr int64_t kMaxAttentionHeadDim = 256;

// Prefill (any n_tokens >= 1): out row t at out + t * out_stride, heads after each other.
void attention_prefill(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_head,
                       int64_t n_head_kv, int64_t head_dim, const uint16_t* k_cache,
                       const uint16_t* v_cache, const int32_t* pos0, float scale, float* out,
                       int64_t out_stride, void* stream);

// Key range of one split for a cache of n_ctx tokens: fixed by n_ctx alone, so a captured
// graph stays valid while the position grows.
int64_t attention_decode_splits(int64_t n_ctx);
// Floats of scratch attention_decode needs.
int64_t attention_decode_scratch_floats(int64_t n_head, int64_t head_dim, int64_t n_ctx);

// Decode (one token at position *pos0): split-K over the keys, then the merge.
// scratch: attention_decode_scratch_floats(...) floats.
void attention_decode(const float* q, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                      const uint16_t* k_cache, const uint16_t* v_cache, const int32_t* pos0,
                      int64_t n_ctx, float scale, float* scratch, float* out, void* stream);

}  // namespace r1::cuda
