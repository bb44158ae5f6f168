#include "kernels/cpu/attention.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"

namespace r1 {

void attention_head_ref(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_kv,
                        int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                        float* scores, float* out) {
  float q16[1024];  // head_dim <= 1024 is checked at model load
  for (int64_t d = 0; d < head_dim; ++d) q16[d] = f16_to_f32(f32_to_f16(q[d]));
  for (int64_t j = 0; j < n_kv; ++j) {
    const uint16_t* kr = k + j * kv_stride + kv_offset;
    float acc = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) acc += q16[d] * f16_to_f32(kr[d]);
    scores[j] = acc * scale;
  }
  softmax_inplace(scores, n_kv);
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float p = f16_to_f32(f32_to_f16(scores[j]));
    const uint16_t* vr = v + j * kv_stride + kv_offset;
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p * f16_to_f32(vr[d]);
  }
}

// Defined in attention_avx2.cpp (compiled for AVX2+FMA+F16C); head_dim % 8 == 0, <= 1024.
void attention_group_avx2(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                          const uint16_t* k, const uint16_t* v, int64_t n_kv_first,
                          int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                          float* scratch, float* out, int64_t out_stride);
void exp_row_avx2(const float* x, float* y, int64_t n);
void f32_to_f16_row_avx2(const float* x, uint16_t* y, int64_t n);

namespace {
bool cpu_has_avx2_f16c() {
  // Every AVX2 CPU also has F16C (and some compilers cannot query "f16c" by name).
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
}  // namespace

void attention_group_ref(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                         const uint16_t* k, const uint16_t* v, int64_t n_kv_first,
                         int64_t kv_stride, int64_t kv_offset, int64_t head_dim, float scale,
                         float* scratch, float* out, int64_t out_stride) {
  for (int64_t i = 0; i < n_tokens; ++i) {
    for (int64_t g = 0; g < n_group; ++g) {
      attention_head_ref(q + i * q_stride + g * head_dim, k, v, n_kv_first + i, kv_stride,
                         kv_offset, head_dim, scale, scratch, out + i * out_stride + g * head_dim);
    }
  }
}

int64_t attention_group_scratch_floats(int64_t n_rows, int64_t n_kv_max, int64_t head_dim) {
  const int64_t n_kv_pad = (n_kv_max + 7) / 8 * 8;
  const int64_t key_tile = 64;  // kKeyTile in attention_avx2.cpp
  return n_rows * head_dim + n_rows * n_kv_pad + key_tile * head_dim;
}

void attention_group(const float* q, int64_t q_stride, int64_t n_tokens, int64_t n_group,
                     const uint16_t* k, const uint16_t* v, int64_t n_kv_first, int64_t kv_stride,
                     int64_t kv_offset, int64_t head_dim, float scale, float* scratch, float* out,
                     int64_t out_stride) {
  if (cpu_has_avx2_f16c() && head_dim % 8 == 0 && head_dim <= 1024) {
    attention_group_avx2(q, q_stride, n_tokens, n_group, k, v, n_kv_first, kv_stride, kv_offset,
                         head_dim, scale, scratch, out, out_stride);
  } else {
    attention_group_ref(q, q_stride, n_tokens, n_group, k, v, n_kv_first, kv_stride, kv_offset,
                        head_dim, scale, scratch, out, out_stride);
  }
}

void exp_row(const float* x, float* y, int64_t n) {
  if (cpu_has_avx2_f16c()) {
    exp_row_avx2(x, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i] < -87.336544f ? -INFINITY : x[i]);
  }
}

void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
  if (cpu_has_avx2_f16c()) {
    f32_to_f16_row_avx2(x, y, n);  // F16C rounds exactly as f32_to_f16 does
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

}  // namespace r1
