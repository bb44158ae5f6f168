// Tests for kernels/cpu/quant.{h,cpp}: f16/bf16 conversion, block layouts (pinned by
// hand-built blocks), quantizer error bounds, reference dot products against a double-precision
// dot of the dequantized rows, and every fast variant against the reference.
#include "kernels/cpu/quant.h"

#include <doctest/doctest.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace r1 {
namespace {

std::vector<float> random_row(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

float bits_to_f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}
uint32_t f32_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// Quantizes f32 weights into `type` with the reference quantizer; bytes of one row.
std::vector<uint8_t> quantize_weights(TensorType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> out(static_cast<size_t>(tensor_row_bytes(type, n)));
  REQUIRE(quantize_row_ref(type, x.data(), out.data(), n));
  return out;
}

std::vector<float> dequantize(TensorType type, const void* src, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  REQUIRE(dequantize_row_ref(type, src, y.data(), n));
  return y;
}

constexpr TensorType kWeightTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                       TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ8_0,
                                       TensorType::kQ4_K, TensorType::kQ6_K};

const char* isa_name(CpuIsa isa) {
  return isa == CpuIsa::kAvx512 ? "avx512" : isa == CpuIsa::kAvx2 ? "avx2" : "scalar";
}

}  // namespace

// ---- f16 / bf16 ---------------------------------------------------------------------------------

TEST_CASE("f32_to_f16 rounds to nearest even and handles the edges of the half range") {
  CHECK(f32_to_f16(0.f) == 0x0000);
  CHECK(f32_to_f16(-0.f) == 0x8000);
  CHECK(f32_to_f16(1.f) == 0x3C00);
  CHECK(f32_to_f16(-2.f) == 0xC000);
  CHECK(f32_to_f16(65504.f) == 0x7BFF);  // largest finite half
  CHECK(f32_to_f16(65519.f) == 0x7BFF);  // below the midpoint to 65536
  CHECK(f32_to_f16(65520.f) == 0x7C00);  // midpoint ties to even: inf
  CHECK(f32_to_f16(1e10f) == 0x7C00);
  CHECK(f32_to_f16(std::ldexp(1.f, -14)) == 0x0400);  // smallest normal
  CHECK(f32_to_f16(std::ldexp(1.f, -24)) == 0x0001);  // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.f, -25)) == 0x0000);  // half of it ties to even: zero
  CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(f32_to_f16(std::ldexp(1.5f, -24)) == 0x0002);       // 1.5 ulp ties to even: 2
  CHECK(f32_to_f16(std::ldexp(2.5f, -24)) == 0x0002);       // 2.5 ulp ties to even: 2
  CHECK(f32_to_f16(std::ldexp(1023.f, -24)) == 0x03FF);     // largest subnormal
  CHECK(f32_to_f16(std::ldexp(1023.5f, -24)) == 0x0400);    // rounds up into the normals
  CHECK(f32_to_f16(1.f + std::ldexp(1.f, -11)) == 0x3C00);  // tie, even stays
  CHECK(f32_to_f16(1.f + std::ldexp(3.f, -11)) == 0x3C02);  // tie, odd rounds up
  CHECK(f32_to_f16(1.f + std::ldexp(1.f, -11) + std::ldexp(1.f, -20)) == 0x3C01);  // above tie
  CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7C00);
  CHECK(f32_to_f16(-std::numeric_limits<float>::infinity()) == 0xFC00);
  const f16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);
  CHECK(f32_to_f16(bits_to_f32(0x7F800001)) != 0x7C00);  // a signaling NaN stays a NaN
}

TEST_CASE("f16_to_f32 decodes normals, subnormals, infinities and NaN") {
  CHECK(f16_to_f32(0x3C00) == 1.f);
  CHECK(f16_to_f32(0xC000) == -2.f);
  CHECK(f16_to_f32(0x7BFF) == 65504.f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.f, -24));
  CHECK(f16_to_f32(0x03FF) == std::ldexp(1023.f, -24));
  CHECK(f16_to_f32(0x0400) == std::ldexp(1.f, -14));
  CHECK(f32_bits(f16_to_f32(0x8000)) == 0x80000000u);
  CHECK(std::isinf(f16_to_f32(0x7C00)));
  CHECK(f16_to_f32(0xFC00) < 0.f);
  CHECK(std::isnan(f16_to_f32(0x7E00)));
  CHECK(std::isnan(f16_to_f32(0x7C01)));
}

TEST_CASE("every f16 value survives f16 -> f32 -> f16") {
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<f16_t>(h));
    const f16_t back = f32_to_f16(f);
    const bool is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    if (is_nan ? !std::isnan(f16_to_f32(back)) : back != h) ++mismatches;
  }
  CHECK(mismatches == 0);
}

__attribute__((target("f16c"))) static f16_t f16c_from_f32(float f) {
  return static_cast<f16_t>(_cvtss_sh(f, 0));
}
__attribute__((target("f16c"))) static float f16c_to_f32(f16_t h) {
  return _cvtsh_ss(h);
}

TEST_CASE("scalar f16 conversion agrees bit for bit with the F16C instructions") {
  if (!__builtin_cpu_supports("f16c")) return;
  std::mt19937 rng(7);
  int mismatches = 0;
  uint32_t first_bad = 0;
  for (int i = 0; i < 1000000; ++i) {
    // random bit patterns cover every exponent, including sub/overflow and NaN payloads
    const uint32_t bits = rng();
    const float f = bits_to_f32(bits);
    if (f32_to_f16(f) != f16c_from_f32(f) && mismatches++ == 0) first_bad = bits;
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float a = f16_to_f32(static_cast<f16_t>(h)), b = f16c_to_f32(static_cast<f16_t>(h));
    if (f32_bits(a) != f32_bits(b) && mismatches++ == 0) first_bad = h;
  }
  INFO("first mismatching bits: 0x" << std::hex << first_bad);
  CHECK(mismatches == 0);
}

TEST_CASE("bf16 conversion rounds to nearest even, keeps subnormals and quiets NaN") {
  CHECK(f32_to_bf16(1.f) == 0x3F80);
  CHECK(f32_to_bf16(1.f + std::ldexp(1.f, -8)) == 0x3F80);  // tie, even stays
  CHECK(f32_to_bf16(1.f + std::ldexp(3.f, -8)) == 0x3F82);  // tie, odd rounds up
  CHECK(f32_to_bf16(std::ldexp(1.f, -130)) == 0x0008);      // subnormal kept
  CHECK(f32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(f32_to_bf16(bits_to_f32(0x7FFFFFFF)) == 0x7FFF);  // NaN does not round into inf
  CHECK(f32_to_bf16(bits_to_f32(0x7F800001)) == 0x7FC0);  // signaling NaN made quiet
  CHECK(f32_to_bf16(3.4e38f) == 0x7F80);                  // rounds past the largest: inf
  CHECK(bf16_to_f32(0xC040) == -3.f);
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const bool is_nan = (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0;
    if (!is_nan && f32_to_bf16(bf16_to_f32(static_cast<bf16_t>(h))) != h) ++mismatches;
  }
  CHECK(mismatches == 0);
}

// ---- block layouts, pinned by hand-built blocks
// --------------------------------------------------

TEST_CASE("Q4_0 block: element j is the low nibble of qs[j], j + 16 the high one, x = d(q - 8)") {
  BlockQ4_0 b;
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequantize(TensorType::kQ4_0, &b, 32);
  CHECK(y[0] == -4.f);   // 0.5 * (0 - 8)
  CHECK(y[3] == -2.5f);  // 0.5 * (3 - 8)
  CHECK(y[15] == 3.5f);  // 0.5 * (15 - 8)
  CHECK(y[16] == 3.5f);  // high nibble of qs[0] = 15
  CHECK(y[31] == -4.f);  // high nibble of qs[15] = 0
}

TEST_CASE("Q4_1 block: x = d q + m with the Q4_0 nibble order") {
  BlockQ4_1 b;
  b.d = f32_to_f16(0.25f);
  b.m = f32_to_f16(-1.f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (2 << 4));
  const auto y = dequantize(TensorType::kQ4_1, &b, 32);
  CHECK(y[0] == -1.f);
  CHECK(y[15] == 2.75f);  // 0.25 * 15 - 1
  CHECK(y[16] == -0.5f);  // 0.25 * 2 - 1
}

TEST_CASE("Q8_0 block: x = d q") {
  BlockQ8_0 b;
  b.d = f32_to_f16(2.f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  const auto y = dequantize(TensorType::kQ8_0, &b, 32);
  CHECK(y[0] == -32.f);
  CHECK(y[31] == 30.f);
}

TEST_CASE(
    "Q4_K block: 6-bit scales and mins unpack as ggml packs them with nibbles per 64 elements") {
  // sc = {1, 17, 33, 63, 5, 20, 40, 62}, m = {0, 3, 16, 63, 7, 31, 48, 2}, packed by hand:
  // bytes 0-3: sc[j] | (sc[j+4] >> 4) << 6; 4-7: m[j] | (m[j+4] >> 4) << 6;
  // 8-11: (sc[j+4] & 15) | (m[j+4] & 15) << 4.
  BlockQ4_K b;
  const uint8_t scales[12] = {0x01, 0x51, 0xA1, 0xFF, 0x00, 0x43,
                              0xD0, 0x3F, 0x75, 0xF4, 0x08, 0x2E};
  std::memcpy(b.scales, scales, 12);
  b.d = f32_to_f16(1.f);
  b.dmin = f32_to_f16(0.5f);
  std::memset(b.qs, 0xA3, sizeof(b.qs));  // low nibble 3 (even sub-blocks), high 10 (odd ones)
  b.qs[0] = 0x5C;   // element 0 (sub-block 0) = 12, element 32 (sub-block 1) = 5
  b.qs[33] = 0x71;  // element 65 (sub-block 2) = 1, element 97 (sub-block 3) = 7
  const auto y = dequantize(TensorType::kQ4_K, &b, 256);
  // x = d * sc * q - dmin * m
  CHECK(y[0] == 12.f);      // 1 * 12 - 0
  CHECK(y[1] == 3.f);       // 1 * 3 - 0
  CHECK(y[32] == 83.5f);    // 17 * 5 - 1.5
  CHECK(y[33] == 168.5f);   // 17 * 10 - 1.5
  CHECK(y[64] == 91.f);     // 33 * 3 - 8
  CHECK(y[65] == 25.f);     // 33 * 1 - 8
  CHECK(y[97] == 409.5f);   // 63 * 7 - 31.5
  CHECK(y[100] == 598.5f);  // 63 * 10 - 31.5
  CHECK(y[128] == 11.5f);   // 5 * 3 - 3.5
  CHECK(y[191] == 184.5f);  // 20 * 10 - 15.5
  CHECK(y[192] == 96.f);    // 40 * 3 - 24
  CHECK(y[255] == 619.f);   // 62 * 10 - 1
}

TEST_CASE("Q6_K block: ql/qh layout per 128 elements, int8 scale per 16, q - 32") {
  BlockQ6_K b;
  std::memset(&b, 0, sizeof(b));
  b.d = f32_to_f16(0.5f);
  const int8_t scales[16] = {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8};
  std::memcpy(b.scales, scales, 16);
  b.ql[0] = 0x21;       // low nibble 1 -> element 0, high nibble 2 -> element 64
  b.qh[0] = 0xE4;       // bit pairs (from bit 0): 0 -> el. 0, 1 -> el. 32, 2 -> el. 64, 3 -> el. 96
  b.ql[64 + 5] = 0x0F;  // second half: element 128 + 5
  b.qh[32 + 5] = 0x03;
  const auto y = dequantize(TensorType::kQ6_K, &b, 256);
  CHECK(y[0] == -15.5f);    // q = 1 | 0 << 4 = 1 -> -31; 0.5 * 1 * -31
  CHECK(y[1] == -16.f);     // q = 0 -> -32; scale 1
  CHECK(y[32] == -24.f);    // q = 0 | 1 << 4 = 16 -> -16; scale index 2 (= 3)
  CHECK(y[64] == 5.f);      // q = 2 | 2 << 4 = 34 -> 2; scale index 4 (= 5)
  CHECK(y[96] == 56.f);     // q = 0 | 3 << 4 = 48 -> 16; scale index 6 (= 7)
  CHECK(y[133] == -15.5f);  // q = 15 | 3 << 4 = 63 -> 31; scale index 8 (= -1)
  CHECK(y[197] == 80.f);    // q = 0 -> -32; scale index 12 (= -5)
}

// ---- activation quantizers
// ------------------------------------------------------------------------

TEST_CASE("Q8_0 activations: scale 127/amax, ties round to even as llama.cpp's x86 build") {
  std::vector<float> x(32, 0.f);
  x[0] = 127.f;  // amax 127: the multiplier is exactly 1
  x[1] = 0.5f;
  x[2] = 1.5f;
  x[3] = 2.5f;
  x[4] = -2.5f;
  x[5] = -126.5f;
  x[6] = 3.4f;
  BlockQ8_0 b;
  quantize_row_q8_0_ref(x.data(), &b, 32);
  CHECK(b.d == f32_to_f16(1.f));
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == 0);
  CHECK(b.qs[2] == 2);
  CHECK(b.qs[3] == 2);
  CHECK(b.qs[4] == -2);
  CHECK(b.qs[5] == -126);
  CHECK(b.qs[6] == 3);
  std::vector<float> zeros(32, 0.f);
  quantize_row_q8_0_ref(zeros.data(), &b, 32);
  CHECK(b.d == 0);
  CHECK(b.qs[7] == 0);
}

TEST_CASE("Q8_1 activations: s is the f16 of (f32 d) * sum(q)") {
  const auto x = random_row(64, 11);
  BlockQ8_1 b[2];
  quantize_row_q8_1_ref(x.data(), b, 64);
  BlockQ8_0 c[2];
  quantize_row_q8_0_ref(x.data(), c, 64);
  for (int i = 0; i < 2; ++i) {
    float amax = 0.f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      amax = std::max(amax, std::fabs(x[32 * i + j]));
      sum += b[i].qs[j];
      CHECK(b[i].qs[j] == c[i].qs[j]);
    }
    CHECK(b[i].d == c[i].d);
    CHECK(b[i].s == f32_to_f16(amax / 127.f * static_cast<float>(sum)));
  }
}

TEST_CASE("Q8_K activations: the signed extreme maps to -127, d = -max/127, bsums per 16") {
  std::vector<float> x(256, 0.f);
  for (int j = 0; j < 256; ++j) x[j] = 0.01f * static_cast<float>(j % 50) - 0.2f;
  x[5] = 2.54f;  // the extreme
  x[6] = -1.27f;
  BlockQ8_K b;
  quantize_row_q8_k_ref(x.data(), &b, 256);
  CHECK(b.qs[5] == -127);
  CHECK(b.qs[6] == 64);  // -127/2.54 * -1.27 = 63.5 -> ties to even: 64
  CHECK(b.d == doctest::Approx(-2.54f / 127.f).epsilon(1e-6));
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
    CHECK(b.bsums[g] == sum);
  }
  std::vector<float> zeros(256, 0.f);
  quantize_row_q8_k_ref(zeros.data(), &b, 256);
  CHECK(b.d == 0.f);
  CHECK(b.bsums[3] == 0);
}

TEST_CASE("quantize then dequantize stays within each format's error bound") {
  // Bound per element, relative to the amax of its block (32 or 256 elements): half a step
  // plus the f16 rounding of the scales, with margin; Q4_0 can clamp +amax to 7 steps (a full
  // step), Q4_K/Q6_K carry 6/8-bit scale rounding.
  struct Case {
    TensorType type;
    int block;
    float bound;  // x amax
  };
  const Case cases[] = {
      {TensorType::kQ8_0, 32, 1.f / 254 + 1e-3f},
      {TensorType::kQ4_0, 32, 1.f / 8 + 1e-3f},
      {TensorType::kQ4_1, 32, 2.f / 30 + 2e-3f},
      {TensorType::kQ4_K, 256, 0.1f},
      {TensorType::kQ6_K, 256, 0.03f},
      {TensorType::kF16, 1, 1e-3f},
      {TensorType::kBF16, 1, 8e-3f},
  };
  for (const Case& c : cases) {
    const auto x = random_row(4096, 3, 2.f);
    const auto q = quantize_weights(c.type, x);
    const auto y = dequantize(c.type, q.data(), 4096);
    float worst = 0.f;  // max |err| / block amax
    for (int64_t b0 = 0; b0 < 4096; b0 += c.block) {
      float amax = 0.f;
      for (int j = 0; j < c.block; ++j) amax = std::max(amax, std::fabs(x[b0 + j]));
      for (int j = 0; j < c.block; ++j) {
        worst = std::max(worst, std::fabs(y[b0 + j] - x[b0 + j]) / amax);
      }
    }
    INFO(tensor_type_name(c.type) << ": worst error / block amax = " << worst);
    CHECK(worst <= c.bound);
  }
}

// ---- dot products
// -----------------------------------------------------------------------------------

namespace {

struct DotCase {
  std::vector<uint8_t> w;    // weight rows, row_bytes apart
  std::vector<uint8_t> act;  // one activation row in the dot type
  int64_t row_bytes = 0;
  double exact[4] = {};     // double dot of dequantized weights and dequantized activations
  double scale[4] = {};     // sum |w_i a_i|: the error budget scales with it
  double min_term[4] = {};  // Q4_1: sum |m_w s_a|, whose f16 rounding the dot inherits
};

DotCase make_dot_case(TensorType type, int64_t n, uint32_t seed) {
  const CpuTypeKernels* k = cpu_type_kernels(type);
  DotCase c;
  c.row_bytes = tensor_row_bytes(type, n);
  const auto a_f32 = random_row(n, seed + 100);
  c.act.resize(static_cast<size_t>(tensor_row_bytes(k->dot_type, n)));
  k->quantize_act(a_f32.data(), c.act.data(), n);
  const auto a = dequantize(k->dot_type, c.act.data(), n);
  for (int r = 0; r < 4; ++r) {
    // rows with an offset so Q4_1 mins and Q4_K mins are exercised
    auto x = random_row(n, seed + r, 0.5f + 0.25f * r);
    for (auto& v : x) v += 0.1f * static_cast<float>(r);
    const auto q = quantize_weights(type, x);
    c.w.insert(c.w.end(), q.begin(), q.end());
    const auto wd = dequantize(type, q.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      c.exact[r] += static_cast<double>(wd[i]) * a[i];
      c.scale[r] += std::fabs(static_cast<double>(wd[i]) * a[i]);
    }
    if (type == TensorType::kQ4_1) {
      const auto* wb = reinterpret_cast<const BlockQ4_1*>(q.data());
      const auto* ab = reinterpret_cast<const BlockQ8_1*>(c.act.data());
      for (int64_t b = 0; b < n / 32; ++b) {
        c.min_term[r] += std::fabs(static_cast<double>(f16_to_f32(wb[b].m)) * f16_to_f32(ab[b].s));
      }
    }
  }
  return c;
}

std::vector<int64_t> sizes_for(TensorType type) {
  const int64_t bs = tensor_type_traits(type).block_size;
  std::vector<int64_t> out;
  // 96 and 416 (3 and 13 blocks of 32): a row shorter than a group of 8 blocks, and an odd tail
  for (int64_t n : {96, 256, 416, 576, 1536, 4096 + 256}) {
    if (n % bs == 0) out.push_back(n);
  }
  return out;
}

}  // namespace

TEST_CASE("vec_dot_ref equals the double dot of the dequantized rows") {
  // Float summation of per-block terms: relative error well under 1e-5 of sum |w a|. Q4_1 also
  // carries the f16 rounding of s = d * sum(q) (and of d), up to 2^-10 of each |m_w s_a|.
  for (TensorType type : kWeightTypes) {
    const CpuTypeKernels* k = cpu_type_kernels(type);
    REQUIRE(k != nullptr);
    for (int64_t n : sizes_for(type)) {
      const DotCase c = make_dot_case(type, n, 42);
      for (int r = 0; r < 4; ++r) {
        const float got = k->vec_dot_ref(n, c.w.data() + r * c.row_bytes, c.act.data());
        const double tol = 1e-5 * c.scale[r] + std::ldexp(1.0, -10) * c.min_term[r] + 1e-6;
        INFO(tensor_type_name(type)
             << " n=" << n << " row " << r << ": ref " << got << " exact " << c.exact[r] << " diff "
             << std::fabs(got - c.exact[r]) << " tol " << tol);
        CHECK(std::fabs(got - c.exact[r]) <= tol);
      }
    }
  }
}

TEST_CASE("every fast vec_dot and vec_dot4 equals the reference") {
  // Integer parts are exact; only float summation order differs: 2e-6 of sum |w a|.
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    for (TensorType type : kWeightTypes) {
      const CpuTypeKernels* k = cpu_type_kernels_for_isa(type, isa);
      if (k == nullptr) continue;  // the CPU lacks this level
      for (int64_t n : sizes_for(type)) {
        for (uint32_t seed : {1u, 2u}) {
          const DotCase c = make_dot_case(type, n, seed);
          float out4[4];
          k->vec_dot4(n, c.w.data(), static_cast<size_t>(c.row_bytes), c.act.data(), out4);
          float ref4[4];
          k->vec_dot4_ref(n, c.w.data(), static_cast<size_t>(c.row_bytes), c.act.data(), ref4);
          double max_diff = 0.0, max_diff4 = 0.0;
          bool ok = true;
          for (int r = 0; r < 4; ++r) {
            const float ref = k->vec_dot_ref(n, c.w.data() + r * c.row_bytes, c.act.data());
            const float fast = k->vec_dot(n, c.w.data() + r * c.row_bytes, c.act.data());
            const double tol = 2e-6 * c.scale[r] + 1e-6;
            max_diff = std::max(max_diff, std::fabs(double(fast) - ref));
            max_diff4 = std::max(max_diff4, std::fabs(double(out4[r]) - ref));
            ok = ok && std::fabs(double(fast) - ref) <= tol &&
                 std::fabs(double(out4[r]) - ref) <= tol && ref4[r] == ref;
          }
          INFO(isa_name(isa) << " (" << k->isa << ") " << tensor_type_name(type) << " n=" << n
                             << " seed " << seed << ": max |vec_dot - ref| " << max_diff
                             << ", max |vec_dot4 - ref| " << max_diff4 << ", scale " << c.scale[0]);
          CHECK(ok);
        }
      }
    }
  }
}

TEST_CASE("vec_dot4 honours a row stride larger than the row") {
  for (TensorType type : kWeightTypes) {
    const CpuTypeKernels* k = cpu_type_kernels(type);
    const int64_t n = 512;
    const DotCase c = make_dot_case(type, n, 9);
    const size_t stride = static_cast<size_t>(c.row_bytes) + 64;  // padded rows
    std::vector<uint8_t> padded(4 * stride, 0xEE);
    for (int r = 0; r < 4; ++r)
      std::memcpy(padded.data() + r * stride, c.w.data() + r * c.row_bytes, c.row_bytes);
    float out4[4];
    k->vec_dot4(n, padded.data(), stride, c.act.data(), out4);
    for (int r = 0; r < 4; ++r) {
      const float one = k->vec_dot(n, c.w.data() + r * c.row_bytes, c.act.data());
      INFO(tensor_type_name(type) << " row " << r << ": " << out4[r] << " vs " << one);
      CHECK(std::fabs(double(out4[r]) - one) <= 2e-6 * c.scale[r] + 1e-6);
    }
  }
}

TEST_CASE("every vec_dot_tile equals its reference tile and the single reference dots") {
  // A tile of tile_rows weight rows x tile_tokens activation rows, every row padded so the
  // strides differ from the row sizes, written into an output with a padded stride. The
  // reference tile must be the single reference dots bit for bit; the fast tile may differ by
  // float summation order only (2e-6 of sum |w a|, as vec_dot).
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    for (TensorType type : kWeightTypes) {
      const CpuTypeKernels* k = cpu_type_kernels_for_isa(type, isa);
      if (k == nullptr) continue;  // the CPU lacks this level
      REQUIRE((k->vec_dot_tile != nullptr && k->vec_dot_tile_ref != nullptr));
      const int rows = k->tile_rows, tokens = k->tile_tokens;
      std::vector<int64_t> sizes = sizes_for(type);
      const int64_t bs = tensor_type_traits(type).block_size;
      for (int64_t n : {int64_t{32 * 3}, int64_t{32 * 11}, int64_t{37}, int64_t{16}}) {
        if (n % bs == 0) sizes.push_back(n);  // fewer blocks than a group; odd float lengths
      }
      for (int64_t n : sizes) {
        const int64_t w_bytes = tensor_row_bytes(type, n);
        const int64_t a_bytes = tensor_row_bytes(k->dot_type, n);
        const size_t w_stride = static_cast<size_t>(w_bytes) + 48;
        const size_t a_stride = static_cast<size_t>(a_bytes) + 80;
        std::vector<uint8_t> w(w_stride * rows, 0xEE), act(a_stride * tokens, 0xEE);
        for (int r = 0; r < rows; ++r) {
          auto x = random_row(n, 300 + r, 0.5f + 0.25f * (r % 4));
          for (auto& v : x) v += 0.1f * static_cast<float>(r % 4);  // exercises the Q4_1/Q4_K mins
          const auto q = quantize_weights(type, x);
          std::memcpy(w.data() + r * w_stride, q.data(), q.size());
        }
        for (int t = 0; t < tokens; ++t) {
          const auto a = random_row(n, 700 + t);
          k->quantize_act(a.data(), act.data() + t * a_stride, n);
        }
        const size_t out_stride = static_cast<size_t>(rows) + 3;
        std::vector<float> fast(out_stride * tokens, -1.f), ref(out_stride * tokens, -1.f);
        k->vec_dot_tile(n, w.data(), w_stride, act.data(), a_stride, fast.data(), out_stride);
        k->vec_dot_tile_ref(n, w.data(), w_stride, act.data(), a_stride, ref.data(), out_stride);
        double max_diff = 0.0, worst_ratio = 0.0;
        bool ref_exact = true, padding_kept = true;
        for (int t = 0; t < tokens; ++t) {
          const uint8_t* a = act.data() + t * a_stride;
          for (int r = 0; r < rows; ++r) {
            const float one = k->vec_dot_ref(n, w.data() + r * w_stride, a);
            const auto wd = dequantize(type, w.data() + r * w_stride, n);
            const auto ad = dequantize(k->dot_type, a, n);
            double scale = 0.0;
            for (int64_t i = 0; i < n; ++i) scale += std::fabs(static_cast<double>(wd[i]) * ad[i]);
            const double diff = std::fabs(double(fast[t * out_stride + r]) - one);
            max_diff = std::max(max_diff, diff);
            worst_ratio = std::max(worst_ratio, diff / (2e-6 * scale + 1e-6));
            ref_exact = ref_exact && ref[t * out_stride + r] == one;
          }
          for (size_t r = rows; r < out_stride; ++r) {
            padding_kept =
                padding_kept && fast[t * out_stride + r] == -1.f && ref[t * out_stride + r] == -1.f;
          }
        }
        INFO(isa_name(isa) << " (" << k->isa << ") " << tensor_type_name(type) << " tile " << rows
                           << "x" << tokens << " n=" << n << ": max |vec_dot_tile - vec_dot_ref| "
                           << max_diff << " (" << worst_ratio << " of the tolerance)");
        CHECK(worst_ratio <= 1.0);
        CHECK(ref_exact);
        CHECK(padding_kept);
      }
    }
  }
}

TEST_CASE("quantize_act is bit-identical on every instruction set") {
  // Random values of every magnitude, specials and a length that leaves a tail after the
  // vector loop (for the float types; block types take a multiple of their block).
  std::vector<float> x = random_row(4096 + 256, 77, 3.f);
  std::mt19937 rng(78);
  for (size_t i = 0; i < x.size(); i += 7)
    x[i] = bits_to_f32(rng());  // any bit pattern, NaN included
  x[1] = std::numeric_limits<float>::infinity();
  x[2] = 65520.f;  // rounds to f16 inf
  x[3] = 1e-8f;    // f16 subnormal
  x[4] = -0.f;
  for (int j = 32; j < 64; ++j) x[j] = 0.f;  // an all-zero block: d = 0
  for (int j = 64; j < 96; ++j) x[j] = static_cast<float>(j - 80) + 0.5f;  // q ties round to even
  x[64] = -127.f;                                                          // amax 127: id = 1
  for (TensorType type : kWeightTypes) {
    const CpuTypeKernels* scalar = cpu_type_kernels_for_isa(type, CpuIsa::kScalar);
    const int64_t bs = tensor_type_traits(scalar->dot_type).block_size;
    for (int64_t n : {int64_t{4096 + 256}, int64_t{4096 + 253}, int64_t{5}, int64_t{32}}) {
      if (n % bs != 0) continue;
      const auto bytes = static_cast<size_t>(tensor_row_bytes(scalar->dot_type, n));
      std::vector<uint8_t> want(bytes), got(bytes);
      scalar->quantize_act(x.data(), want.data(), n);
      for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512}) {
        const CpuTypeKernels* k = cpu_type_kernels_for_isa(type, isa);
        if (k == nullptr) continue;
        std::fill(got.begin(), got.end(), 0xEE);
        k->quantize_act(x.data(), got.data(), n);
        size_t first_bad = bytes;
        for (size_t b = 0; b < bytes && first_bad == bytes; ++b) {
          if (got[b] != want[b]) first_bad = b;
        }
        INFO(isa_name(isa) << " " << tensor_type_name(type) << " n=" << n
                           << ": first differing byte " << first_bad);
        CHECK(first_bad == bytes);
      }
    }
  }
}

TEST_CASE("dispatcher: supported types, dot types and the chosen instruction set") {
  CHECK(cpu_type_kernels(TensorType::kQ5_0) == nullptr);
  CHECK_FALSE(cpu_type_supported(TensorType::kQ2_K));
  CHECK(cpu_type_kernels(TensorType::kQ4_0)->dot_type == TensorType::kQ8_0);
  CHECK(cpu_type_kernels(TensorType::kQ4_1)->dot_type == TensorType::kQ8_1);
  CHECK(cpu_type_kernels(TensorType::kQ8_0)->dot_type == TensorType::kQ8_0);
  CHECK(cpu_type_kernels(TensorType::kQ4_K)->dot_type == TensorType::kQ8_K);
  CHECK(cpu_type_kernels(TensorType::kQ6_K)->dot_type == TensorType::kQ8_K);
  CHECK(cpu_type_kernels(TensorType::kF16)->dot_type == TensorType::kF16);
  CHECK(cpu_type_kernels(TensorType::kBF16)->dot_type == TensorType::kBF16);
  for (TensorType type : kWeightTypes) {
    CHECK(cpu_type_supported(type));
    const CpuTypeKernels* k = cpu_type_kernels(type);
    REQUIRE(k != nullptr);
    CHECK(k == cpu_type_kernels(type));  // one static table
    CHECK((k->vec_dot4 != nullptr && k->vec_dot != nullptr));
  }
  const std::string isa = cpu_isa_name();
  CHECK((isa == "scalar" || isa == "avx2" || isa == "avx512"));
  CHECK(cpu_type_kernels_for_isa(TensorType::kQ4_1, CpuIsa::kScalar) != nullptr);
  MESSAGE("CPU kernels: " << isa << " (detected " << std::string(isa_name(cpu_isa_detected()))
                          << ")");
}

TEST_CASE("Q4_K and Q6_K tiles equal their vec_dot bit for bit") {
  // The K-quant tiles form the same 8 i32 lanes per super-block as the AVX2 vec_dot and sum
  // them in the same f32 order, so prefill and decode agree exactly (the tiny-qwen2 parity
  // tests against llama.cpp are that sensitive).
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    for (TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K}) {
      const CpuTypeKernels* k = cpu_type_kernels_for_isa(type, isa);
      if (k == nullptr) continue;
      const int rows = k->tile_rows, tokens = k->tile_tokens;
      for (int64_t n : {int64_t{256}, int64_t{256 * 7}}) {
        const size_t w_bytes = static_cast<size_t>(tensor_row_bytes(type, n));
        const size_t a_bytes = static_cast<size_t>(tensor_row_bytes(k->dot_type, n));
        std::vector<uint8_t> w(w_bytes * rows), act(a_bytes * tokens);
        for (int r = 0; r < rows; ++r) {
          auto x = random_row(n, 40 + r, 1.f + 0.5f * static_cast<float>(r));
          for (auto& v : x) v += 0.2f * static_cast<float>(r);
          const auto q = quantize_weights(type, x);
          std::memcpy(w.data() + r * w_bytes, q.data(), q.size());
        }
        for (int t = 0; t < tokens; ++t)
          k->quantize_act(random_row(n, 80 + t).data(), act.data() + t * a_bytes, n);
        std::vector<float> tile(static_cast<size_t>(rows * tokens));
        k->vec_dot_tile(n, w.data(), w_bytes, act.data(), a_bytes, tile.data(),
                        static_cast<size_t>(rows));
        int mismatches = 0;
        for (int t = 0; t < tokens; ++t) {
          for (int r = 0; r < rows; ++r) {
            const float one = k->vec_dot(n, w.data() + r * w_bytes, act.data() + t * a_bytes);
            if (tile[static_cast<size_t>(t * rows + r)] != one) ++mismatches;
          }
        }
        INFO(isa_name(isa) << " (" << k->isa << ") " << tensor_type_name(type) << " n=" << n);
        CHECK(mismatches == 0);
      }
    }
  }
}

// ---- benchmark (skipped by default: ./r1_tests -ts=bench --no-skip) -----------------------------

TEST_SUITE("bench") {
  TEST_CASE("vec_dot throughput per type and instruction set" * doctest::skip()) {
    // One (rows, cols) weight matrix times one activation row, as in decode. GB/s counts weight
    // bytes only. 64x576 stays in L2 (the compute ceiling), 576x1536 fits in L2/L3; the large
    // ones stream from DRAM.
    struct Shape {
      int64_t rows, cols;
    };
    for (Shape s : {Shape{64, 576}, Shape{576, 1536}, Shape{1536, 576}, Shape{16384, 4096},
                    Shape{131072, 576}}) {
      for (TensorType type : kWeightTypes) {
        if (s.cols % tensor_type_traits(type).block_size != 0) continue;
        const int64_t row_bytes = tensor_row_bytes(type, s.cols);
        std::vector<uint8_t> w(static_cast<size_t>(row_bytes * s.rows));
        {
          const auto x = random_row(s.cols, 5);
          const auto q = quantize_weights(type, x);
          for (int64_t r = 0; r < s.rows; ++r)
            std::memcpy(w.data() + r * row_bytes, q.data(), q.size());
        }
        const CpuTypeKernels* base = cpu_type_kernels(type);
        std::vector<uint8_t> act(static_cast<size_t>(tensor_row_bytes(base->dot_type, s.cols)));
        const auto a = random_row(s.cols, 6);
        base->quantize_act(a.data(), act.data(), s.cols);
        std::vector<float> y(static_cast<size_t>(s.rows));
        for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
          const CpuTypeKernels* k = cpu_type_kernels_for_isa(type, isa);
          if (k == nullptr || (isa == CpuIsa::kScalar && s.rows > 2000)) continue;
          for (int four = 0; four < 2; ++four) {
            auto run = [&] {
              if (four) {
                for (int64_t r = 0; r + 4 <= s.rows; r += 4) {
                  k->vec_dot4(s.cols, w.data() + r * row_bytes, static_cast<size_t>(row_bytes),
                              act.data(), &y[r]);
                }
              } else {
                for (int64_t r = 0; r < s.rows; ++r)
                  y[r] = k->vec_dot(s.cols, w.data() + r * row_bytes, act.data());
              }
            };
            // best pass of ~0.3 s of passes: the machine is shared, the minimum is what the
            // kernel can do
            run();
            double best = 1e30, total = 0.0;
            while (total < 0.3) {
              const auto t0 = std::chrono::steady_clock::now();
              run();
              const double sec =
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
              best = std::min(best, sec);
              total += sec;
            }
            const double gbs = static_cast<double>(w.size()) / best / 1e9;
            std::printf("%6lldx%-5lld %-5s %-7s(%-6s) %-9s %8.2f GB/s %9.1f us/matrix\n",
                        static_cast<long long>(s.rows), static_cast<long long>(s.cols),
                        tensor_type_name(type), isa_name(isa), k->isa,
                        four ? "vec_dot4" : "vec_dot", gbs, best * 1e6);
          }
        }
      }
    }
  }
}

TEST_SUITE("bench") {
  TEST_CASE("vec_dot_tile throughput per type (prefill)" * doctest::skip()) {
    // One thread, a (rows, cols) weight matrix times 48 activation rows (a multiple of every
    // tile's tokens), as matmul's prefill runs it: tiles over all rows and tokens against
    // vec_dot4 once per token. GMAC/s counts rows * cols * tokens multiply-adds.
    constexpr int64_t kTokens = 48;
    for (int64_t cols : {576, 1536}) {
      const int64_t rows = 64;
      for (TensorType type : kWeightTypes) {
        const CpuTypeKernels* k = cpu_type_kernels(type);
        if (cols % tensor_type_traits(type).block_size != 0) continue;
        const int64_t w_bytes = tensor_row_bytes(type, cols);
        const int64_t a_bytes = tensor_row_bytes(k->dot_type, cols);
        std::vector<uint8_t> w(static_cast<size_t>(w_bytes * rows)),
            act(static_cast<size_t>(a_bytes * kTokens));
        for (int64_t r = 0; r < rows; ++r) {
          const auto q = quantize_weights(type, random_row(cols, 11 + r));
          std::memcpy(w.data() + r * w_bytes, q.data(), q.size());
        }
        for (int64_t t = 0; t < kTokens; ++t)
          k->quantize_act(random_row(cols, 900 + t).data(), act.data() + t * a_bytes, cols);
        std::vector<float> y(static_cast<size_t>(rows * kTokens));
        for (int tiled = 0; tiled < 2; ++tiled) {
          auto run = [&] {
            for (int64_t r = 0; r < rows; r += tiled ? k->tile_rows : 4) {
              if (tiled) {
                for (int64_t t = 0; t + k->tile_tokens <= kTokens; t += k->tile_tokens) {
                  k->vec_dot_tile(cols, w.data() + r * w_bytes, w_bytes, act.data() + t * a_bytes,
                                  a_bytes, &y[t * rows + r], rows);
                }
              } else {
                for (int64_t t = 0; t < kTokens; ++t) {
                  k->vec_dot4(cols, w.data() + r * w_bytes, w_bytes, act.data() + t * a_bytes,
                              &y[t * rows + r]);
                }
              }
            }
          };
          run();
          double best = 1e30, total = 0.0;
          while (total < 0.3) {
            const auto t0 = std::chrono::steady_clock::now();
            run();
            const double sec =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            best = std::min(best, sec);
            total += sec;
          }
          std::printf(
              "%4lldx%-5lld x %lld tokens %-5s %-12s %8.2f GMAC/s\n", static_cast<long long>(rows),
              static_cast<long long>(cols), static_cast<long long>(kTokens), tensor_type_name(type),
              tiled ? "vec_dot_tile" : "vec_dot4", double(rows * cols * kTokens) / best / 1e9);
        }
      }
    }
  }
}

}  // namespace r1
