// The llama-family decoder on the GPU (engine/cuda_model.h). The data path per layer is the
// CPU one of engine/models/llama.cpp, with device buffers (T tokens of one forward call):
//   x (T, n_embd) f32 residual      xn (T, n_embd) f32 normalised
//   qkv (T, q_dim + 2 kv_dim) f32   attn (T, q_dim) f32      gu (T, 2 n_ff) f32: [gate | up]
//   k/v cache (n_layer, n_ctx, kv_dim) f16 per slot          logits (T, n_vocab) f32
// One token: activations are quantized to the weights' dot type and multiplied by the
// mat-vec kernels; several tokens: cuBLAS GEMM on dequantized f16 weights. q/k/v and gate/up are
// each fused into one matrix when their types agree. The residual adds are folded into the
// output and down projections (accumulate), except under tensor parallelism, where the partial
// sums are all-reduced first.
#include "engine/cuda_model.h"

#if defined(R1_HAVE_CUDA)

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "kernels/cpu/quant.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/nccl_comm.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant.h"
#include "kernels/cuda/tensor_parallel.h"

namespace r1 {

namespace {

using cuda::plan_tensor_parallel;
using cuda::Shard;
using cuda::TensorParallelPlan;

constexpr int64_t kMaxGemmChunkElems = 16 << 20;   // halves of dequantized weight per GEMM
constexpr uint64_t kHeadroomBytes = 512ull << 20;  // CUDA context, cuBLAS workspaces

// A weight matrix writing columns [out_offset, out_offset + rows) of its output rows.
struct Part {
  cuda::DeviceMatrix m;
  int64_t out_offset = 0;
};

struct Layer {
  float* attn_norm = nullptr;  // (n_embd)
  float* ffn_norm = nullptr;   // (n_embd)
  float* qkv_bias = nullptr;   // (q_dim + 2 kv_dim) local, or null
  std::vector<Part> qkv;       // -> (T, q_dim + 2 kv_dim)
  Part o;                      // (n_embd, q_dim local)
  std::vector<Part> gate_up;   // -> (T, 2 n_ff local)
  Part down;                   // (n_embd, n_ff local)
};

// Device buffers and handles of one sequence slot.
struct Slot {
  bool in_use = false;
  const KvCache* bound_kv = nullptr;  // the KvCache whose values the cache below holds
  std::unique_ptr<cuda::Stream> stream;
  std::unique_ptr<cuda::Blas> blas;
  std::unique_ptr<cuda::Graph> decode_graph;
  cuda::HostBuffer host_io;      // pinned: tokens (max_T) int32 | pos int32 | argmax int32
  cuda::HostBuffer host_logits;  // pinned: (n_vocab) f32
  uint16_t* k_cache = nullptr;   // (n_layer, n_ctx, kv_dim local) f16
  uint16_t* v_cache = nullptr;
  float* x = nullptr;
  float* xn = nullptr;
  float* qkv = nullptr;
  float* attn = nullptr;
  float* gu = nullptr;
  float* tmp = nullptr;  // (T, n_embd), tensor parallel partial sums
  float* logits = nullptr;
  float* attn_scratch = nullptr;
  void* act = nullptr;  // one quantized activation row
  uint16_t* x16 = nullptr;
  uint16_t* w16 = nullptr;
  int32_t* io = nullptr;  // device twin of host_io
};

struct SlotOffsets {
  size_t k, v, x, xn, qkv, attn, gu, tmp, logits, attn_scratch, act, x16, w16, io;
};

class CudaModel;

struct CudaScratch final : ForwardScratch {
  CudaScratch(const CudaModel* m, int s) : model(m), slot(s) {}
  ~CudaScratch() override;
  const CudaModel* model;
  int slot;  // -1: none was free
};

class CudaModel final : public Model {
 public:
  Status load(const std::string& path, const CudaModelOptions& options);
  std::unique_ptr<ForwardScratch> make_scratch() const override;
  // Keys and values live on the device, in each slot; the host KvCache only counts tokens.
  std::unique_ptr<KvCache> make_kv_cache(int64_t n_ctx) const override {
    return std::make_unique<KvCache>(0, n_ctx, config_.kv_dim());
  }
  uint64_t kv_cache_bytes(int64_t) const override { return 0; }
  void release_slot(int slot) const;
  Result<int32_t> forward_greedy(const int32_t* tokens, int64_t n, KvCache& kv,
                                 ForwardScratch& scratch) const;

 protected:
  Status forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                      ForwardScratch& scratch, float* logits, bool all_logits) const override;

 private:
  // Source of a device matrix: rows [row_begin, +n_rows) and columns [col_begin, +cols) of a
  // GGUF tensor, placed at row `dst_row` of the image.
  struct Source {
    const GgufTensorInfo* t;
    int64_t row_begin, n_rows, col_begin, dst_row;
  };
  struct PendingMatrix {
    size_t offset;
    TensorType type;
    int64_t rows, cols;
    std::vector<Source> sources;
    cuda::DeviceMatrix* target;
  };
  struct PendingVector {
    size_t offset;
    std::vector<float> values;
    float** target;
  };

  Status plan_matrix(const std::string& what, std::vector<Source> sources, int64_t cols,
                     cuda::DeviceMatrix* target);
  Status plan_vector(const std::string& name, int64_t begin, int64_t n, float** target);
  Status plan_fused(const std::vector<std::string>& names, const std::vector<Shard>& row_shards,
                    int64_t cols, std::vector<Part>* parts);
  Status upload_all();

  Status run(const int32_t* tokens, int64_t T, KvCache& kv, Slot& s, float* logits, bool all_logits,
             bool want_argmax) const;
  Status record_layers(Slot& s, int64_t T, int64_t n_rows_out) const;
  Status linear(Slot& s, const std::vector<Part>& parts, const float* x, int64_t x_stride,
                int64_t T, float* y, int64_t y_stride, bool accumulate) const;

  CudaModelOptions opt_;
  cuda::DeviceInfo info_;
  cuda::DeviceArena arena_;
  TensorParallelPlan tp_;
  int64_t q_dim_ = 0, kv_dim_ = 0, ff_ = 0, n_head_ = 0, n_head_kv_ = 0;  // local to the rank
  bool qkv_bias_ = false;
  float theta_scale_ = 1.0f;
  cuda::DeviceMatrix token_embd_;
  std::vector<Part> output_;
  float* output_norm_ = nullptr;
  std::vector<Layer> layers_;
  int64_t act_bytes_ = 0, x16_elems_ = 0, w16_elems_ = 0;
  std::vector<PendingMatrix> pending_matrices_;
  std::vector<PendingVector> pending_vectors_;
  std::vector<SlotOffsets> slot_offsets_;
  mutable std::mutex slots_mu_;
  mutable std::vector<std::unique_ptr<Slot>> slots_;
  const GgufFile* file_ = nullptr;
};

CudaScratch::~CudaScratch() {
  if (slot >= 0) model->release_slot(slot);
}

std::string where(const GgufFile& f, const std::string& what) {
  return f.path() + ": " + what;
}

Status CudaModel::plan_matrix(const std::string& what, std::vector<Source> sources, int64_t cols,
                              cuda::DeviceMatrix* target) {
  const TensorType type = sources[0].t->type;
  int64_t rows = 0;
  for (const Source& s : sources) rows += s.n_rows;
  if (!cuda::weight_type_supported(type)) {
    return Status::unsupported(where(*file_, "tensor '" + what + "' has type " +
                                                 tensor_type_name(type) +
                                                 ", which the CUDA kernels do not run"));
  }
  const int64_t bytes = cuda::matrix_bytes(type, rows, cols);
  if (bytes < 0) {
    return Status::unsupported(where(*file_, "tensor '" + what + "' (" + tensor_type_name(type) +
                                                 ") has rows of " + std::to_string(cols) +
                                                 " elements, which the CUDA kernels do not take"));
  }
  PendingMatrix p{arena_.reserve(static_cast<size_t>(bytes), "weights"),
                  type,
                  rows,
                  cols,
                  std::move(sources),
                  target};
  target->type = type;
  target->rows = rows;
  target->cols = cols;
  pending_matrices_.push_back(std::move(p));
  act_bytes_ = std::max(act_bytes_, cuda::activation_bytes(type, cols));
  x16_elems_ = std::max(x16_elems_, cols);
  cuda::DeviceMatrix shape = *target;
  w16_elems_ = std::max(w16_elems_, cuda::gemm_weight_chunk_elems(shape, kMaxGemmChunkElems));
  return Status::ok();
}

Status CudaModel::plan_vector(const std::string& name, int64_t begin, int64_t n, float** target) {
  const GgufTensorInfo* t = file_->find_tensor(name);
  if (t == nullptr) return Status::invalid(where(*file_, "missing tensor '" + name + "'"));
  std::vector<float> all(static_cast<size_t>(t->n_elements()));
  if (!dequantize_row_ref(t->type, t->data, all.data(), t->n_elements())) {
    return Status::unsupported(
        where(*file_, "tensor '" + name + "' has unsupported type " + tensor_type_name(t->type)));
  }
  std::vector<float> values(all.begin() + begin, all.begin() + begin + n);
  pending_vectors_.push_back(
      PendingVector{arena_.reserve(static_cast<size_t>(n) * sizeof(float), "weights"),
                    std::move(values), target});
  return Status::ok();
}

// One Part when every tensor has the same type (rows stacked), else one Part per tensor.
Status CudaModel::plan_fused(const std::vector<std::string>& names,
                             const std::vector<Shard>& row_shards, int64_t cols,
                             std::vector<Part>* parts) {
  std::vector<const GgufTensorInfo*> ts;
  for (const std::string& n : names) {
    const GgufTensorInfo* t = file_->find_tensor(n);
    if (t == nullptr) return Status::invalid(where(*file_, "missing tensor '" + n + "'"));
    ts.push_back(t);
  }
  bool same = true;
  for (const auto* t : ts) same = same && t->type == ts[0]->type;
  parts->clear();
  if (same) {
    std::vector<Source> src;
    int64_t dst = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      src.push_back(Source{ts[i], row_shards[i].begin, row_shards[i].count, 0, dst});
      dst += row_shards[i].count;
    }
    parts->resize(1);
    (*parts)[0].out_offset = 0;
    return plan_matrix(names[0], std::move(src), cols, &(*parts)[0].m);
  }
  parts->resize(ts.size());
  int64_t off = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    (*parts)[i].out_offset = off;
    R1_RETURN_IF_ERROR(plan_matrix(names[i],
                                   {Source{ts[i], row_shards[i].begin, row_shards[i].count, 0, 0}},
                                   cols, &(*parts)[i].m));
    off += row_shards[i].count;
  }
  return Status::ok();
}

Status CudaModel::load(const std::string& path, const CudaModelOptions& options) {
  opt_ = options;
  if (opt_.n_ctx < 1 || opt_.n_seq < 1 || opt_.max_batch_tokens < 1) {
    return Status::invalid("CUDA model: n_ctx, n_seq and max_batch_tokens must be positive");
  }
  if (opt_.tp_world > 1 && opt_.comm == nullptr) {
    return Status::invalid("CUDA model: tensor parallelism over " + std::to_string(opt_.tp_world) +
                           " GPUs needs a communicator");
  }
  // Parse and validate with the CPU loader: same hyper-parameters, same errors.
  Result<std::unique_ptr<Model>> cpu = load_model(path);
  if (!cpu) return cpu.status();
  config_ = (*cpu)->config();
  bytes_per_token_ = (*cpu)->bytes_per_token();
  if (config_.arch != "llama" && config_.arch != "qwen2") {
    return Status::unsupported(path + ": the CUDA engine runs llama and qwen2, not '" +
                               config_.arch + "'");
  }
  cpu.value().reset();
  Result<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
  if (!file) return file.status();
  gguf_ = std::move(file.value());
  file_ = gguf_.get();
  Result<std::unique_ptr<Tokenizer>> tok = Tokenizer::from_gguf(*file_);
  if (!tok) return tok.status();
  tokenizer_ = std::move(tok.value());

  const ModelConfig& c = config_;
  if (c.head_dim > cuda::kMaxAttentionHeadDim) {
    return Status::unsupported(path + ": head dimension " + std::to_string(c.head_dim) +
                               " exceeds the CUDA attention kernel's " +
                               std::to_string(cuda::kMaxAttentionHeadDim));
  }
  const GgufTensorInfo* down0 = file_->find_tensor("blk.0.ffn_down.weight");
  const int64_t ff_granule =
      down0 != nullptr ? std::max<int64_t>(1, tensor_type_traits(down0->type).block_size) : 1;
  Result<TensorParallelPlan> plan =
      plan_tensor_parallel(c.n_head, c.n_head_kv, c.n_ff, ff_granule, opt_.tp_world, opt_.tp_rank);
  if (!plan) return Status::invalid(path + ": " + plan.status().message());
  tp_ = *plan;
  const int64_t hd = c.head_dim;
  n_head_ = tp_.heads.count;
  n_head_kv_ = tp_.kv_heads.count;
  q_dim_ = n_head_ * hd;
  kv_dim_ = n_head_kv_ * hd;
  ff_ = tp_.ff.count;
  qkv_bias_ = file_->find_tensor("blk.0.attn_q.bias") != nullptr;
  theta_scale_ = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(c.rope_dims));

  Result<cuda::DeviceInfo> dev = cuda::use_device(opt_.device);
  if (!dev) return dev.status();
  info_ = *dev;

  // ---- plan the weights ----
  const GgufTensorInfo* emb = file_->find_tensor("token_embd.weight");
  R1_RETURN_IF_ERROR(
      plan_matrix("token_embd.weight", {Source{emb, 0, c.n_vocab, 0, 0}}, c.n_embd, &token_embd_));
  output_.resize(1);
  if (const GgufTensorInfo* out = file_->find_tensor("output.weight")) {
    R1_RETURN_IF_ERROR(
        plan_matrix("output.weight", {Source{out, 0, c.n_vocab, 0, 0}}, c.n_embd, &output_[0].m));
  } else {
    output_[0].m = cuda::DeviceMatrix{};  // tied: filled from token_embd_ after upload
  }
  R1_RETURN_IF_ERROR(plan_vector("output_norm.weight", 0, c.n_embd, &output_norm_));
  layers_.resize(static_cast<size_t>(c.n_layer));
  const Shard q_rows{tp_.heads.begin * hd, q_dim_};
  const Shard kv_rows{tp_.kv_heads.begin * hd, kv_dim_};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    Layer& L = layers_[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    R1_RETURN_IF_ERROR(plan_vector(p + "attn_norm.weight", 0, c.n_embd, &L.attn_norm));
    R1_RETURN_IF_ERROR(plan_vector(p + "ffn_norm.weight", 0, c.n_embd, &L.ffn_norm));
    R1_RETURN_IF_ERROR(plan_fused({p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"},
                                  {q_rows, kv_rows, kv_rows}, c.n_embd, &L.qkv));
    R1_RETURN_IF_ERROR(plan_fused({p + "ffn_gate.weight", p + "ffn_up.weight"}, {tp_.ff, tp_.ff},
                                  c.n_embd, &L.gate_up));
    // Row-parallel: this rank's slice of the input features.
    const GgufTensorInfo* wo = file_->find_tensor(p + "attn_output.weight");
    const GgufTensorInfo* wd = file_->find_tensor(p + "ffn_down.weight");
    if (wo == nullptr || wd == nullptr) {
      return Status::invalid(where(
          *file_,
          "missing tensor '" + p + (wo == nullptr ? "attn_output" : "ffn_down") + ".weight'"));
    }
    const int64_t bo = tensor_type_traits(wo->type).block_size;
    const int64_t bd = tensor_type_traits(wd->type).block_size;
    if (bo == 0 || q_rows.begin % bo != 0 || tp_.ff.begin % std::max<int64_t>(bd, 1) != 0) {
      return Status::invalid(where(*file_, "layer " + std::to_string(l) +
                                               ": the tensor-parallel slices do not fall on "
                                               "block boundaries"));
    }
    R1_RETURN_IF_ERROR(plan_matrix(p + "attn_output.weight",
                                   {Source{wo, 0, c.n_embd, q_rows.begin, 0}}, q_dim_, &L.o.m));
    R1_RETURN_IF_ERROR(plan_matrix(p + "ffn_down.weight",
                                   {Source{wd, 0, c.n_embd, tp_.ff.begin, 0}}, ff_, &L.down.m));
    if (qkv_bias_) {
      // Biases are laid out as the fused output: [q slice | k slice | v slice].
      const size_t first = pending_vectors_.size();
      R1_RETURN_IF_ERROR(plan_vector(p + "attn_q.bias", q_rows.begin, q_dim_, &L.qkv_bias));
      R1_RETURN_IF_ERROR(plan_vector(p + "attn_k.bias", kv_rows.begin, kv_dim_, nullptr));
      R1_RETURN_IF_ERROR(plan_vector(p + "attn_v.bias", kv_rows.begin, kv_dim_, nullptr));
      // Merge the three into one contiguous region (the first reservation is re-made).
      PendingVector merged{0, {}, &L.qkv_bias};
      for (size_t i = first; i < pending_vectors_.size(); ++i) {
        merged.values.insert(merged.values.end(), pending_vectors_[i].values.begin(),
                             pending_vectors_[i].values.end());
      }
      pending_vectors_.resize(first);
      merged.offset = arena_.reserve(merged.values.size() * sizeof(float), "weights");
      pending_vectors_.push_back(std::move(merged));
    }
  }

  // ---- plan the sequence slots ----
  const int64_t T = opt_.max_batch_tokens;
  const int64_t E = c.n_embd;
  const int64_t qkv_dim = q_dim_ + 2 * kv_dim_;
  for (int i = 0; i < opt_.n_seq; ++i) {
    SlotOffsets o{};
    const size_t kv_bytes = static_cast<size_t>(c.n_layer * opt_.n_ctx * kv_dim_) * 2;
    o.k = arena_.reserve(kv_bytes, "KV cache");
    o.v = arena_.reserve(kv_bytes, "KV cache");
    auto f32 = [&](int64_t n) { return arena_.reserve(static_cast<size_t>(n) * 4, "activations"); };
    o.x = f32(T * E);
    o.xn = f32(T * E);
    o.qkv = f32(T * qkv_dim);
    o.attn = f32(T * q_dim_);
    o.gu = f32(T * 2 * ff_);
    o.tmp = f32(opt_.tp_world > 1 ? T * E : 1);
    o.logits = f32(T * c.n_vocab);
    o.attn_scratch = f32(cuda::attention_decode_scratch_floats(n_head_, hd, opt_.n_ctx));
    o.act = arena_.reserve(static_cast<size_t>(act_bytes_), "activations");
    o.x16 = arena_.reserve(static_cast<size_t>(T * x16_elems_) * 2, "activations");
    o.w16 =
        arena_.reserve(static_cast<size_t>(std::max<int64_t>(w16_elems_, 1)) * 2, "activations");
    o.io = arena_.reserve(static_cast<size_t>(T + 2) * 4, "activations");
    slot_offsets_.push_back(o);
  }
  R1_RETURN_IF_ERROR(arena_.allocate(path, kHeadroomBytes));
  R1_RETURN_IF_ERROR(upload_all());
  if (output_[0].m.data == nullptr) output_[0].m = token_embd_;

  for (int i = 0; i < opt_.n_seq; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    Slot& s = *slots_.back();
    const SlotOffsets& o = slot_offsets_[static_cast<size_t>(i)];
    s.k_cache = static_cast<uint16_t*>(arena_.at(o.k));
    s.v_cache = static_cast<uint16_t*>(arena_.at(o.v));
    s.x = static_cast<float*>(arena_.at(o.x));
    s.xn = static_cast<float*>(arena_.at(o.xn));
    s.qkv = static_cast<float*>(arena_.at(o.qkv));
    s.attn = static_cast<float*>(arena_.at(o.attn));
    s.gu = static_cast<float*>(arena_.at(o.gu));
    s.tmp = static_cast<float*>(arena_.at(o.tmp));
    s.logits = static_cast<float*>(arena_.at(o.logits));
    s.attn_scratch = static_cast<float*>(arena_.at(o.attn_scratch));
    s.act = arena_.at(o.act);
    s.x16 = static_cast<uint16_t*>(arena_.at(o.x16));
    s.w16 = static_cast<uint16_t*>(arena_.at(o.w16));
    s.io = static_cast<int32_t*>(arena_.at(o.io));
    s.stream = std::make_unique<cuda::Stream>();
    if (!s.stream->valid()) return Status::internal("CUDA: could not create a stream");
    s.blas = std::make_unique<cuda::Blas>();
    R1_RETURN_IF_ERROR(s.blas->init(s.stream->handle()));
    s.decode_graph = std::make_unique<cuda::Graph>();
    R1_RETURN_IF_ERROR(s.host_io.allocate(static_cast<size_t>(T + 2) * 4));
    R1_RETURN_IF_ERROR(s.host_logits.allocate(static_cast<size_t>(c.n_vocab) * 4));
  }
  return Status::ok();
}

Status CudaModel::upload_all() {
  std::vector<uint8_t> image;
  for (PendingMatrix& p : pending_matrices_) {
    const int64_t bytes = cuda::matrix_bytes(p.type, p.rows, p.cols);
    image.assign(static_cast<size_t>(bytes), 0);
    for (const Source& s : p.sources) {
      const size_t row_bytes = static_cast<size_t>(tensor_row_bytes(s.t->type, s.t->ne[0]));
      if (s.t->type != p.type || s.t->ne[0] < s.col_begin + p.cols ||
          s.t->ne[1] < s.row_begin + s.n_rows) {
        return Status::invalid(where(
            *file_, "tensor '" + s.t->name + "' has shape [" + std::to_string(s.t->ne[0]) + ", " +
                        std::to_string(s.t->ne[1]) + "], which does not match the model"));
      }
      cuda::repack_rows(p.type, s.t->data + s.row_begin * row_bytes, row_bytes, s.col_begin,
                        s.n_rows, p.cols, p.rows, s.dst_row, image.data());
    }
    void* dst = arena_.at(p.offset);
    R1_RETURN_IF_ERROR(cuda::upload(dst, image.data(), image.size()));
    p.target->data = dst;
  }
  for (PendingVector& v : pending_vectors_) {
    void* dst = arena_.at(v.offset);
    R1_RETURN_IF_ERROR(cuda::upload(dst, v.values.data(), v.values.size() * sizeof(float)));
    if (v.target != nullptr) *v.target = static_cast<float*>(dst);
  }
  pending_matrices_.clear();
  pending_vectors_.clear();
  return Status::ok();
}

std::unique_ptr<ForwardScratch> CudaModel::make_scratch() const {
  std::lock_guard<std::mutex> lock(slots_mu_);
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i]->in_use) {
      slots_[i]->in_use = true;
      slots_[i]->bound_kv = nullptr;
      return std::make_unique<CudaScratch>(this, static_cast<int>(i));
    }
  }
  return std::make_unique<CudaScratch>(this, -1);
}

void CudaModel::release_slot(int slot) const {
  std::lock_guard<std::mutex> lock(slots_mu_);
  slots_[static_cast<size_t>(slot)]->in_use = false;
  slots_[static_cast<size_t>(slot)]->bound_kv = nullptr;
}

Status CudaModel::linear(Slot& s, const std::vector<Part>& parts, const float* x, int64_t x_stride,
                         int64_t T, float* y, int64_t y_stride, bool accumulate) const {
  void* stream = s.stream->handle();
  TensorType quantized_for = TensorType::kI8;  // none yet
  for (const Part& p : parts) {
    if (T == 1) {
      const TensorType at = cuda::activation_type(p.m.type);
      if (at != quantized_for) {
        cuda::quantize_activation(p.m.type, x, p.m.cols, s.act, stream);
        quantized_for = at;
      }
      cuda::matvec(p.m, s.act, y + p.out_offset, accumulate, stream);
    } else {
      R1_RETURN_IF_ERROR(cuda::linear_gemm(*s.blas, p.m, x, x_stride, T, y + p.out_offset, y_stride,
                                           accumulate, s.x16, s.w16,
                                           std::max<int64_t>(w16_elems_, p.m.cols), stream));
    }
  }
  return Status::ok();
}

// Everything from the embedding lookup to the logits of the last n_rows_out tokens; for T == 1
// this is what the decode graph captures (no host synchronisation, no cuBLAS, no allocation).
Status CudaModel::record_layers(Slot& s, int64_t T, int64_t n_rows_out) const {
  const ModelConfig& c = config_;
  void* stream = s.stream->handle();
  const int64_t E = c.n_embd;
  const int64_t hd = c.head_dim;
  const int64_t qkv_dim = q_dim_ + 2 * kv_dim_;
  const int32_t* d_tokens = s.io;
  const int32_t* d_pos = s.io + opt_.max_batch_tokens;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bool tp = opt_.tp_world > 1;

  cuda::gather_rows_f32(token_embd_, d_tokens, T, s.x, stream);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    uint16_t* kc = s.k_cache + l * opt_.n_ctx * kv_dim_;
    uint16_t* vc = s.v_cache + l * opt_.n_ctx * kv_dim_;
    cuda::rms_norm(s.x, L.attn_norm, s.xn, T, E, c.rms_eps, stream);
    R1_RETURN_IF_ERROR(linear(s, L.qkv, s.xn, E, T, s.qkv, qkv_dim, false));
    cuda::qkv_bias_rope_store(s.qkv, T, qkv_dim, n_head_, n_head_kv_, hd, c.rope_dims, L.qkv_bias,
                              d_pos, theta_scale_, c.rope_freq_scale, c.rope_neox, kc, vc, stream);
    if (T == 1) {
      cuda::attention_decode(s.qkv, n_head_, n_head_kv_, hd, kc, vc, d_pos, opt_.n_ctx, scale,
                             s.attn_scratch, s.attn, stream);
    } else {
      cuda::attention_prefill(s.qkv, qkv_dim, T, n_head_, n_head_kv_, hd, kc, vc, d_pos, scale,
                              s.attn, q_dim_, stream);
    }
    if (tp) {
      R1_RETURN_IF_ERROR(linear(s, {L.o}, s.attn, q_dim_, T, s.tmp, E, false));
      R1_RETURN_IF_ERROR(opt_.comm->all_reduce_sum(s.tmp, T * E, stream));
      cuda::add_inplace(s.x, s.tmp, T * E, stream);
    } else {
      R1_RETURN_IF_ERROR(linear(s, {L.o}, s.attn, q_dim_, T, s.x, E, true));
    }
    cuda::rms_norm(s.x, L.ffn_norm, s.xn, T, E, c.rms_eps, stream);
    R1_RETURN_IF_ERROR(linear(s, L.gate_up, s.xn, E, T, s.gu, 2 * ff_, false));
    cuda::silu_mul(s.gu, T, ff_, 2 * ff_, stream);
    if (tp) {
      R1_RETURN_IF_ERROR(linear(s, {L.down}, s.gu, 2 * ff_, T, s.tmp, E, false));
      R1_RETURN_IF_ERROR(opt_.comm->all_reduce_sum(s.tmp, T * E, stream));
      cuda::add_inplace(s.x, s.tmp, T * E, stream);
    } else {
      R1_RETURN_IF_ERROR(linear(s, {L.down}, s.gu, 2 * ff_, T, s.x, E, true));
    }
  }
  const int64_t first = T - n_rows_out;
  cuda::rms_norm(s.x + first * E, output_norm_, s.xn, n_rows_out, E, c.rms_eps, stream);
  R1_RETURN_IF_ERROR(linear(s, output_, s.xn, E, n_rows_out, s.logits, c.n_vocab, false));
  cuda::argmax(s.logits + (n_rows_out - 1) * c.n_vocab, c.n_vocab, s.io + opt_.max_batch_tokens + 1,
               stream);
  return Status::ok();
}

// One chunk of at most max_batch_tokens tokens at kv.n_past().
Status CudaModel::run(const int32_t* tokens, int64_t T, KvCache& kv, Slot& s, float* logits,
                      bool all_logits, bool want_argmax) const {
  const int64_t n_vocab = config_.n_vocab;
  const int64_t max_T = opt_.max_batch_tokens;
  auto* host = static_cast<int32_t*>(s.host_io.data());
  std::memcpy(host, tokens, static_cast<size_t>(T) * 4);
  host[max_T] = static_cast<int32_t>(kv.n_past());
  const cuda::Stream& stream = *s.stream;
  R1_RETURN_IF_ERROR(cuda::copy_to_device(s.io, host, static_cast<size_t>(T) * 4, stream));
  R1_RETURN_IF_ERROR(cuda::copy_to_device(s.io + max_T, host + max_T, 4, stream));
  const int64_t n_out = all_logits ? T : 1;
  if (T == 1 && opt_.use_graphs) {
    if (!s.decode_graph->ready()) {
      R1_RETURN_IF_ERROR(s.decode_graph->begin_capture(stream));
      Status rec = record_layers(s, 1, 1);
      Status end = s.decode_graph->end_capture(stream);
      R1_RETURN_IF_ERROR(rec);
      R1_RETURN_IF_ERROR(end);
    }
    R1_RETURN_IF_ERROR(s.decode_graph->launch(stream));
  } else {
    R1_RETURN_IF_ERROR(record_layers(s, T, n_out));
  }
  R1_RETURN_IF_ERROR(cuda::check_last_error("CUDA forward"));
  if (logits != nullptr) {
    if (n_out == 1) {
      R1_RETURN_IF_ERROR(cuda::copy_to_host(s.host_logits.data(), s.logits,
                                            static_cast<size_t>(n_vocab) * 4, stream));
    } else {
      R1_RETURN_IF_ERROR(
          cuda::copy_to_host(logits, s.logits, static_cast<size_t>(n_out * n_vocab) * 4, stream));
    }
  }
  if (want_argmax) {
    R1_RETURN_IF_ERROR(cuda::copy_to_host(host + max_T + 1, s.io + max_T + 1, 4, stream));
  }
  R1_RETURN_IF_ERROR(stream.synchronize("CUDA forward"));
  if (logits != nullptr && n_out == 1) {
    std::memcpy(logits, s.host_logits.data(), static_cast<size_t>(n_vocab) * 4);
  }
  kv.set_n_past(kv.n_past() + T);
  return Status::ok();
}

Status CudaModel::forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                               ForwardScratch& scratch, float* logits, bool all_logits) const {
  (void)pool;
  auto& cs = static_cast<CudaScratch&>(scratch);
  if (cs.slot < 0) {
    return Status::out_of_range("all " + std::to_string(opt_.n_seq) +
                                " sequence slots planned on the GPU at load are in use (load "
                                "with a larger n_seq)");
  }
  if (kv.n_ctx() > opt_.n_ctx) {
    return Status::out_of_range("a context of " + std::to_string(kv.n_ctx()) +
                                " tokens exceeds the " + std::to_string(opt_.n_ctx) +
                                " reserved per sequence on the GPU at load");
  }
  Slot& s = *slots_[static_cast<size_t>(cs.slot)];
  if (s.bound_kv != &kv && kv.n_past() > 0) {
    return Status::invalid(
        "this KvCache holds tokens computed with another scratch; on the GPU a "
        "KvCache must stay with the scratch it was filled with");
  }
  s.bound_kv = &kv;
  R1_RETURN_IF_ERROR(cuda::set_device(opt_.device));
  const int64_t max_T = opt_.max_batch_tokens;
  for (int64_t off = 0; off < n; off += max_T) {
    const int64_t m = std::min(max_T, n - off);
    const bool last = off + m == n;
    float* out = nullptr;
    if (all_logits) {
      out = logits + off * config_.n_vocab;
    } else if (last) {
      out = logits;
    }
    R1_RETURN_IF_ERROR(run(tokens + off, m, kv, s, out, all_logits, false));
  }
  return Status::ok();
}

Result<int32_t> CudaModel::forward_greedy(const int32_t* tokens, int64_t n, KvCache& kv,
                                          ForwardScratch& scratch) const {
  R1_RETURN_IF_ERROR(check_forward(tokens, n, kv));  // as Model::forward() validates
  auto& cs = static_cast<CudaScratch&>(scratch);
  R1_RETURN_IF_ERROR(cuda::set_device(opt_.device));
  const int64_t max_T = opt_.max_batch_tokens;
  if (n > max_T) {
    // Earlier chunks only fill the cache.
    const int64_t head = (n - 1) / max_T * max_T;
    for (int64_t off = 0; off < head; off += max_T) {
      if (cs.slot < 0) break;
      Slot& s = *slots_[static_cast<size_t>(cs.slot)];
      R1_RETURN_IF_ERROR(run(tokens + off, max_T, kv, s, nullptr, false, false));
    }
    tokens += head;
    n -= head;
  }
  if (cs.slot < 0) {
    return Status::out_of_range("all " + std::to_string(opt_.n_seq) +
                                " sequence slots planned on the GPU at load are in use");
  }
  if (kv.n_ctx() > opt_.n_ctx) {
    return Status::out_of_range("a context of " + std::to_string(kv.n_ctx()) +
                                " tokens exceeds the " + std::to_string(opt_.n_ctx) +
                                " reserved per sequence on the GPU at load");
  }
  Slot& s = *slots_[static_cast<size_t>(cs.slot)];
  if (s.bound_kv != &kv && kv.n_past() > 0) {
    return Status::invalid("this KvCache holds tokens computed with another scratch");
  }
  s.bound_kv = &kv;
  R1_RETURN_IF_ERROR(run(tokens, n, kv, s, nullptr, false, true));
  return static_cast<int32_t*>(s.host_io.data())[max_T + 1];
}

}  // namespace

Result<std::unique_ptr<Model>> load_model_cuda(const std::string& path,
                                               const CudaModelOptions& options) {
  auto model = std::make_unique<CudaModel>();
  Status st = model->load(path, options);
  if (!st) return st;
  return std::unique_ptr<Model>(std::move(model));
}

bool is_cuda_model(const Model& model) {
  return dynamic_cast<const CudaModel*>(&model) != nullptr;
}

Result<int32_t> cuda_forward_greedy(const Model& model, const int32_t* tokens, int64_t n,
                                    KvCache& kv, ForwardScratch& scratch) {
  const auto* m = dynamic_cast<const CudaModel*>(&model);
  if (m == nullptr) return Status::invalid("cuda_forward_greedy: not a CUDA model");
  return m->forward_greedy(tokens, n, kv, scratch);
}

}  // namespace r1

#else  // built without CUDA

namespace r1 {

Result<std::unique_ptr<Model>> load_model_cuda(const std::string& path,
                                               const CudaModelOptions& options) {
  (void)options;
  return Status::unsupported(path + ": cannot run on a GPU: r1 was built without CUDA");
}

bool is_cuda_model(const Model& model) {
  (void)model;
  return false;
}

Result<int32_t> cuda_forward_greedy(const Model& model, const int32_t* tokens, int64_t n,
                                    KvCache& kv, ForwardScratch& scratch) {
  (void)model, (void)tokens, (void)n, (void)kv, (void)scratch;
  return Status::unsupported("cannot run on a GPU: r1 was built without CUDA");
}

}  // namespace r1

#endif

namespace r1 {

Result<std::unique_ptr<Model>> load_model_on(const std::string& path, const std::string& device,
                                             int64_t n_ctx, int n_seq) {
  if (device.empty() || device == "cpu") return load_model(path);
  if (device != "cuda" && device.rfind("cuda:", 0) != 0) {
    return Status::invalid("device \"" + device + "\": expected cpu, cuda or cuda:N");
  }
  CudaModelOptions o;
  o.n_ctx = n_ctx;
  o.n_seq = n_seq;
  if (device.size() > 5) {
    const std::string n = device.substr(5);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos) {
      return Status::invalid("device \"" + device + "\": expected cuda:N");
    }
    o.device = std::stoi(n);
  }
  return load_model_cuda(path, o);
}

}  // namespace r1
