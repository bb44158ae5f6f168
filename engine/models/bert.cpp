// `bert` (all-MiniLM-L6-v2 and other BERT encoders with absolute positions), post-norm.
//
// For T tokens packed from several sequences (each at positions 0..len-1, token type 0):
//   x    = LN(tok_embd[id] + pos_embd[p] + type_embd[0]) (T, n_embd)
// then per layer:
//   q,k,v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv       (T, n_embd) each, side by side in qkv
//   a    = softmax(q k^T / sqrt(hd)) v per sequence and head, no mask: a sequence sees itself only
//   x    = LN(x + a Wo^T + bo)
//   x    = LN(x + gelu(x Wup^T + bup) Wdown^T + bdown)  (T, n_ff) inside
// The last x is the output (sentence-transformers pools it; see engine/embedder.cpp).
#include "engine/models/bert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"

namespace r1 {

namespace {

// Tokens per parallel_for item in the row-wise (per-token) steps.
constexpr int64_t kTokenGrain = 16;

Status bad(const GgufFile& f, const std::string& what) {
  return Status::invalid(f.path() + ": " + what);
}

Result<int64_t> required_int(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi) {
  Result<uint64_t> v = f.get_uint(key);
  if (!v) return bad(f, v.status().message());
  if (*v < static_cast<uint64_t>(lo) || *v > static_cast<uint64_t>(hi)) {
    return bad(f, key + " = " + std::to_string(*v) + " is out of range [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  }
  return static_cast<int64_t>(*v);
}

// y = x W^T for the targets (one matrix, or several whose outputs are adjacent column ranges
// of one y in target order, as q | k | v): through the packed f32 GEMM when the weights were
// packed at load, through the CPU matmul on the memory-mapped weights otherwise.
void project(ThreadPool& pool, const PackedWeightsF32& packed, const float* x, int64_t n_tokens,
             int64_t cols, const MatmulTarget* targets, int n_targets, ActivationBuffer& act) {
  if (!packed.empty()) {
    gemm_f32(pool, x, cols, n_tokens, packed, targets[0].y, targets[0].y_stride);
    return;
  }
  quantize_activations(pool, targets[0].type, x, n_tokens, cols, act);
  matmul(pool, act, targets, n_targets);
}

// Packs one matrix, or nothing when its type is not packable.
PackedWeightsF32 pack_matrix(TensorType type, const void* data, int64_t rows, int64_t cols) {
  return pack_gemm_weights(type, &data, &rows, 1, cols);
}

}  // namespace

Result<std::unique_ptr<BertEncoder>> BertEncoder::load(const GgufFile& file) {
  Result<std::string_view> arch = file.get_string("general.architecture");
  if (!arch) return bad(file, "general.architecture: " + arch.status().message());
  if (*arch != "bert") {
    return Status::unsupported(file.path() + ": general.architecture is \"" + std::string(*arch) +
                               "\", not \"bert\"");
  }
  if (Status caps = gguf_check_model_caps(file, "bert"); !caps) return caps;
  std::unique_ptr<BertEncoder> enc(new BertEncoder());
  BertConfig& c = enc->config_;
  struct IntKey {
    int64_t* dst;
    const char* key;
    int64_t lo, hi;
  };
  for (const IntKey& k : {IntKey{&c.n_embd, "bert.embedding_length", 1, 1 << 16},
                          IntKey{&c.n_layer, "bert.block_count", 1, 1024},
                          IntKey{&c.n_head, "bert.attention.head_count", 1, 1024},
                          IntKey{&c.n_ff, "bert.feed_forward_length", 1, 1 << 18},
                          IntKey{&c.n_positions, "bert.context_length", 2, 1 << 16}}) {
    Result<int64_t> v = required_int(file, k.key, k.lo, k.hi);
    if (!v) return v.status();
    *k.dst = *v;
  }
  if (c.n_embd % c.n_head != 0) {
    return bad(file, "bert.embedding_length " + std::to_string(c.n_embd) +
                         " is not a multiple of bert.attention.head_count " +
                         std::to_string(c.n_head));
  }
  c.head_dim = c.n_embd / c.n_head;
  Result<double> eps = file.get_float("bert.attention.layer_norm_epsilon");
  if (!eps) return bad(file, eps.status().message());
  if (!(*eps > 0.0 && *eps < 1.0)) {
    return bad(file,
               "bert.attention.layer_norm_epsilon = " + std::to_string(*eps) + " is not in (0, 1)");
  }
  c.layer_norm_eps = static_cast<float>(*eps);
  Result<bool> causal = file.get_bool_or("bert.attention.causal", false);
  if (!causal) return bad(file, causal.status().message());
  if (*causal) return Status::unsupported(file.path() + ": bert.attention.causal is true");
  Result<uint64_t> max_seq = file.get_uint_or("sentence_transformers.max_seq_length",
                                              static_cast<uint64_t>(c.n_positions));
  if (!max_seq) return bad(file, max_seq.status().message());
  if (*max_seq < 2 || *max_seq > static_cast<uint64_t>(c.n_positions)) {
    return bad(file, "sentence_transformers.max_seq_length = " + std::to_string(*max_seq) +
                         " is outside [2, bert.context_length = " + std::to_string(c.n_positions) +
                         "]");
  }
  c.max_seq_length = static_cast<int64_t>(*max_seq);
  Result<bool> normalize = file.get_bool_or("sentence_transformers.normalize", true);
  if (!normalize) return bad(file, normalize.status().message());
  c.normalize = *normalize;

  const GgufTensorInfo* embd = file.find_tensor("token_embd.weight");
  if (embd == nullptr) return bad(file, "tensor token_embd.weight is missing");
  c.n_vocab = embd->ne[1];
  const GgufTensorInfo* types = file.find_tensor("token_types.weight");
  c.n_token_types = types != nullptr ? types->ne[1] : 0;

  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols,
                    bool matmul) -> Result<Matrix> {
    const GgufTensorInfo* t = file.find_tensor(name);
    if (t == nullptr) return bad(file, "tensor " + name + " is missing");
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows) {
      return bad(file, "tensor " + name + " has shape [" + std::to_string(t->ne[0]) + ", " +
                           std::to_string(t->ne[1]) + "] (" + std::to_string(t->n_dims) +
                           " dims), expected [" + std::to_string(cols) + ", " +
                           std::to_string(rows) + "]");
    }
    if (!cpu_type_supported(t->type) || (matmul && cpu_type_kernels(t->type) == nullptr)) {
      return Status::unsupported(file.path() + ": tensor " + name + " has type " +
                                 tensor_type_name(t->type) + ", which the CPU kernels lack");
    }
    return Matrix{t->type, t->data, rows, cols};
  };
  auto vec = [&](const std::string& name, int64_t n) -> Result<std::vector<float>> {
    const GgufTensorInfo* t = file.find_tensor(name);
    if (t == nullptr) return bad(file, "tensor " + name + " is missing");
    if (t->n_elements() != n || t->ne[0] != n) {
      return bad(file, "tensor " + name + " has " + std::to_string(t->n_elements()) +
                           " elements, expected " + std::to_string(n));
    }
    std::vector<float> out(static_cast<size_t>(n));
    if (!dequantize_row_ref(t->type, t->data, out.data(), n)) {
      return Status::unsupported(file.path() + ": tensor " + name + " has type " +
                                 tensor_type_name(t->type));
    }
    return out;
  };
#define R1_TRY_ASSIGN(dst, expr)         \
  do {                                   \
    auto r1_tmp = (expr);                \
    if (!r1_tmp) return r1_tmp.status(); \
    dst = std::move(r1_tmp.value());     \
  } while (0)

  const int64_t E = c.n_embd;
  if (c.n_vocab < 1 || c.n_token_types < 1) {
    return bad(file, "tensor token_embd.weight or token_types.weight is missing or empty");
  }
  R1_TRY_ASSIGN(enc->token_embd_, matrix("token_embd.weight", c.n_vocab, E, false));
  R1_TRY_ASSIGN(enc->position_embd_, matrix("position_embd.weight", c.n_positions, E, false));
  R1_TRY_ASSIGN(enc->token_types_, matrix("token_types.weight", c.n_token_types, E, false));
  R1_TRY_ASSIGN(enc->embd_ln_w_, vec("token_embd_norm.weight", E));
  R1_TRY_ASSIGN(enc->embd_ln_b_, vec("token_embd_norm.bias", E));
  enc->layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i) {
    Layer& l = enc->layers_[static_cast<size_t>(i)];
    const std::string p = "blk." + std::to_string(i) + ".";
    R1_TRY_ASSIGN(l.wq, matrix(p + "attn_q.weight", E, E, true));
    R1_TRY_ASSIGN(l.wk, matrix(p + "attn_k.weight", E, E, true));
    R1_TRY_ASSIGN(l.wv, matrix(p + "attn_v.weight", E, E, true));
    R1_TRY_ASSIGN(l.wo, matrix(p + "attn_output.weight", E, E, true));
    R1_TRY_ASSIGN(l.w_up, matrix(p + "ffn_up.weight", c.n_ff, E, true));
    R1_TRY_ASSIGN(l.w_down, matrix(p + "ffn_down.weight", E, c.n_ff, true));
    if (l.wk.type != l.wq.type || l.wv.type != l.wq.type) {
      return bad(file, p + "attn_q/attn_k/attn_v.weight must share one type");
    }
    std::vector<float> bq, bk, bv;
    R1_TRY_ASSIGN(bq, vec(p + "attn_q.bias", E));
    R1_TRY_ASSIGN(bk, vec(p + "attn_k.bias", E));
    R1_TRY_ASSIGN(bv, vec(p + "attn_v.bias", E));
    l.bqkv = bq;
    l.bqkv.insert(l.bqkv.end(), bk.begin(), bk.end());
    l.bqkv.insert(l.bqkv.end(), bv.begin(), bv.end());
    R1_TRY_ASSIGN(l.bo, vec(p + "attn_output.bias", E));
    R1_TRY_ASSIGN(l.b_up, vec(p + "ffn_up.bias", c.n_ff));
    R1_TRY_ASSIGN(l.b_down, vec(p + "ffn_down.bias", E));
    R1_TRY_ASSIGN(l.ln_attn_w, vec(p + "attn_output_norm.weight", E));
    R1_TRY_ASSIGN(l.ln_attn_b, vec(p + "attn_output_norm.bias", E));
    R1_TRY_ASSIGN(l.ln_out_w, vec(p + "layer_output_norm.weight", E));
    R1_TRY_ASSIGN(l.ln_out_b, vec(p + "layer_output_norm.bias", E));
    const void* qkv_parts[3] = {l.wq.data, l.wk.data, l.wv.data};
    const int64_t qkv_rows[3] = {E, E, E};
    l.qkv_packed = pack_gemm_weights(l.wq.type, qkv_parts, qkv_rows, 3, E);
    l.o_packed = pack_matrix(l.wo.type, l.wo.data, E, E);
    l.up_packed = pack_matrix(l.w_up.type, l.w_up.data, c.n_ff, E);
    l.down_packed = pack_matrix(l.w_down.type, l.w_down.data, E, c.n_ff);
  }
#undef R1_TRY_ASSIGN
  return enc;
}

void BertEncoder::attention(ThreadPool& pool, const int64_t* seq_lens, int64_t n_seqs,
                            BertScratch& s) const {
  const int64_t E = config_.n_embd, hd = config_.head_dim, n_head = config_.n_head;
  std::vector<int64_t> first(static_cast<size_t>(n_seqs));  // first token of each sequence
  int64_t n_max = 0;
  for (int64_t i = 0, o = 0; i < n_seqs; o += seq_lens[i], ++i) {
    first[static_cast<size_t>(i)] = o;
    n_max = std::max(n_max, seq_lens[i]);
  }
  const int64_t per_thread = n_max * n_max + hd * n_max;
  const size_t want = static_cast<size_t>(per_thread * pool.n_threads());
  if (s.heads.size() < want) s.heads.resize(want);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const size_t qkv_stride = static_cast<size_t>(3 * E) * sizeof(float);
  // One item per (sequence, head): scores = q k^T (n, n), softmax rows, a = p v.
  pool.parallel_for(n_seqs * n_head, 1, [&](int64_t begin, int64_t end, int thread) {
    float* scores = s.heads.data() + per_thread * thread;  // (n, n)
    float* vt = scores + n_max * n_max;                    // (hd, n): v transposed
    for (int64_t item = begin; item < end; ++item) {
      const int64_t seq = item / n_head, h = item % n_head;
      const int64_t n = seq_lens[seq], o = first[static_cast<size_t>(seq)];
      const float* q = s.qkv.data() + o * 3 * E + h * hd;
      const float* k = q + E;
      const float* v = q + 2 * E;
      matmul_strided(TensorType::kF32, k, n, qkv_stride, hd, q, qkv_stride, n, scores, n);
      for (int64_t i = 0; i < n; ++i) {
        float* row = scores + i * n;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j]);
        for (int64_t j = 0; j < n; ++j) row[j] = (row[j] - mx) * scale;
        exp_row(row, row, n);
        double sum = 0.0;
        for (int64_t j = 0; j < n; ++j) sum += row[j];
        const auto inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
      }
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t d = 0; d < hd; ++d) vt[d * n + j] = v[j * 3 * E + d];
      }
      matmul_strided(TensorType::kF32, vt, hd, static_cast<size_t>(n) * sizeof(float), n, scores,
                     static_cast<size_t>(n) * sizeof(float), n, s.attn.data() + o * E + h * hd, E);
    }
  });
}

Status BertEncoder::encode(ThreadPool& pool, const int32_t* tokens, const int64_t* seq_lens,
                           int64_t n_seqs, BertScratch& s, float* out) const {
  const BertConfig& c = config_;
  const int64_t E = c.n_embd;
  int64_t n_total = 0;
  for (int64_t i = 0; i < n_seqs; ++i) {
    if (seq_lens[i] < 1 || seq_lens[i] > c.n_positions) {
      return Status::invalid("bert: sequence " + std::to_string(i) + " has " +
                             std::to_string(seq_lens[i]) + " tokens (1.." +
                             std::to_string(c.n_positions) + " allowed)");
    }
    n_total += seq_lens[i];
  }
  std::vector<int32_t> positions(static_cast<size_t>(n_total));
  for (int64_t i = 0, t = 0; i < n_seqs; ++i) {
    for (int64_t p = 0; p < seq_lens[i]; ++p)
      positions[static_cast<size_t>(t++)] = static_cast<int32_t>(p);
  }
  for (int64_t t = 0; t < n_total; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.n_vocab) {
      return Status::invalid("bert: token id " + std::to_string(tokens[t]) + " at " +
                             std::to_string(t) + " is out of range (vocab " +
                             std::to_string(c.n_vocab) + ")");
    }
  }
  if (n_total == 0) return Status::ok();
  auto grow = [](std::vector<float>& v, int64_t n) {
    if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  };
  grow(s.x, n_total * E);
  grow(s.qkv, n_total * 3 * E);
  grow(s.attn, n_total * E);
  grow(s.proj, n_total * E);
  grow(s.ff, n_total * c.n_ff);

  // Embeddings.
  const int64_t tok_row = tensor_row_bytes(token_embd_.type, E);
  const int64_t pos_row = tensor_row_bytes(position_embd_.type, E);
  pool.parallel_for(n_total, kTokenGrain, [&](int64_t begin, int64_t end, int) {
    std::vector<float> tmp(static_cast<size_t>(E));
    for (int64_t t = begin; t < end; ++t) {
      float* x = s.x.data() + t * E;
      dequantize_row_ref(token_embd_.type,
                         static_cast<const uint8_t*>(token_embd_.data) + tokens[t] * tok_row, x, E);
      dequantize_row_ref(position_embd_.type,
                         static_cast<const uint8_t*>(position_embd_.data) +
                             positions[static_cast<size_t>(t)] * pos_row,
                         tmp.data(), E);
      add_inplace(x, tmp.data(), E);
      dequantize_row_ref(token_types_.type, token_types_.data, tmp.data(), E);
      add_inplace(x, tmp.data(), E);
      layer_norm(x, embd_ln_w_.data(), embd_ln_b_.data(), x, E, c.layer_norm_eps);
    }
  });

  for (const Layer& l : layers_) {
    // q | k | v side by side: one pass over x for three matrices.
    const MatmulTarget qkv[3] = {{l.wq.type, l.wq.data, E, s.qkv.data(), 3 * E},
                                 {l.wk.type, l.wk.data, E, s.qkv.data() + E, 3 * E},
                                 {l.wv.type, l.wv.data, E, s.qkv.data() + 2 * E, 3 * E}};
    project(pool, l.qkv_packed, s.x.data(), n_total, E, qkv, 3, s.act);
    pool.parallel_for(n_total, kTokenGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t)
        add_inplace(s.qkv.data() + t * 3 * E, l.bqkv.data(), 3 * E);
    });
    attention(pool, seq_lens, n_seqs, s);

    const MatmulTarget o{l.wo.type, l.wo.data, E, s.proj.data(), E};
    project(pool, l.o_packed, s.attn.data(), n_total, E, &o, 1, s.act);
    pool.parallel_for(n_total, kTokenGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        float* x = s.x.data() + t * E;
        const float* p = s.proj.data() + t * E;
        for (int64_t i = 0; i < E; ++i) x[i] += p[i] + l.bo[static_cast<size_t>(i)];
        layer_norm(x, l.ln_attn_w.data(), l.ln_attn_b.data(), x, E, c.layer_norm_eps);
      }
    });

    const MatmulTarget up{l.w_up.type, l.w_up.data, c.n_ff, s.ff.data(), c.n_ff};
    project(pool, l.up_packed, s.x.data(), n_total, E, &up, 1, s.act);
    pool.parallel_for(n_total, kTokenGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        float* f = s.ff.data() + t * c.n_ff;
        add_inplace(f, l.b_up.data(), c.n_ff);
        gelu(f, c.n_ff);
      }
    });
    const MatmulTarget down{l.w_down.type, l.w_down.data, E, s.proj.data(), E};
    project(pool, l.down_packed, s.ff.data(), n_total, c.n_ff, &down, 1, s.act);
    pool.parallel_for(n_total, kTokenGrain, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        float* x = s.x.data() + t * E;
        const float* p = s.proj.data() + t * E;
        for (int64_t i = 0; i < E; ++i) x[i] += p[i] + l.b_down[static_cast<size_t>(i)];
        layer_norm(x, l.ln_out_w.data(), l.ln_out_b.data(), x, E, c.layer_norm_eps);
      }
    });
  }
  std::memcpy(out, s.x.data(), static_cast<size_t>(n_total * E) * sizeof(float));
  return Status::ok();
}

}  // namespace r1
