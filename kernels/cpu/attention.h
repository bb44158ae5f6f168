// Causal attention of one query head over an f16 key/value cache, on the CPU.
//
// Numerics follow llama.cpp's non-fused path so greedy decoding tracks it: the query is rounded
// to f16 before q.k, scores are scaled then soft-maxed in f32, and the probabilities are rounded
// to f16 before weighting the values (f32 accumulation throughout). Pure and thread-safe.
#pragma once

#include <cstdint>

namespace r1 {

// q: (head_dim) f32. k, v: (n_kv, kv_stride) f16 rows; this head reads columns
// [kv_offset, kv_offset + head_dim). scores: (n_kv) f32 scratch. out: (head_dim) f32.
void attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_kv,
                    int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                    float* scores, float* out);

// Same contract; scalar reference used by tests.
void attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_kv,
                        int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                        float* scores, float* out);

// f32 -> f16 for a row (cache writes).
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);

}  // namespace r1
