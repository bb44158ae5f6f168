#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>

namespace r1 {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n,
                float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    var += d * d;
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(n) + eps));
  const auto m = static_cast<float>(mean);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * scale * weight[i] + bias[i];
}

// Cloned per instruction set (chosen at load time by the CPU): the loop is plain arithmetic that
// the compiler vectorises 16 wide with AVX-512, where the baseline build would use SSE2.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void gelu(float* x,
                                                                                        int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float z = std::min(4.0f, std::max(-4.0f, v * 0.70710678118654752f));
    const float z2 = z * z;
    float p = z2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = z2 * p + -2.10102402082508e-06f;
    p = z2 * p + -5.69250639462346e-05f;
    p = z2 * p + -7.34990630326855e-04f;
    p = z2 * p + -2.95459980854025e-03f;
    p = z2 * p + -1.60960333262415e-02f;
    p = z * p;
    float q = z2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = z2 * q + -1.68282697438203e-03f;
    q = z2 * q + -7.37332916720468e-03f;
    q = z2 * q + -1.42647390514189e-02f;
    x[i] = 0.5f * v * (1.0f + p / q);
  }
}

void gelu_ref(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
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
