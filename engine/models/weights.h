// Binding an architecture's weights and hyper-parameters from a GGUF file, with errors that
// name the file and the tensor or key at fault. Internal to engine/models/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/gguf.h"
#include "kernels/cpu/matmul.h"

namespace r1 {

// A weight tensor, memory-mapped from the file (never copied).
struct Weight {
  const GgufTensorInfo* t = nullptr;
  TensorType type() const { return t->type; }
  const uint8_t* data() const { return t->data; }
};

// "PATH: what".
std::string gguf_where(const GgufFile& f, const std::string& what);

// A tensor of `dims` ggml dimensions (innermost first) whose type the CPU kernels run; a 3-D
// expected shape also accepts the same bytes written as 2-D {ne0, ne1 * ne2}.
Result<Weight> bind_tensor(const GgufFile& f, const std::string& name,
                           std::initializer_list<int64_t> dims);
inline Result<Weight> bind_matrix(const GgufFile& f, const std::string& name, int64_t cols,
                                  int64_t rows) {
  return bind_tensor(f, name, {cols, rows});
}
// Small 1-D tensors (norms, biases), converted to f32 once at load.
Result<std::vector<float>> bind_vector(const GgufFile& f, const std::string& name, int64_t n);
// An unsigned metadata value within [lo, hi]; read_dim_or gives `fallback` when the key is absent.
Result<int64_t> read_dim(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi);
Result<int64_t> read_dim_or(const GgufFile& f, const std::string& key, int64_t fallback, int64_t lo,
                            int64_t hi);

// y = x W^T for each target (all reading the same activations x, n_tokens rows of `cols`):
// quantizes x once per dot type the targets' weights need, then runs their products together.
void project(ThreadPool& pool, ActivationBuffer& act, const float* x, int64_t n_tokens,
             int64_t cols, std::initializer_list<MatmulTarget> targets);

// lhs = value of a Result expression, or return its error.
#define R1_ASSIGN(lhs, expr)                     \
  do {                                           \
    auto r1_result_ = (expr);                    \
    if (!r1_result_) return r1_result_.status(); \
    lhs = std::move(r1_result_.value());         \
  } while (0)

}  // namespace r1
