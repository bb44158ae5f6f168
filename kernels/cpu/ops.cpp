#include "kernels/cpu/ops.h"

#include <cmath>

namespace r1 {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void rope_cache(float* cos_out, float* sin_out, int64_t rope_dims, int64_t pos, float freq_base,
                float freq_scale) {
  // theta_i = pos * base^(-2i/d), built by repeated multiplication as llama.cpp does, so the
  // angles round the same way.
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(rope_dims));
  float theta = static_cast<float>(pos) * freq_scale;
  for (int64_t i = 0; i < rope_dims / 2; ++i) {
    cos_out[i] = std::cos(theta);
    sin_out[i] = std::sin(theta);
    theta *= theta_scale;
  }
}

void rope_apply(float* x, const float* cos_v, const float* sin_v, int64_t rope_dims, bool neox) {
  const int64_t half = rope_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = neox ? i : 2 * i;
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = x[a];
    const float x1 = x[b];
    x[a] = x0 * cos_v[i] - x1 * sin_v[i];
    x[b] = x0 * sin_v[i] + x1 * cos_v[i];
  }
}

void rope(float* x, int64_t head_dim, int64_t rope_dims, int64_t pos, float freq_base,
          float freq_scale, bool neox) {
  float cos_v[512];
  float sin_v[512];
  (void)head_dim;
  rope_cache(cos_v, sin_v, rope_dims, pos, freq_base, freq_scale);
  rope_apply(x, cos_v, sin_v, rope_dims, neox);
}

void softmax_inplace(float* x, int64_t n) {
  float max_v = x[0];
  for (int64_t i = 1; i < n; ++i) max_v = x[i] > max_v ? x[i] : max_v;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - max_v);
    x[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace r1
