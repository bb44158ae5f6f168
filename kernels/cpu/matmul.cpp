#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "kernels/cpu/quant.h"

namespace r1 {

bool quantize_activations(ThreadPool& pool, TensorType weight_type, const float* x,
                          int64_t n_tokens, int64_t cols, ActivationBuffer& out) {
  const CpuTypeKernels* k = cpu_type_kernels(weight_type);
  if (k == nullptr) return false;
  const int64_t row_bytes = tensor_row_bytes(k->dot_type, cols);
  if (row_bytes < 0 || tensor_row_bytes(weight_type, cols) < 0) return false;
  out.dot_type = k->dot_type;
  out.cols = cols;
  out.n_tokens = n_tokens;
  out.row_bytes = row_bytes;
  if (out.data.size() < static_cast<size_t>(row_bytes * n_tokens)) {
    out.data.resize(static_cast<size_t>(row_bytes * n_tokens));
  }
  pool.parallel_for(n_tokens, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      k->quantize_act(x + t * cols, out.data.data() + t * row_bytes, cols);
    }
  });
  return true;
}

namespace {

// Rows per work item: enough to amortise the hand-out, few enough to balance two threads on
// the smallest matrices (k/v projections of a 135M model have 192 rows).
constexpr int64_t kRowBlock = 16;
// Tokens per inner tile during prefill: the weight block stays in L1/L2 while it meets this
// many activation rows.
constexpr int64_t kTokenTile = 64;

struct Span {
  int target;
  int64_t row_begin;
  int64_t row_end;
};

// Decode (one token): rows by quads, each quad's weights streamed once.
void run_block_one_token(const ActivationBuffer& x, const MatmulTarget& tg, int64_t r0,
                         int64_t r1) {
  const CpuTypeKernels* k = cpu_type_kernels(tg.type);
  const int64_t w_row_bytes = tensor_row_bytes(tg.type, x.cols);
  const auto* w = static_cast<const uint8_t*>(tg.weights);
  int64_t r = r0;
  float out4[4];
  for (; r + 4 <= r1; r += 4) {
    k->vec_dot4(x.cols, w + r * w_row_bytes, static_cast<size_t>(w_row_bytes), x.data.data(), out4);
    std::copy(out4, out4 + 4, tg.y + r);
  }
  for (; r < r1; ++r) tg.y[r] = k->vec_dot(x.cols, w + r * w_row_bytes, x.data.data());
}

// Prefill: for each tile of about kTokenTile tokens, rows [r0, r1) in vec_dot_tile tiles
// (tile_rows x tile_tokens outputs in registers); rows and tokens left over at the edges go
// through vec_dot4 / vec_dot. W rows are w_stride bytes apart, activation rows act_stride.
void run_block_strided(const CpuTypeKernels* k, int64_t cols, const uint8_t* w, size_t w_stride,
                       const uint8_t* act, size_t act_stride, int64_t n_tokens, float* y,
                       int64_t y_stride, int64_t r0, int64_t r1) {
  const int64_t tile_rows = k->tile_rows;
  const int64_t tile_tokens = k->tile_tokens;
  const int64_t token_tile = (kTokenTile + tile_tokens - 1) / tile_tokens * tile_tokens;
  const int64_t r_tiled = r0 + (r1 - r0) / tile_rows * tile_rows;  // rows [r0, r_tiled) in tiles
  for (int64_t t0 = 0; t0 < n_tokens; t0 += token_tile) {
    const int64_t t1 = std::min(n_tokens, t0 + token_tile);
    const int64_t t_tiled = t0 + (t1 - t0) / tile_tokens * tile_tokens;
    for (int64_t r = r0; r < r_tiled; r += tile_rows) {
      for (int64_t t = t0; t < t_tiled; t += tile_tokens) {
        k->vec_dot_tile(cols, w + r * w_stride, w_stride, act + t * act_stride, act_stride,
                        y + t * y_stride + r, static_cast<size_t>(y_stride));
      }
    }
    // tokens past the last full tile, every row
    for (int64_t t = t_tiled; t < t1; ++t) {
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) {
        k->vec_dot4(cols, w + r * w_stride, w_stride, act + t * act_stride, y + t * y_stride + r);
      }
      for (; r < r1; ++r) {
        y[t * y_stride + r] = k->vec_dot(cols, w + r * w_stride, act + t * act_stride);
      }
    }
    // rows past the last full tile, tiled tokens
    for (int64_t r = r_tiled; r < r1; ++r) {
      for (int64_t t = t0; t < t_tiled; ++t) {
        y[t * y_stride + r] = k->vec_dot(cols, w + r * w_stride, act + t * act_stride);
      }
    }
  }
}

void run_block(const ActivationBuffer& x, const MatmulTarget& tg, int64_t r0, int64_t r1) {
  run_block_strided(cpu_type_kernels(tg.type), x.cols, static_cast<const uint8_t*>(tg.weights),
                    static_cast<size_t>(tensor_row_bytes(tg.type, x.cols)), x.data.data(),
                    static_cast<size_t>(x.row_bytes), x.n_tokens, tg.y, tg.y_stride, r0, r1);
}

}  // namespace

void matmul(ThreadPool& pool, const ActivationBuffer& x, const MatmulTarget* targets,
            int n_targets) {
  if (x.n_tokens == 1) {
    // Decode is a pure stream over the weights: each thread takes one contiguous slice of every
    // matrix (in multiples of 4 rows), so its reads and the kernels' prefetches run straight
    // through memory with no hand-out between threads.
    const int nt = pool.n_threads();
    pool.run_on_all([&](int thread) {
      for (int i = 0; i < n_targets; ++i) {
        const int64_t quads = (targets[i].rows + 3) / 4;
        const int64_t r0 = std::min(targets[i].rows, quads * thread / nt * 4);
        const int64_t r1 = std::min(targets[i].rows, quads * (thread + 1) / nt * 4);
        if (r1 > r0) run_block_one_token(x, targets[i], r0, r1);
      }
    });
    return;
  }
  std::vector<Span> spans;
  for (int i = 0; i < n_targets; ++i) {
    for (int64_t r = 0; r < targets[i].rows; r += kRowBlock) {
      spans.push_back({i, r, std::min(targets[i].rows, r + kRowBlock)});
    }
  }
  pool.parallel_for(static_cast<int64_t>(spans.size()), 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t s = begin; s < end; ++s) {
      const Span& sp = spans[s];
      run_block(x, targets[sp.target], sp.row_begin, sp.row_end);
    }
  });
}

void matmul_strided(TensorType type, const void* w, int64_t rows, size_t w_stride, int64_t cols,
                    const void* x, size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride) {
  const CpuTypeKernels* k = cpu_type_kernels(type);
  assert(k != nullptr && "matmul_strided: unsupported weight type");
  run_block_strided(k, cols, static_cast<const uint8_t*>(w), w_stride,
                    static_cast<const uint8_t*>(x), x_stride, n_tokens, y, y_stride, 0, rows);
}

void matmul_ref(TensorType type, const void* weights, int64_t rows, int64_t cols, const float* x,
                int64_t n_tokens, float* y) {
  const int64_t row_bytes = tensor_row_bytes(type, cols);
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row_ref(type, static_cast<const uint8_t*>(weights) + r * row_bytes, w.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double acc = 0.0;
      for (int64_t c = 0; c < cols; ++c) acc += static_cast<double>(w[c]) * x[t * cols + c];
      y[t * rows + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace r1
