#include "kernels/cpu/gemm_f32.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "kernels/cpu/gemm_f32_impl.h"

namespace r1 {

namespace {

using gemm_internal::GemmKernel;

// Rows of A per work item (rounded up to whole tiles): the A slice (kRowBlock, kc) stays in L2
// while every panel of the item passes by.
constexpr int64_t kRowBlock = 96;
// Longest K slice: a panel slice (kc, kGemmPanel) of at most 32 KiB stays in L1 while the tiles
// of a row block sweep over it. K is cut into equal slices no longer than this.
constexpr int64_t kMaxKSlice = 256;
// Work items per thread to aim for when M alone gives too few (short batches): N is then cut
// into chunks of panels as well.
constexpr int64_t kItemsPerThread = 4;

// Portable tile: 4 rows x 32 columns of f32 accumulators the compiler can vectorise.
void tile_portable(int64_t kc, const float* a, int64_t lda, const float* panel, float* c,
                   int64_t ldc, int m, int n, bool accumulate) {
  float acc[4][kGemmPanel] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* b = panel + k * kGemmPanel;
    for (int i = 0; i < m; ++i) {
      const float ai = a[i * lda + k];
      for (int64_t j = 0; j < kGemmPanel; ++j) acc[i][j] += ai * b[j];
    }
  }
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.f) + acc[i][j];
  }
}

GemmKernel kernel_for(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return gemm_internal::avx512_gemm_kernel();
    case CpuIsa::kAvx2:
      return gemm_internal::avx2_gemm_kernel();
    default:
      return GemmKernel{tile_portable, 4};
  }
}

CpuIsa chosen_isa() {
  static const CpuIsa isa = [] {
    const std::string_view name = cpu_isa_name();
    if (name == "avx512") return CpuIsa::kAvx512;
    if (name == "avx2") return CpuIsa::kAvx2;
    return CpuIsa::kScalar;
  }();
  return isa;
}

void run_gemm(const GemmKernel& kernel, ThreadPool& pool, const float* a, int64_t lda, int64_t m,
              const PackedWeightsF32& w, float* c, int64_t ldc) {
  if (m <= 0 || w.empty()) return;
  const int64_t tile_rows = kernel.tile_rows;
  const int64_t row_block = (kRowBlock + tile_rows - 1) / tile_rows * tile_rows;
  const int64_t n_row_blocks = (m + row_block - 1) / row_block;
  const int64_t n_panels = (w.n + kGemmPanel - 1) / kGemmPanel;
  int64_t chunk_panels = n_panels;  // panels per work item
  while (chunk_panels > 1 && n_row_blocks * ((n_panels + chunk_panels - 1) / chunk_panels) <
                                 kItemsPerThread * pool.n_threads()) {
    chunk_panels = (chunk_panels + 1) / 2;
  }
  const int64_t n_chunks = (n_panels + chunk_panels - 1) / chunk_panels;
  const int64_t n_slices = (w.k + kMaxKSlice - 1) / kMaxKSlice;
  const int64_t k_slice = (w.k + n_slices - 1) / n_slices;
  pool.parallel_for(n_row_blocks * n_chunks, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t r0 = item / n_chunks * row_block, r1 = std::min(m, r0 + row_block);
      const int64_t p0 = item % n_chunks * chunk_panels;
      const int64_t p1 = std::min(n_panels, p0 + chunk_panels);
      for (int64_t k0 = 0; k0 < w.k; k0 += k_slice) {
        const int64_t kc = std::min(k_slice, w.k - k0);
        for (int64_t p = p0; p < p1; ++p) {
          const float* panel = w.panels.get() + (p * w.k + k0) * kGemmPanel;
          const int n_cols = static_cast<int>(std::min(kGemmPanel, w.n - p * kGemmPanel));
          for (int64_t r = r0; r < r1; r += tile_rows) {
            kernel.tile(kc, a + r * lda + k0, lda, panel, c + r * ldc + p * kGemmPanel, ldc,
                        static_cast<int>(std::min(tile_rows, r1 - r)), n_cols, k0 > 0);
          }
        }
      }
    }
  });
}

}  // namespace

bool gemm_packable_type(TensorType type) {
  return type == TensorType::kF32 || type == TensorType::kF16 || type == TensorType::kBF16;
}

PackedWeightsF32 pack_gemm_weights(TensorType type, const void* const* parts, const int64_t* rows,
                                   int n_parts, int64_t k) {
  PackedWeightsF32 out;
  if (!gemm_packable_type(type) || n_parts < 1 || k < 1) return out;
  int64_t n = 0;
  for (int i = 0; i < n_parts; ++i) {
    if (rows[i] < 1) return out;
    n += rows[i];
  }
  const int64_t n_panels = (n + kGemmPanel - 1) / kGemmPanel;
  const size_t bytes = static_cast<size_t>(n_panels * k * kGemmPanel) * sizeof(float);
  out.panels.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (out.panels == nullptr) return out;
  std::memset(out.panels.get(), 0, bytes);
  out.n = n;
  out.k = k;
  const int64_t row_bytes = tensor_row_bytes(type, k);
  std::vector<float> row(static_cast<size_t>(k));
  int64_t j = 0;  // packed row
  for (int i = 0; i < n_parts; ++i) {
    const auto* src = static_cast<const uint8_t*>(parts[i]);
    for (int64_t r = 0; r < rows[i]; ++r, ++j) {
      dequantize_row_ref(type, src + r * row_bytes, row.data(), k);
      float* dst = out.panels.get() + j / kGemmPanel * k * kGemmPanel + j % kGemmPanel;
      for (int64_t e = 0; e < k; ++e) dst[e * kGemmPanel] = row[static_cast<size_t>(e)];
    }
  }
  return out;
}

void gemm_f32(ThreadPool& pool, const float* a, int64_t lda, int64_t m, const PackedWeightsF32& w,
              float* c, int64_t ldc) {
  static const GemmKernel kernel = kernel_for(chosen_isa());
  run_gemm(kernel, pool, a, lda, m, w, c, ldc);
}

bool gemm_f32_for_isa(CpuIsa isa, ThreadPool& pool, const float* a, int64_t lda, int64_t m,
                      const PackedWeightsF32& w, float* c, int64_t ldc) {
  if (isa > cpu_isa_detected()) return false;
  run_gemm(kernel_for(isa), pool, a, lda, m, w, c, ldc);
  return true;
}

void gemm_f32_ref(const float* a, int64_t m, int64_t k, const float* w, int64_t n, float* c) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t e = 0; e < k; ++e) acc += static_cast<double>(a[i * k + e]) * w[j * k + e];
      c[i * n + j] = static_cast<float>(acc);
    }
  }
}

}  // namespace r1
