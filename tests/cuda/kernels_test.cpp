// Each CUDA kernel against its CPU reference (kernels/cpu) on random data. Without a CUDA
// device every case says so and returns (CI builds the kernels but has no GPU).
#if defined(R1_HAVE_CUDA)

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant.h"

namespace r1 {

namespace {

bool have_gpu() {
  if (cuda::device_count() > 0 && cuda::use_device(0).is_ok()) return true;
  MESSAGE("no CUDA device: skipped");
  return false;
}

// Device memory for one test, freed at scope exit.
struct Dev {
  cuda::DeviceArena arena;
  std::vector<size_t> offsets;
  size_t add(size_t bytes) {
    offsets.push_back(arena.reserve(bytes, "test"));
    return offsets.size() - 1;
  }
  void alloc() { REQUIRE(arena.allocate("test", 0).is_ok()); }
  template <typename T>
  T* ptr(size_t i) {
    return static_cast<T*>(arena.at(offsets[i]));
  }
};

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
void to_device(T* dst, const std::vector<T>& src) {
  REQUIRE(cuda::upload(dst, src.data(), src.size() * sizeof(T)).is_ok());
}

template <typename T>
std::vector<T> to_host(const T* src, size_t n, const cuda::Stream& s) {
  std::vector<T> out(n);
  REQUIRE(cuda::copy_to_host(out.data(), src, n * sizeof(T), s).is_ok());
  REQUIRE(s.synchronize("test").is_ok());
  return out;
}

constexpr TensorType kWeightTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                       TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                                       TensorType::kQ4_K, TensorType::kQ6_K};

// A (rows, cols) GGUF matrix of `type` from random floats, and its device image.
struct TestMatrix {
  std::vector<uint8_t> gguf;   // rows of tensor_row_bytes
  std::vector<uint8_t> image;  // device image (host copy)
  int64_t row_bytes = 0;
};

TestMatrix make_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  TestMatrix m;
  m.row_bytes = tensor_row_bytes(type, cols);
  m.gguf.resize(static_cast<size_t>(rows * m.row_bytes));
  std::vector<float> w = random_floats(rows * cols, seed, 0.5f);
  for (int64_t r = 0; r < rows; ++r) {
    REQUIRE(quantize_row_ref(type, w.data() + r * cols, m.gguf.data() + r * m.row_bytes, cols));
  }
  m.image.resize(static_cast<size_t>(cuda::matrix_bytes(type, rows, cols)));
  cuda::repack_rows(type, m.gguf.data(), static_cast<size_t>(m.row_bytes), 0, rows, cols, rows, 0,
                    m.image.data());
  return m;
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("cuda: activation quantizers are bit-identical to the CPU's") {
    if (!have_gpu()) return;
    const int64_t cols = 1024;
    std::vector<float> x = random_floats(cols, 7, 3.0f);
    x[5] = 0.0f;
    for (int i = 256; i < 512; ++i) x[i] = 0.0f;  // an all-zero super-block
    x[600] = -x[601];                             // magnitude ties
    cuda::Stream stream;
    for (TensorType wt : {TensorType::kQ8_0, TensorType::kQ4_1, TensorType::kQ4_K, TensorType::kF16,
                          TensorType::kBF16}) {
      CAPTURE(tensor_type_name(wt));
      Dev d;
      const size_t ix = d.add(cols * 4);
      const size_t ia = d.add(static_cast<size_t>(cuda::activation_bytes(wt, cols)));
      d.alloc();
      to_device(d.ptr<float>(ix), x);
      cuda::quantize_activation(wt, d.ptr<float>(ix), cols, d.ptr<void>(ia), stream.handle());
      auto dev = to_host(d.ptr<uint8_t>(ia), static_cast<size_t>(cuda::activation_bytes(wt, cols)),
                         stream);
      const CpuTypeKernels* k = cpu_type_kernels(wt);
      std::vector<uint8_t> cpu(static_cast<size_t>(tensor_row_bytes(k->dot_type, cols)));
      k->quantize_act(x.data(), cpu.data(), cols);
      // Compare element values through the CPU's own dequantizer on a rebuilt CPU row.
      if (wt == TensorType::kF16 || wt == TensorType::kBF16) {
        CHECK(std::memcmp(dev.data(), cpu.data(), cols * 2) == 0);
        continue;
      }
      const auto* qs = reinterpret_cast<const int8_t*>(dev.data());
      int mismatches = 0;
      if (wt == TensorType::kQ4_K) {
        const auto* blocks = reinterpret_cast<const BlockQ8_K*>(cpu.data());
        const auto* dd = reinterpret_cast<const float*>(dev.data() + ((cols + 255) / 256 * 256));
        const auto* bs = reinterpret_cast<const int16_t*>(dev.data() + ((cols + 255) / 256 * 256) +
                                                          ((cols / 256 * 4 + 255) / 256 * 256));
        for (int64_t b = 0; b < cols / 256; ++b) {
          mismatches += blocks[b].d != dd[b];
          for (int j = 0; j < 256; ++j) mismatches += blocks[b].qs[j] != qs[b * 256 + j];
          for (int g = 0; g < 16; ++g) mismatches += blocks[b].bsums[g] != bs[b * 16 + g];
        }
      } else {
        const bool q81 = wt == TensorType::kQ4_1;
        const auto* dd = reinterpret_cast<const float*>(dev.data() + ((cols + 255) / 256 * 256));
        for (int64_t b = 0; b < cols / 32; ++b) {
          const uint8_t* blk = cpu.data() + b * (q81 ? 36 : 34);
          f16_t d16, s16;
          std::memcpy(&d16, blk, 2);
          std::memcpy(&s16, blk + 2, 2);
          const auto* cq = reinterpret_cast<const int8_t*>(blk + (q81 ? 4 : 2));
          mismatches += f16_to_f32(d16) != dd[q81 ? 2 * b : b];
          if (q81) mismatches += f16_to_f32(s16) != dd[2 * b + 1];
          for (int j = 0; j < 32; ++j) mismatches += cq[j] != qs[b * 32 + j];
        }
      }
      CHECK(mismatches == 0);
    }
  }

  TEST_CASE("cuda: dequantized rows, gathered rows and mat-vec match the CPU references") {
    if (!have_gpu()) return;
    const int64_t rows = 67;  // not a multiple of the rows per block
    const int64_t cols = 768;
    cuda::Stream stream;
    std::vector<float> x = random_floats(cols, 11);
    for (TensorType type : kWeightTypes) {
      CAPTURE(tensor_type_name(type));
      TestMatrix m = make_matrix(type, rows, cols, 100 + static_cast<uint32_t>(type));
      Dev d;
      const size_t iw = d.add(m.image.size());
      const size_t ix = d.add(cols * 4);
      const size_t ia = d.add(static_cast<size_t>(cuda::activation_bytes(type, cols)));
      const size_t iy = d.add(rows * 4);
      const size_t ideq = d.add(rows * cols * 4);
      const size_t iids = d.add(3 * 4);
      d.alloc();
      to_device(d.ptr<uint8_t>(iw), m.image);
      to_device(d.ptr<float>(ix), x);
      const std::vector<int32_t> ids = {5, 0, 66};
      to_device(d.ptr<int32_t>(iids), ids);
      cuda::DeviceMatrix w{type, rows, cols, d.ptr<void>(iw)};

      // Dequantization: the CPU reference value for every element.
      cuda::dequantize_rows_f32(w, 0, rows, d.ptr<float>(ideq), stream.handle());
      auto deq = to_host(d.ptr<float>(ideq), rows * cols, stream);
      std::vector<float> ref(static_cast<size_t>(rows * cols));
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row_ref(type, m.gguf.data() + r * m.row_bytes, ref.data() + r * cols, cols);
      }
      double max_deq = 0;
      for (size_t i = 0; i < ref.size(); ++i)
        max_deq = std::max(max_deq, double(std::fabs(deq[i] - ref[i])));
      MESSAGE(tensor_type_name(type) << ": max |dequantize diff| " << max_deq);
      CHECK(max_deq <= 1e-6);

      cuda::gather_rows_f32(w, d.ptr<int32_t>(iids), 3, d.ptr<float>(ideq), stream.handle());
      auto g = to_host(d.ptr<float>(ideq), 3 * cols, stream);
      for (int t = 0; t < 3; ++t) {
        for (int64_t c = 0; c < cols; c += 97) {
          CHECK(g[t * cols + c] == doctest::Approx(ref[ids[t] * cols + c]).epsilon(1e-6));
        }
      }

      // Mat-vec against the CPU's scalar vec_dot on the CPU-quantized activation.
      cuda::quantize_activation(type, d.ptr<float>(ix), cols, d.ptr<void>(ia), stream.handle());
      cuda::matvec(w, d.ptr<void>(ia), d.ptr<float>(iy), false, stream.handle());
      auto y = to_host(d.ptr<float>(iy), rows, stream);
      const CpuTypeKernels* k = cpu_type_kernels(type);
      std::vector<uint8_t> act(static_cast<size_t>(tensor_row_bytes(k->dot_type, cols)));
      k->quantize_act(x.data(), act.data(), cols);
      double max_rel = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const float want = k->vec_dot_ref(cols, m.gguf.data() + r * m.row_bytes, act.data());
        double mag = 0;
        for (int64_t c = 0; c < cols; ++c) mag += std::fabs(ref[r * cols + c] * x[c]);
        max_rel = std::max(max_rel, std::fabs(double(y[r]) - want) / mag);
      }
      MESSAGE(tensor_type_name(type) << ": max mat-vec diff / sum|w x| " << max_rel);
      CHECK(max_rel <= 1e-5);

      // accumulate adds to what is there
      cuda::matvec(w, d.ptr<void>(ia), d.ptr<float>(iy), true, stream.handle());
      auto y2 = to_host(d.ptr<float>(iy), rows, stream);
      for (int64_t r = 0; r < rows; r += 13)
        CHECK(y2[r] == doctest::Approx(2 * y[r]).epsilon(1e-5));
    }
  }

  TEST_CASE("cuda: prefill GEMM matches the double-precision reference") {
    if (!have_gpu()) return;
    const int64_t rows = 300, cols = 512, T = 19;
    cuda::Stream stream;
    cuda::Blas blas;
    REQUIRE(blas.init(stream.handle()).is_ok());
    std::vector<float> x = random_floats(T * cols, 21);
    for (TensorType type : kWeightTypes) {
      CAPTURE(tensor_type_name(type));
      TestMatrix m = make_matrix(type, rows, cols, 200 + static_cast<uint32_t>(type));
      cuda::DeviceMatrix shape{type, rows, cols, nullptr};
      const int64_t chunk =
          std::max<int64_t>(cuda::gemm_weight_chunk_elems(shape, 100 * cols), cols);
      Dev d;
      const size_t iw = d.add(m.image.size());
      const size_t ix = d.add(T * cols * 4);
      const size_t iy = d.add(T * rows * 4);
      const size_t ix16 = d.add(T * cols * 2);
      const size_t iw16 = d.add(chunk * 2);
      d.alloc();
      to_device(d.ptr<uint8_t>(iw), m.image);
      to_device(d.ptr<float>(ix), x);
      cuda::DeviceMatrix w{type, rows, cols, d.ptr<void>(iw)};
      Status st =
          cuda::linear_gemm(blas, w, d.ptr<float>(ix), cols, T, d.ptr<float>(iy), rows, false,
                            d.ptr<uint16_t>(ix16), d.ptr<uint16_t>(iw16), chunk, stream.handle());
      REQUIRE_MESSAGE(st.is_ok(), st.message());
      auto y = to_host(d.ptr<float>(iy), T * rows, stream);
      std::vector<float> ref(static_cast<size_t>(T * rows));
      matmul_ref(type, m.gguf.data(), rows, cols, x.data(), T, ref.data());
      double max_diff = 0, max_ref = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        max_diff = std::max(max_diff, double(std::fabs(y[i] - ref[i])));
        max_ref = std::max(max_ref, double(std::fabs(ref[i])));
      }
      MESSAGE(tensor_type_name(type)
              << ": GEMM max diff " << max_diff << " (max |y| " << max_ref << ")");
      // f16 activations (bf16 for BF16 weights): a few units in the last place of the inputs
      CHECK(max_diff <= (type == TensorType::kBF16 ? 2e-2 : 3e-3) * max_ref);
    }
  }

  TEST_CASE("cuda: rms_norm, silu_mul, softmax and argmax match the CPU") {
    if (!have_gpu()) return;
    cuda::Stream stream;
    const int64_t n = 1000, rows = 3;
    std::vector<float> x = random_floats(rows * n, 31, 2.0f);
    std::vector<float> w = random_floats(n, 32);
    std::vector<float> gu = random_floats(rows * 2 * n, 33, 3.0f);
    Dev d;
    const size_t ix = d.add(rows * n * 4), iw = d.add(n * 4), iy = d.add(rows * n * 4),
                 igu = d.add(rows * 2 * n * 4), iarg = d.add(4);
    d.alloc();
    to_device(d.ptr<float>(ix), x);
    to_device(d.ptr<float>(iw), w);
    to_device(d.ptr<float>(igu), gu);
    cuda::rms_norm(d.ptr<float>(ix), d.ptr<float>(iw), d.ptr<float>(iy), rows, n, 1e-5f,
                   stream.handle());
    auto y = to_host(d.ptr<float>(iy), rows * n, stream);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> ref(n);
      rms_norm(x.data() + r * n, w.data(), ref.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; i += 37)
        CHECK(y[r * n + i] == doctest::Approx(ref[i]).epsilon(1e-5));
    }
    cuda::silu_mul(d.ptr<float>(igu), rows, n, 2 * n, stream.handle());
    auto s = to_host(d.ptr<float>(igu), rows * 2 * n, stream);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> g(gu.begin() + r * 2 * n, gu.begin() + r * 2 * n + n);
      silu_mul(g.data(), gu.data() + r * 2 * n + n, n);
      for (int64_t i = 0; i < n; i += 41)
        CHECK(s[r * 2 * n + i] == doctest::Approx(g[i]).epsilon(1e-5));
    }
    cuda::softmax_rows(d.ptr<float>(ix), rows, n, stream.handle());
    auto sm = to_host(d.ptr<float>(ix), rows * n, stream);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> ref(x.begin() + r * n, x.begin() + (r + 1) * n);
      softmax_inplace(ref.data(), n);
      for (int64_t i = 0; i < n; i += 29)
        CHECK(sm[r * n + i] == doctest::Approx(ref[i]).epsilon(1e-5));
    }
    x[123] = 50.0f;
    x[777] = 50.0f;  // a tie: the lower index wins
    to_device(d.ptr<float>(ix), x);
    cuda::argmax(d.ptr<float>(ix), n, d.ptr<int32_t>(iarg), stream.handle());
    CHECK(to_host(d.ptr<int32_t>(iarg), 1, stream)[0] == 123);
  }

  TEST_CASE("cuda: q/k/v bias, rotary embedding and the KV cache store match the CPU") {
    if (!have_gpu()) return;
    cuda::Stream stream;
    const int64_t n_head = 6, n_kv = 2, hd = 64, T = 5, pos0 = 17, n_ctx = 32;
    const int64_t q_dim = n_head * hd, kv_dim = n_kv * hd, stride = q_dim + 2 * kv_dim;
    for (bool neox : {false, true}) {
      CAPTURE(neox);
      std::vector<float> qkv = random_floats(T * stride, 41);
      std::vector<float> bias = random_floats(stride, 42);
      Dev d;
      const size_t iq = d.add(T * stride * 4), ib = d.add(stride * 4), ip = d.add(4),
                   ik = d.add(n_ctx * kv_dim * 2), iv = d.add(n_ctx * kv_dim * 2);
      d.alloc();
      to_device(d.ptr<float>(iq), qkv);
      to_device(d.ptr<float>(ib), bias);
      to_device(d.ptr<int32_t>(ip), std::vector<int32_t>{pos0});
      const float base = 10000.0f;
      const float theta_scale = std::pow(base, -2.0f / static_cast<float>(hd));
      cuda::qkv_bias_rope_store(d.ptr<float>(iq), T, stride, n_head, n_kv, hd, hd, d.ptr<float>(ib),
                                d.ptr<int32_t>(ip), theta_scale, 1.0f, neox, d.ptr<uint16_t>(ik),
                                d.ptr<uint16_t>(iv), stream.handle());
      auto out = to_host(d.ptr<float>(iq), T * stride, stream);
      auto kc = to_host(d.ptr<uint16_t>(ik), n_ctx * kv_dim, stream);
      auto vc = to_host(d.ptr<uint16_t>(iv), n_ctx * kv_dim, stream);
      double max_diff = 0;
      int cache_mismatch = 0;
      for (int64_t t = 0; t < T; ++t) {
        std::vector<float> row(qkv.begin() + t * stride, qkv.begin() + (t + 1) * stride);
        add_inplace(row.data(), bias.data(), stride);
        for (int64_t h = 0; h < n_head + n_kv; ++h) {
          rope(row.data() + h * hd, hd, hd, pos0 + t, base, 1.0f, neox);
        }
        for (int64_t i = 0; i < stride; ++i) {
          max_diff = std::max(max_diff, double(std::fabs(out[t * stride + i] - row[i])));
        }
        for (int64_t i = 0; i < kv_dim; ++i) {
          const float kd = f16_to_f32(kc[(pos0 + t) * kv_dim + i]);
          const float vd = f16_to_f32(vc[(pos0 + t) * kv_dim + i]);
          cache_mismatch +=
              std::fabs(kd - row[q_dim + i]) > 1e-3f * (1 + std::fabs(row[q_dim + i]));
          cache_mismatch += vd != f16_to_f32(f32_to_f16(row[q_dim + kv_dim + i]));
        }
      }
      MESSAGE("rope neox=" << neox << ": max diff " << max_diff);
      CHECK(max_diff <= 1e-4);
      CHECK(cache_mismatch == 0);
    }
  }

  TEST_CASE("cuda: prefill and split-K decode attention match the CPU reference") {
    if (!have_gpu()) return;
    cuda::Stream stream;
    for (int64_t hd : {64, 128}) {
      const int64_t n_head = 6, n_kv = 2, n_ctx = 700;
      const int64_t q_dim = n_head * hd, kv_dim = n_kv * hd;
      const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
      std::vector<float> kf = random_floats(n_ctx * kv_dim, 51);
      std::vector<float> vf = random_floats(n_ctx * kv_dim, 52);
      std::vector<uint16_t> k16(kf.size()), v16(vf.size());
      for (size_t i = 0; i < kf.size(); ++i) {
        k16[i] = f32_to_f16(kf[i]);
        v16[i] = f32_to_f16(vf[i]);
      }
      const int64_t T = 37, pos0 = 5;
      std::vector<float> q = random_floats(T * q_dim, 53, 2.0f);
      Dev d;
      const size_t ik = d.add(k16.size() * 2), iv = d.add(v16.size() * 2), iq = d.add(q.size() * 4),
                   io = d.add(q.size() * 4), ip = d.add(4),
                   is = d.add(cuda::attention_decode_scratch_floats(n_head, hd, n_ctx) * 4);
      d.alloc();
      to_device(d.ptr<uint16_t>(ik), k16);
      to_device(d.ptr<uint16_t>(iv), v16);
      to_device(d.ptr<float>(iq), q);
      std::vector<float> scores(n_ctx), ref(hd);
      auto max_diff_vs_ref = [&](const std::vector<float>& out, int64_t t, int64_t n_keys) {
        double md = 0;
        for (int64_t h = 0; h < n_head; ++h) {
          attention_head_ref(q.data() + t * q_dim + h * hd, k16.data(), v16.data(), n_keys, kv_dim,
                             (h / (n_head / n_kv)) * hd, hd, scale, scores.data(), ref.data());
          for (int64_t i = 0; i < hd; ++i) {
            md = std::max(md, double(std::fabs(out[h * hd + i] - ref[i])));
          }
        }
        return md;
      };
      to_device(d.ptr<int32_t>(ip), std::vector<int32_t>{static_cast<int32_t>(pos0)});
      cuda::attention_prefill(d.ptr<float>(iq), q_dim, T, n_head, n_kv, hd, d.ptr<uint16_t>(ik),
                              d.ptr<uint16_t>(iv), d.ptr<int32_t>(ip), scale, d.ptr<float>(io),
                              q_dim, stream.handle());
      auto out = to_host(d.ptr<float>(io), T * q_dim, stream);
      double md = 0;
      for (int64_t t = 0; t < T; ++t) {
        std::vector<float> row(out.begin() + t * q_dim, out.begin() + (t + 1) * q_dim);
        md = std::max(md, max_diff_vs_ref(row, t, pos0 + t + 1));
      }
      MESSAGE("prefill attention hd=" << hd << ": max diff " << md);
      CHECK(md <= 2e-3);

      for (int32_t pos : {0, 1, 127, 128, 129, 400, 699}) {
        CAPTURE(pos);
        to_device(d.ptr<int32_t>(ip), std::vector<int32_t>{pos});
        cuda::attention_decode(d.ptr<float>(iq), n_head, n_kv, hd, d.ptr<uint16_t>(ik),
                               d.ptr<uint16_t>(iv), d.ptr<int32_t>(ip), n_ctx, scale,
                               d.ptr<float>(is), d.ptr<float>(io), stream.handle());
        auto dec = to_host(d.ptr<float>(io), q_dim, stream);
        const double dd = max_diff_vs_ref(dec, 0, pos + 1);
        MESSAGE("decode attention hd=" << hd << " pos=" << pos << ": max diff " << dd);
        CHECK(dd <= 2e-3);
      }
    }
  }

}  // TEST_SUITE

}  // namespace r1

#endif  // R1_HAVE_CUDA
