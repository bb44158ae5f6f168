// Transformer ops against their textbook formulas, and the fast attention and matmul paths
// against their references.
#include "kernels/cpu/ops.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
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

// Products of f16-rounded operands are exact in f32, so the paths differ only where exp_row's
// <= 2 ulp flips the f16 rounding of a probability: one f16 ulp (<= 2^-11) times |v| (< ~4) is
// < 2e-3 absolute. Measured: 0 on every shape below.
TEST_CASE("grouped attention equals the per-head reference across shapes and the diagonal") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  struct Shape {
    int64_t head_dim, n_group, n_tokens, n_kv_first;
  };
  const Shape shapes[] = {{64, 3, 1, 1},   {64, 3, 8, 1},    {64, 3, 8, 120}, {64, 1, 24, 277},
                          {64, 7, 5, 33},  {128, 1, 1, 300}, {128, 3, 9, 50}, {128, 7, 3, 298},
                          {64, 3, 1, 300}, {128, 7, 1, 1},   {64, 1, 13, 7}};
  for (const Shape& sh : shapes) {
    const int64_t hd = sh.head_dim, n_kv = sh.n_kv_first + sh.n_tokens - 1;
    const int64_t n_kv_head = 2, kv_stride = n_kv_head * hd, kv_offset = hd;  // second kv head
    const int64_t q_stride = sh.n_group * hd * n_kv_head;  // other group's heads interleaved
    std::vector<float> q(sh.n_tokens * q_stride);
    std::vector<uint16_t> k(n_kv * kv_stride), v(n_kv * kv_stride);
    for (auto& e : q) e = nd(rng) * 2.0f;  // sharp softmax as well as flat
    for (auto& e : k) e = f32_to_f16(nd(rng));
    for (auto& e : v) e = f32_to_f16(nd(rng));
    std::vector<float> scratch(attention_group_scratch_floats(sh.n_tokens * sh.n_group, n_kv, hd));
    std::vector<float> o1(q.size(), -7.0f), o2(q.size(), -7.0f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    attention_group(q.data(), q_stride, sh.n_tokens, sh.n_group, k.data(), v.data(), sh.n_kv_first,
                    kv_stride, kv_offset, hd, scale, scratch.data(), o1.data(), q_stride);
    attention_group_ref(q.data(), q_stride, sh.n_tokens, sh.n_group, k.data(), v.data(),
                        sh.n_kv_first, kv_stride, kv_offset, hd, scale, scratch.data(), o2.data(),
                        q_stride);
    double max_diff = 0;
    for (size_t i = 0; i < o1.size(); ++i)
      max_diff = std::max(max_diff, std::fabs(double(o1[i]) - o2[i]));
    CAPTURE(hd);
    CAPTURE(sh.n_group);
    CAPTURE(sh.n_tokens);
    CAPTURE(sh.n_kv_first);
    CAPTURE(max_diff);
    CHECK(max_diff < 2e-3);
  }
}

TEST_CASE("f32_to_f16_row rounds exactly as f32_to_f16, specials included") {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd;
  std::vector<float> x = {0.0f,  -0.0f,    INFINITY, -INFINITY, NAN,      65504.0f,     65520.0f,
                          1e-8f, 5.96e-8f, 2.98e-8f, 6.1e-5f,   -3.0e-6f, 1.0009765625f};
  for (int i = 0; i < 1000; ++i) x.push_back(nd(rng) * std::exp2(static_cast<float>(i % 40 - 25)));
  std::vector<uint16_t> y(x.size());
  f32_to_f16_row(x.data(), y.data(), static_cast<int64_t>(x.size()));
  int64_t mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) mismatches += y[i] != f32_to_f16(x[i]);
  CHECK(mismatches == 0);
}

TEST_CASE("exp_row is within 2 ulp of std::exp over the softmax range") {
  std::vector<float> x;
  for (float e = -87.0f; e <= 0.0f; e += 0.000731f) x.push_back(e);
  for (float e = 0.0f; e <= 88.0f; e += 0.0137f) x.push_back(e);
  x.push_back(-INFINITY);
  x.push_back(-100.0f);
  std::vector<float> y(x.size());
  exp_row(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double max_rel = 0;
  float worst_x = 0;
  for (size_t i = 0; i + 2 < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    const double rel = std::fabs(y[i] - want) / want;
    if (rel > max_rel) max_rel = rel, worst_x = x[i];
  }
  CAPTURE(worst_x);
  CAPTURE(max_rel);
  CHECK(max_rel < 2 * 1.1920929e-7);  // 2 ulp = 2 * 2^-23 relative at worst; measured 1.16e-7
  CHECK(y[y.size() - 2] == 0.0f);
  CHECK(y[y.size() - 1] == 0.0f);
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
      REQUIRE(quantize_row_ref(t, src, dst, cols));
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
      REQUIRE(
          dequantize_row_ref(act.dot_type, act.data.data() + tok * act.row_bytes, xd.data(), cols));
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

TEST_CASE("layer_norm centres, scales by the biased variance, then applies weight and bias") {
  std::vector<float> x = {1, 2, 3, 6};
  std::vector<float> w = {1, 2, 1, 0.5f};
  std::vector<float> b = {0, 1, -1, 0};
  std::vector<float> y(4);
  layer_norm(x.data(), w.data(), b.data(), y.data(), 4, 1e-12f);
  const double mean = 3.0, var = (4 + 1 + 0 + 9) / 4.0;
  for (int i = 0; i < 4; ++i) {
    CHECK(y[i] == doctest::Approx((x[i] - mean) / std::sqrt(var) * w[i] + b[i]).epsilon(1e-6));
  }
}

TEST_CASE("gelu's rational erf tracks std::erf within 3e-7 per unit of |x| everywhere") {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.001f) x.push_back(v);
  x.push_back(1e-30f);
  x.push_back(-0.0f);
  std::vector<float> fast = x, ref = x;
  gelu(fast.data(), static_cast<int64_t>(fast.size()));
  gelu_ref(ref.data(), static_cast<int64_t>(ref.size()));
  double worst = 0.0;
  float worst_at = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    const double err = std::abs(static_cast<double>(fast[i]) - ref[i]) /
                       std::max(1.0, std::abs(static_cast<double>(x[i])));
    if (err > worst) {
      worst = err;
      worst_at = x[i];
    }
  }
  INFO("worst relative error " << worst << " at x = " << worst_at);
  CHECK(worst <= 3e-7);
}

TEST_CASE("matmul_strided reads strided rows and writes a strided output like matmul_ref") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (TensorType type : {TensorType::kF32, TensorType::kF16}) {
    for (int64_t n_tokens : {1, 5, 37, 130}) {
      const int64_t rows = 37, cols = 32, w_pitch = 40, x_pitch = 48, y_pitch = 50;
      std::vector<float> wf(rows * cols), xf(n_tokens * cols);
      for (float& v : wf) v = u(rng);
      for (float& v : xf) v = u(rng);
      // Weights and activations in the type's storage, rows placed w_pitch / x_pitch apart.
      const int64_t esz = type == TensorType::kF32 ? 4 : 2;
      std::vector<uint8_t> w(rows * w_pitch * esz), x(n_tokens * x_pitch * esz);
      std::vector<float> w_round(rows * cols), x_round(n_tokens * cols);
      for (int64_t r = 0; r < rows; ++r) {
        quantize_row_ref(type, &wf[r * cols], &w[r * w_pitch * esz], cols);
        dequantize_row_ref(type, &w[r * w_pitch * esz], &w_round[r * cols], cols);
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        quantize_row_ref(type, &xf[t * cols], &x[t * x_pitch * esz], cols);
        dequantize_row_ref(type, &x[t * x_pitch * esz], &x_round[t * cols], cols);
      }
      std::vector<float> y(n_tokens * y_pitch, -7.0f), ref(n_tokens * rows);
      matmul_strided(type, w.data(), rows, w_pitch * esz, cols, x.data(), x_pitch * esz, n_tokens,
                     y.data(), y_pitch);
      matmul_ref(TensorType::kF32, w_round.data(), rows, cols, x_round.data(), n_tokens,
                 ref.data());
      double max_diff = 0.0;
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          max_diff = std::max(
              max_diff, std::abs(static_cast<double>(y[t * y_pitch + r]) - ref[t * rows + r]));
        }
        CHECK(y[t * y_pitch + rows] == -7.0f);  // columns past `rows` untouched
      }
      INFO(tensor_type_name(type) << " n_tokens " << n_tokens << " max diff " << max_diff);
      CHECK(max_diff < 1e-4);
    }
  }
}

}  // namespace r1
