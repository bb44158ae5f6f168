// `llama` (Llama 2/3, SmolLM2, DeepSeek-R1-Distill-Llama) and the shared llama-style decoder.
//
// Per layer, for T tokens at positions p..p+T-1 (shapes in f32 unless noted):
//   xn   = rms_norm(x) * attn_norm                    (T, n_embd)
//   q,k,v = xn Wq^T (+bq), xn Wk^T (+bk), xn Wv^T (+bv)  (T, n_head*hd), (T, kv_dim) x2
//   rope(q), rope(k); k, v -> cache (f16)             cache (n_ctx, kv_dim) f16
//   a    = softmax(q k^T / sqrt(hd), causal) v         (T, n_head*hd), GQA: head h reads kv head
//                                                      h / (n_head / n_head_kv)
//   x   += a Wo^T
//   xn   = rms_norm(x) * ffn_norm
//   x   += (silu(xn Wgate^T) * (xn Wup^T)) Wdown^T    (T, n_ff) inside
// then logits = rms_norm(x) * output_norm  Wout^T (Wout = token_embd when the file has no
// output.weight).
//
// A batched pass (forward_batch) stacks the rows of several sequences, each at its own
// positions, into one T: the matmuls see all rows at once (each weight matrix is streamed once
// per pass), while RoPE, cache writes and attention use each row's own sequence and position.
// forward() is the same pass with one sequence.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/models/llama_family.h"
#include "engine/models/weights.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"

namespace r1 {

namespace {

struct LlamaScratch final : ForwardScratch {
  int64_t capacity = 0;         // tokens the buffers below hold
  std::vector<float> x;         // (T, n_embd) residual stream
  std::vector<float> xn;        // (T, n_embd) normalised
  std::vector<float> q;         // (T, n_head * head_dim)
  std::vector<float> k;         // (T, kv_dim)
  std::vector<float> v;         // (T, kv_dim)
  std::vector<float> attn;      // (T, n_head * head_dim)
  std::vector<float> gate;      // (T, n_ff)
  std::vector<float> up;        // (T, n_ff)
  std::vector<float> scores;    // (n_threads, attention_group_scratch_floats(...)) scratch
  std::vector<float> rope_cos;  // (T, rope_dims / 2)
  std::vector<float> rope_sin;  // (T, rope_dims / 2)
  ActivationBuffer act;
  // Batched passes only (forward_batch):
  std::vector<int64_t> row_seq;     // (T) sequence of each row
  std::vector<int64_t> row_pos;     // (T) position of each row in its sequence
  std::vector<int64_t> seq_row0;    // (n_seqs) first row of each sequence
  std::vector<float> batch_logits;  // (n_seqs, n_vocab) before they go to each sequence
  struct AttentionItem {
    int64_t seq;    // sequence
    int64_t t0;     // first token of the block, within the sequence
    int64_t n_tok;  // tokens in the block
    int64_t h_kv;   // kv head
  };
  std::vector<AttentionItem> attention_items;
};

struct LayerWeights {
  std::vector<float> attn_norm;   // (n_embd)
  std::vector<float> ffn_norm;    // (n_embd)
  std::vector<float> bq, bk, bv;  // (n_head*hd), (kv_dim), (kv_dim); empty without biases
  Weight wq, wk, wv, wo;          // (n_head*hd, n_embd), (kv_dim, n_embd) x2, (n_embd, n_head*hd)
  Weight w_gate, w_up, w_down;    // (n_ff, n_embd) x2, (n_embd, n_ff)
};

class LlamaFamilyModel final : public Model {
 public:
  explicit LlamaFamilyModel(LlamaFamilyOptions options) : options_(options) {}
  Status bind(const GgufFile& file, const std::string& arch);
  Status forward_batch(ThreadPool& pool, BatchSeq* seqs, int64_t n_seqs) const override;

 protected:
  Status forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                      ForwardScratch& scratch, float* logits, bool all_logits) const override;
  std::unique_ptr<ForwardScratch> make_scratch() const override {
    return std::make_unique<LlamaScratch>();
  }

 private:
  // The pass itself: every row of every sequence through each matmul together; RoPE, cache
  // writes and attention per sequence. `s` holds the buffers of all rows. all_logits only with
  // one sequence. Inputs already checked.
  void run(ThreadPool& pool, const BatchSeq* seqs, int64_t n_seqs, LlamaScratch& s,
           bool all_logits) const;

  LlamaFamilyOptions options_;
  Weight token_embd_;  // (n_vocab, n_embd)
  Weight output_;      // (n_vocab, n_embd), may be token_embd_
  std::vector<float> output_norm_;
  std::vector<LayerWeights> layers_;
};

Status LlamaFamilyModel::bind(const GgufFile& f, const std::string& arch) {
  ModelConfig& c = config_;
  c.arch = arch;
  if (auto name = f.get_string("general.name")) c.name = std::string(*name);
  R1_ASSIGN(c.n_layer, read_dim(f, arch + ".block_count", 1, 4096));
  R1_ASSIGN(c.n_embd, read_dim(f, arch + ".embedding_length", 1, 1 << 20));
  R1_ASSIGN(c.n_ff, read_dim(f, arch + ".feed_forward_length", 1, 1 << 22));
  R1_ASSIGN(c.n_head, read_dim(f, arch + ".attention.head_count", 1, 4096));
  c.n_head_kv = c.n_head;
  if (f.find(arch + ".attention.head_count_kv") != nullptr) {
    R1_ASSIGN(c.n_head_kv, read_dim(f, arch + ".attention.head_count_kv", 1, 4096));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return Status::invalid(
        gguf_where(f, arch + ".attention.head_count " + std::to_string(c.n_head) +
                          " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv)));
  }
  c.head_dim = c.n_embd / c.n_head;
  if (f.find(arch + ".attention.key_length") != nullptr) {
    R1_ASSIGN(c.head_dim, read_dim(f, arch + ".attention.key_length", 1, 1024));
  }
  if (c.head_dim > 1024 || c.head_dim % 2 != 0) {
    return Status::invalid(gguf_where(
        f, "head dimension " + std::to_string(c.head_dim) + " must be even and at most 1024"));
  }
  c.n_ctx_train = 4096;
  if (f.find(arch + ".context_length") != nullptr) {
    R1_ASSIGN(c.n_ctx_train, read_dim(f, arch + ".context_length", 1, 10'000'000));
  }
  c.rope_dims = c.head_dim;
  if (f.find(arch + ".rope.dimension_count") != nullptr) {
    R1_ASSIGN(c.rope_dims, read_dim(f, arch + ".rope.dimension_count", 2, c.head_dim));
  }
  double base = 0;
  R1_ASSIGN(base, f.get_float_or(arch + ".rope.freq_base", 10000.0));
  c.rope_freq_base = static_cast<float>(base);
  double eps = 0;
  R1_ASSIGN(eps, f.get_float_or(arch + ".attention.layer_norm_rms_epsilon", 1e-5));
  c.rms_eps = static_cast<float>(eps);
  if (!(c.rope_freq_base > 0.0f) || !(c.rms_eps > 0.0f) || !std::isfinite(c.rope_freq_base)) {
    return Status::invalid(
        gguf_where(f, "rope.freq_base and layer_norm_rms_epsilon must be positive"));
  }
  if (f.find(arch + ".rope.scaling.type") != nullptr) {
    Result<std::string_view> st = f.get_string(arch + ".rope.scaling.type");
    if (st && *st == "linear") {
      double factor = 0;
      R1_ASSIGN(factor, f.get_float_or(arch + ".rope.scaling.factor", 1.0));
      if (factor > 0) c.rope_freq_scale = static_cast<float>(1.0 / factor);
    } else if (st && *st != "none") {
      return Status::unsupported(gguf_where(
          f, arch + ".rope.scaling.type '" + std::string(*st) + "' is not supported yet"));
    }
  }
  c.rope_neox = options_.rope_neox;

  const int64_t q_dim = c.n_head * c.head_dim;
  const int64_t kv_dim = c.kv_dim();
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (emb == nullptr) return Status::invalid(gguf_where(f, "missing tensor 'token_embd.weight'"));
  c.n_vocab = emb->ne[1];
  R1_ASSIGN(token_embd_, bind_matrix(f, "token_embd.weight", c.n_embd, c.n_vocab));
  if (f.find_tensor("output.weight") != nullptr) {
    R1_ASSIGN(output_, bind_matrix(f, "output.weight", c.n_embd, c.n_vocab));
  } else {
    output_ = token_embd_;
  }
  R1_ASSIGN(output_norm_, bind_vector(f, "output_norm.weight", c.n_embd));

  uint64_t bytes = output_.t->n_bytes;
  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    LayerWeights& L = layers_[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    R1_ASSIGN(L.attn_norm, bind_vector(f, p + "attn_norm.weight", c.n_embd));
    R1_ASSIGN(L.ffn_norm, bind_vector(f, p + "ffn_norm.weight", c.n_embd));
    R1_ASSIGN(L.wq, bind_matrix(f, p + "attn_q.weight", c.n_embd, q_dim));
    R1_ASSIGN(L.wk, bind_matrix(f, p + "attn_k.weight", c.n_embd, kv_dim));
    R1_ASSIGN(L.wv, bind_matrix(f, p + "attn_v.weight", c.n_embd, kv_dim));
    R1_ASSIGN(L.wo, bind_matrix(f, p + "attn_output.weight", q_dim, c.n_embd));
    R1_ASSIGN(L.w_gate, bind_matrix(f, p + "ffn_gate.weight", c.n_embd, c.n_ff));
    R1_ASSIGN(L.w_up, bind_matrix(f, p + "ffn_up.weight", c.n_embd, c.n_ff));
    R1_ASSIGN(L.w_down, bind_matrix(f, p + "ffn_down.weight", c.n_ff, c.n_embd));
    if (options_.qkv_bias) {
      R1_ASSIGN(L.bq, bind_vector(f, p + "attn_q.bias", q_dim));
      R1_ASSIGN(L.bk, bind_vector(f, p + "attn_k.bias", kv_dim));
      R1_ASSIGN(L.bv, bind_vector(f, p + "attn_v.bias", kv_dim));
    }
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
      bytes += w->t->n_bytes;
    }
  }
  bytes_per_token_ = bytes;
  c.file_type = tensor_type_name(layers_[0].w_gate.type());
  return Status::ok();
}

Status LlamaFamilyModel::forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t T,
                                      KvCache& kv, ForwardScratch& scratch, float* logits,
                                      bool all_logits) const {
  BatchSeq seq{tokens, T, &kv, &scratch, logits};
  run(pool, &seq, 1, static_cast<LlamaScratch&>(scratch), all_logits);
  return Status::ok();
}

Status LlamaFamilyModel::forward_batch(ThreadPool& pool, BatchSeq* seqs, int64_t n_seqs) const {
  if (n_seqs <= 0) return Status::ok();
  R1_RETURN_IF_ERROR(check_batch(seqs, n_seqs));
  for (int64_t i = 0; i < n_seqs; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      if (seqs[i].kv == seqs[j].kv || seqs[i].scratch == seqs[j].scratch) {
        return Status::invalid("batch sequences " + std::to_string(j) + " and " +
                               std::to_string(i) + " share a KV cache or scratch");
      }
    }
  }
  run(pool, seqs, n_seqs, static_cast<LlamaScratch&>(*seqs[0].scratch), false);
  return Status::ok();
}

void LlamaFamilyModel::run(ThreadPool& pool, const BatchSeq* seqs, int64_t n_seqs, LlamaScratch& s,
                           bool all_logits) const {
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd;
  const int64_t hd = c.head_dim;
  const int64_t q_dim = c.n_head * hd;
  const int64_t kv_dim = c.kv_dim();
  const int64_t half_rope = c.rope_dims / 2;
  const int n_threads = pool.n_threads();

  // Rows: sequence i owns rows [seq_row0[i], seq_row0[i] + seqs[i].n).
  int64_t T = 0;
  int64_t max_n = 0;
  int64_t max_ctx = 0;
  s.seq_row0.resize(static_cast<size_t>(n_seqs));
  for (int64_t i = 0; i < n_seqs; ++i) {
    s.seq_row0[i] = T;
    T += seqs[i].n;
    max_n = std::max(max_n, seqs[i].n);
    max_ctx = std::max(max_ctx, seqs[i].kv->n_ctx());
  }
  if (s.capacity < T) {
    s.capacity = T;
    s.x.resize(T * E);
    s.xn.resize(T * E);
    s.q.resize(T * q_dim);
    s.k.resize(T * kv_dim);
    s.v.resize(T * kv_dim);
    s.attn.resize(T * q_dim);
    s.gate.resize(T * c.n_ff);
    s.up.resize(T * c.n_ff);
    s.rope_cos.resize(T * half_rope);
    s.rope_sin.resize(T * half_rope);
    s.row_seq.resize(T);
    s.row_pos.resize(T);
  }
  for (int64_t i = 0; i < n_seqs; ++i) {
    const int64_t n_past = seqs[i].kv->n_past();
    for (int64_t t = 0; t < seqs[i].n; ++t) {
      s.row_seq[s.seq_row0[i] + t] = i;
      s.row_pos[s.seq_row0[i] + t] = n_past + t;
    }
  }

  const int64_t group = c.n_head / c.n_head_kv;
  // Tokens per attention work item: ~24 query rows amortise the key/value conversion.
  const int64_t block_tokens = std::max<int64_t>(1, 24 / group);
  const int64_t scratch_per_thread =
      attention_group_scratch_floats(std::min(block_tokens, max_n) * group, max_ctx, hd);
  if (s.scores.size() < static_cast<size_t>(n_threads * scratch_per_thread)) {
    s.scores.resize(static_cast<size_t>(n_threads * scratch_per_thread));
  }
  // One work item per (sequence, block of its tokens, kv head): the group's query heads and
  // tokens share each converted key and value row. Items that see more keys go first.
  s.attention_items.clear();
  for (int64_t i = 0; i < n_seqs; ++i) {
    const int64_t n_blocks = (seqs[i].n + block_tokens - 1) / block_tokens;
    for (int64_t block = n_blocks - 1; block >= 0; --block) {
      const int64_t t0 = block * block_tokens;
      for (int64_t h_kv = 0; h_kv < c.n_head_kv; ++h_kv) {
        s.attention_items.push_back({i, t0, std::min(block_tokens, seqs[i].n - t0), h_kv});
      }
    }
  }
  if (n_seqs > 1) {
    auto keys_seen = [&](const LlamaScratch::AttentionItem& a) {
      return seqs[a.seq].kv->n_past() + a.t0 + a.n_tok;
    };
    std::stable_sort(s.attention_items.begin(), s.attention_items.end(),
                     [&](const auto& a, const auto& b) { return keys_seen(a) > keys_seen(b); });
  }
  const int64_t n_items = static_cast<int64_t>(s.attention_items.size());

  // Embedding rows are gathered, not multiplied: dequantize the row of each token.
  pool.parallel_for(T, 1, [&](int64_t b, int64_t e, int) {
    const int64_t row_bytes = tensor_row_bytes(token_embd_.type(), E);
    for (int64_t r = b; r < e; ++r) {
      const BatchSeq& sq = seqs[s.row_seq[r]];
      const int32_t token = sq.tokens[r - s.seq_row0[s.row_seq[r]]];
      const auto* row = static_cast<const uint8_t*>(token_embd_.data()) + token * row_bytes;
      dequantize_row_ref(token_embd_.type(), row, s.x.data() + r * E, E);
    }
  });
  for (int64_t r = 0; r < T; ++r) {
    rope_cache(s.rope_cos.data() + r * half_rope, s.rope_sin.data() + r * half_rope, c.rope_dims,
               s.row_pos[r], c.rope_freq_base, c.rope_freq_scale);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = layers_[static_cast<size_t>(l)];
    for (int64_t r = 0; r < T; ++r) {
      rms_norm(s.x.data() + r * E, L.attn_norm.data(), s.xn.data() + r * E, E, c.rms_eps);
    }
    project(pool, s.act, s.xn.data(), T, E,
            {{L.wq.type(), L.wq.data(), q_dim, s.q.data(), q_dim},
             {L.wk.type(), L.wk.data(), kv_dim, s.k.data(), kv_dim},
             {L.wv.type(), L.wv.data(), kv_dim, s.v.data(), kv_dim}});

    pool.parallel_for(T, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t r = b; r < e; ++r) {
        float* q = s.q.data() + r * q_dim;
        float* k = s.k.data() + r * kv_dim;
        float* v = s.v.data() + r * kv_dim;
        if (!L.bq.empty()) {
          add_inplace(q, L.bq.data(), q_dim);
          add_inplace(k, L.bk.data(), kv_dim);
          add_inplace(v, L.bv.data(), kv_dim);
        }
        const float* cs = s.rope_cos.data() + r * half_rope;
        const float* sn = s.rope_sin.data() + r * half_rope;
        for (int64_t h = 0; h < c.n_head; ++h)
          rope_apply(q + h * hd, cs, sn, c.rope_dims, c.rope_neox);
        for (int64_t h = 0; h < c.n_head_kv; ++h)
          rope_apply(k + h * hd, cs, sn, c.rope_dims, c.rope_neox);
        KvCache& kv = *seqs[s.row_seq[r]].kv;
        f32_to_f16_row(k, kv.k(l) + s.row_pos[r] * kv_dim, kv_dim);
        f32_to_f16_row(v, kv.v(l) + s.row_pos[r] * kv_dim, kv_dim);
      }
    });

    // Token t of a sequence sees its cache cells [0, n_past + t].
    pool.parallel_for(n_items, 1, [&](int64_t b, int64_t e, int thread) {
      float* scratch = s.scores.data() + thread * scratch_per_thread;
      for (int64_t i = b; i < e; ++i) {
        const LlamaScratch::AttentionItem& it = s.attention_items[i];
        const KvCache& kv = *seqs[it.seq].kv;
        const int64_t col = (s.seq_row0[it.seq] + it.t0) * q_dim + it.h_kv * group * hd;
        attention_group(s.q.data() + col, q_dim, it.n_tok, group, kv.k(l), kv.v(l),
                        kv.n_past() + it.t0 + 1, kv_dim, it.h_kv * hd, hd, scale, scratch,
                        s.attn.data() + col, q_dim);
      }
    });

    project(pool, s.act, s.attn.data(), T, q_dim, {{L.wo.type(), L.wo.data(), E, s.xn.data(), E}});
    for (int64_t r = 0; r < T; ++r) add_inplace(s.x.data() + r * E, s.xn.data() + r * E, E);

    for (int64_t r = 0; r < T; ++r) {
      rms_norm(s.x.data() + r * E, L.ffn_norm.data(), s.xn.data() + r * E, E, c.rms_eps);
    }
    project(pool, s.act, s.xn.data(), T, E,
            {{L.w_gate.type(), L.w_gate.data(), c.n_ff, s.gate.data(), c.n_ff},
             {L.w_up.type(), L.w_up.data(), c.n_ff, s.up.data(), c.n_ff}});
    for (int64_t r = 0; r < T; ++r) {
      silu_mul(s.gate.data() + r * c.n_ff, s.up.data() + r * c.n_ff, c.n_ff);
    }
    project(pool, s.act, s.gate.data(), T, c.n_ff,
            {{L.w_down.type(), L.w_down.data(), E, s.xn.data(), E}});
    for (int64_t r = 0; r < T; ++r) add_inplace(s.x.data() + r * E, s.xn.data() + r * E, E);
  }

  // Logits: every row of a lone sequence when asked, else the last row of each sequence.
  int64_t n_out = 0;
  if (all_logits) {
    for (int64_t r = 0; r < T; ++r) {
      rms_norm(s.x.data() + r * E, output_norm_.data(), s.xn.data() + r * E, E, c.rms_eps);
    }
    n_out = T;
  } else {
    for (int64_t i = 0; i < n_seqs; ++i) {
      const int64_t last = s.seq_row0[i] + seqs[i].n - 1;
      rms_norm(s.x.data() + last * E, output_norm_.data(), s.xn.data() + i * E, E, c.rms_eps);
    }
    n_out = n_seqs;
  }
  float* out = seqs[0].logits;
  if (n_seqs > 1) {
    s.batch_logits.resize(static_cast<size_t>(n_seqs * c.n_vocab));
    out = s.batch_logits.data();
  }
  project(pool, s.act, s.xn.data(), n_out, E,
          {{output_.type(), output_.data(), c.n_vocab, out, c.n_vocab}});
  if (n_seqs > 1) {
    for (int64_t i = 0; i < n_seqs; ++i) {
      std::memcpy(seqs[i].logits, out + i * c.n_vocab, sizeof(float) * c.n_vocab);
    }
  }
  for (int64_t i = 0; i < n_seqs; ++i) seqs[i].kv->set_n_past(seqs[i].kv->n_past() + seqs[i].n);
}

}  // namespace

Result<std::unique_ptr<Model>> build_llama_family(const GgufFile& file, const std::string& arch,
                                                  const LlamaFamilyOptions& options) {
  auto model = std::make_unique<LlamaFamilyModel>(options);
  Status st = model->bind(file, arch);
  if (!st) return st;
  return std::unique_ptr<Model>(std::move(model));
}

Result<std::unique_ptr<Model>> load_llama_family(const GgufFile& file, const std::string& arch) {
  return build_llama_family(file, arch, LlamaFamilyOptions{});
}

}  // namespace r1
