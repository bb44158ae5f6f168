// Transformer ops against their textbook formulas, and the fast attention and matmul paths
// against their references.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"

namespace r1 {

TEST_CASE("rms_norm divides by the root mean square") {
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> w = {1, 1, 2, 0.5f};
  std::vector<float> y(4);
  rms_norm(x.data(), w.data(), y.data(), 4, 0.0f);
  const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  CHECK(y[0] == doctest::Approx(1 / rms));
  CHECK(y[2] == doctest::Approx(6 / rms));
  CHECK(y[3] == doctest::Approx(2 / rms));
}

TEST_CASE("rope rotates pairs by pos * base^(-2i/d), adjacent or half-split") {
  const int64_t d = 8;
  for (bool neox : {false, true}) {
    std::vector<float> x(d);
    for (int i = 0; i < d; ++i) x[i] = 0.5f + i;
    std::vector<float> y = x;
    rope(y.data(), d, d, 3, 10000.0f, 1.0f, neox);
    for (int i = 0; i < d / 2; ++i) {
      const double theta = 3.0 * std::pow(10000.0, -2.0 * i / d);
      const int a = neox ? i : 2 * i;
      const int b = neox ? i + d / 2 : 2 * i + 1;
      CHECK(y[a] == doctest::Approx(x[a] * std::cos(theta) - x[b] * std::sin(theta)).epsilon(1e-5));
      CHECK(y[b] == doctest::Approx(x[a] * std::sin(theta) + x[b] * std::cos(theta)).epsilon(1e-5));
    }
  }
}

TEST_CASE("softmax sums to one and keeps order") {
  std::vector<float> x = {1.0f, 3.0f, 2.0f, -50.0f};
  softmax_inplace(x.data(), 4);
  CHECK(x[0] + x[1] + x[2] + x[3] == doctest::Approx(1.0f));
  CHECK(x[1] > x[2]);
  CHECK(x[2] > x[0]);
}

TEST_CASE("fast attention equals the reference") {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const int64_t hd = 64, kv_stride = 128, n_kv = 37;
  std::vector<float> q(hd);
  std::vector<uint16_t> k(n_kv * kv_stride), v(n_kv * kv_stride);
  for (auto& e : q) e = nd(rng);
  for (auto& e : k) e = f32_to_f16(nd(rng));
  for (auto& e : v) e = f32_to_f16(nd(rng));
  std::vector<float> s1(n_kv), s2(n_kv), o1(hd), o2(hd);
  attention_head(q.data(), k.data(), v.data(), n_kv, kv_stride, 64, hd, 0.125f, s1.data(), o1.data());
  attention_head_ref(q.data(), k.data(), v.data(), n_kv, kv_stride, 64, hd, 0.125f, s2.data(), o2.data());
  double max_diff = 0;
  for (int64_t d = 0; d < hd; ++d) max_diff = std::max(max_diff, std::fabs(double(o1[d]) - o2[d]));
  CAPTURE(max_diff);
  CHECK(max_diff < 1e-4);
}

TEST_CASE("threaded matmul equals the double-precision reference for each weight type") {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  const int64_t rows = 67, cols = 512, n_tokens = 5;
  std::vector<float> w(rows * cols), x(n_tokens * cols);
  for (auto& e : w) e = nd(rng);
  for (auto& e : x) e = nd(rng);
  ThreadPool pool(2);
  const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                              TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                              TensorType::kQ4_K, TensorType::kQ6_K};
  for (TensorType t : types) {
    const int64_t row_bytes = tensor_row_bytes(t, cols);
    std::vector<uint8_t> wq(rows * row_bytes);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* dst = wq.data() + r * row_bytes;
      const float* src = w.data() + r * cols;
      switch (t) {
        case TensorType::kF32: std::memcpy(dst, src, cols * 4); break;
        case TensorType::kF16:
          for (int64_t c = 0; c < cols; ++c) reinterpret_cast<uint16_t*>(dst)[c] = f32_to_f16(src[c]);
          break;
        case TensorType::kBF16:
          for (int64_t c = 0; c < cols; ++c) reinterpret_cast<uint16_t*>(dst)[c] = f32_to_bf16(src[c]);
          break;
        case TensorType::kQ8_0: quantize_row_q8_0_ref(src, reinterpret_cast<BlockQ8_0*>(dst), cols); break;
        case TensorType::kQ4_0: quantize_row_q4_0_ref(src, reinterpret_cast<BlockQ4_0*>(dst), cols); break;
        case TensorType::kQ4_1: quantize_row_q4_1_ref(src, reinterpret_cast<BlockQ4_1*>(dst), cols); break;
        case TensorType::kQ4_K: quantize_row_q4_k_ref(src, reinterpret_cast<BlockQ4_K*>(dst), cols); break;
        case TensorType::kQ6_K: quantize_row_q6_k_ref(src, reinterpret_cast<BlockQ6_K*>(dst), cols); break;
        default: FAIL("type not covered");
      }
    }
    std::vector<float> y(n_tokens * rows);
    ActivationBuffer act;
    REQUIRE(quantize_activations(pool, t, x.data(), n_tokens, cols, act));
    MatmulTarget target{t, wq.data(), rows, y.data(), rows};
    matmul(pool, act, &target, 1);

    // Reference: the same rounded activations and weights, multiplied in double. What is left
    // is only float accumulation order, measured against the sum of |w_i x_i|.
    std::vector<float> wd(cols), xd(cols);
    double max_rel = 0;
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
      REQUIRE(dequantize_row_ref(act.dot_type, act.data.data() + tok * act.row_bytes, xd.data(), cols));
      for (int64_t r = 0; r < rows; ++r) {
        REQUIRE(dequantize_row_ref(t, wq.data() + r * row_bytes, wd.data(), cols));
        double ref = 0, scale = 0;
        for (int64_t c = 0; c < cols; ++c) {
          ref += double(wd[c]) * xd[c];
          scale += std::fabs(double(wd[c]) * xd[c]);
        }
        max_rel = std::max(max_rel, std::fabs(y[tok * rows + r] - ref) / scale);
      }
    }
    CAPTURE(max_rel);
    CAPTURE(std::string(tensor_type_name(t)));
    // f32 accumulation of 512 terms (measured 2e-8); Q4_1 also rounds each block sum of the
    // activations to f16 (measured 5e-5).
    const double tol = t == TensorType::kQ4_1 ? 5e-4 : 1e-5;
    CHECK(max_rel < tol);
  }
}

}  // namespace r1
