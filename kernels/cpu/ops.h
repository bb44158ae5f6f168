// Element-wise and row-wise CPU operations of a transformer layer, in f32.
//
// Plain loops that the compiler vectorises; each is a pure function of its arguments and is
// thread-safe. Numerics follow llama.cpp's where the choice changes results (sums of squares
// and softmax denominators accumulate in double), so greedy decoding tracks it token for token.
#pragma once

#include <cstdint>

namespace r1 {

// y = x / sqrt(mean(x^2) + eps) * weight; x and y may alias. (n)
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, the biased variance as PyTorch's
// LayerNorm takes it (mean and variance accumulate in double); x and y may alias. (n)
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n,
                float eps);

// x = x * (1 + erf(x / sqrt(2))) / 2 in place, BERT's exact GELU (n). erf is a rational
// approximation (Eigen's and XLA's float erf, clamped to [-4, 4]): |error| <= 3e-7 * max(1, |x|)
// against gelu_ref, and plain arithmetic the compiler vectorises.
void gelu(float* x, int64_t n);
// Reference: std::erf in double.
void gelu_ref(float* x, int64_t n);

// y += x (n)
void add_inplace(float* y, const float* x, int64_t n);

// gate = silu(gate) * up (n)
void silu_mul(float* gate, const float* up, int64_t n);

// In-place rotary embedding of one head vector (head_dim) at position `pos`. Only the first
// rope_dims dimensions rotate. neox=false rotates adjacent pairs (2i, 2i+1) (GGUF `llama`);
// neox=true rotates (i, i + rope_dims/2) (`qwen2`). freq_scale multiplies the position.
void rope(float* x, int64_t head_dim, int64_t rope_dims, int64_t pos, float freq_base,
          float freq_scale, bool neox);

// Precomputed cos/sin for rope at one position: (rope_dims / 2) each.
void rope_cache(float* cos_out, float* sin_out, int64_t rope_dims, int64_t pos, float freq_base,
                float freq_scale);
void rope_apply(float* x, const float* cos_v, const float* sin_v, int64_t rope_dims, bool neox);

// In-place softmax of x[0..n) (max-subtracted); returns nothing. n >= 1.
void softmax_inplace(float* x, int64_t n);

}  // namespace r1
