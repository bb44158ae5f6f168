#include "engine/models/weights.h"

#include "kernels/cpu/quant.h"

namespace r1 {

std::string gguf_where(const GgufFile& f, const std::string& what) {
  return f.path() + ": " + what;
}

namespace {

std::string shape_str(const int64_t* ne, int n) {
  std::string s = "[";
  for (int d = 0; d < n; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

}  // namespace

Result<Weight> bind_tensor(const GgufFile& f, const std::string& name,
                           std::initializer_list<int64_t> dims) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) return Status::invalid(gguf_where(f, "missing tensor '" + name + "'"));
  const int64_t* ne = dims.begin();
  const int n = static_cast<int>(dims.size());
  bool ok = t->n_dims == n;
  for (int d = 0; ok && d < n; ++d) ok = t->ne[d] == ne[d];
  if (!ok && n == 3 && t->n_dims == 2) ok = t->ne[0] == ne[0] && t->ne[1] == ne[1] * ne[2];
  if (!ok) {
    return Status::invalid(gguf_where(f, "tensor '" + name + "' has shape " +
                                             shape_str(t->ne, t->n_dims) + ", expected " +
                                             shape_str(ne, n)));
  }
  if (!cpu_type_supported(t->type)) {
    return Status::unsupported(gguf_where(f, "tensor '" + name + "' has type " +
                                                 tensor_type_name(t->type) +
                                                 ", which the CPU kernels do not run"));
  }
  return Weight{t};
}

Result<std::vector<float>> bind_vector(const GgufFile& f, const std::string& name, int64_t n) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) return Status::invalid(gguf_where(f, "missing tensor '" + name + "'"));
  if (t->n_elements() != n || t->ne[0] != n) {
    return Status::invalid(gguf_where(f, "tensor '" + name + "' has " +
                                             std::to_string(t->n_elements()) +
                                             " elements, expected " + std::to_string(n)));
  }
  std::vector<float> out(static_cast<size_t>(n));
  if (!dequantize_row_ref(t->type, t->data, out.data(), n)) {
    return Status::unsupported(
        gguf_where(f, "tensor '" + name + "' has unsupported type " + tensor_type_name(t->type)));
  }
  return out;
}

Result<int64_t> read_dim(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi) {
  Result<uint64_t> v = f.get_uint(key);
  if (!v) return Status::invalid(gguf_where(f, v.status().message()));
  if (*v < static_cast<uint64_t>(lo) || *v > static_cast<uint64_t>(hi)) {
    return Status::invalid(gguf_where(f, "metadata '" + key + "' = " + std::to_string(*v) +
                                             " is outside [" + std::to_string(lo) + ", " +
                                             std::to_string(hi) + "]"));
  }
  return static_cast<int64_t>(*v);
}

void project(ThreadPool& pool, ActivationBuffer& act, const float* x, int64_t n_tokens,
             int64_t cols, std::initializer_list<MatmulTarget> targets) {
  // Targets usually share one weight type; when they do not, each dot type gets its own pass.
  const MatmulTarget* begin = targets.begin();
  const int n = static_cast<int>(targets.size());
  for (int i = 0; i < n;) {
    const TensorType dot = cpu_type_kernels(begin[i].type)->dot_type;
    int j = i + 1;
    while (j < n && cpu_type_kernels(begin[j].type)->dot_type == dot) ++j;
    quantize_activations(pool, begin[i].type, x, n_tokens, cols, act);
    matmul(pool, act, begin + i, j - i);
    i = j;
  }
}

Result<int64_t> read_dim_or(const GgufFile& f, const std::string& key, int64_t fallback, int64_t lo,
                            int64_t hi) {
  if (f.find(key) == nullptr) return fallback;
  return read_dim(f, key, lo, hi);
}

}  // namespace r1
