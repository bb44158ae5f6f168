// `deepseek2` (DeepSeek-V2, V2-Lite, V3, R1): multi-head latent attention (MLA) and a
// mixture of experts (MoE), in the GGUF layout llama.cpp's converter writes.
//
// Shapes: E = n_embd, H = n_head, R = kv_lora_rank, nope/rope = the non-rotary and rotary parts
// of a q/k head (qk = nope + rope), vd = value head width, QL = q_lora_rank (0: no q LoRA).
//
// Attention, per layer, for T tokens at positions p..p+T-1:
//   xn    = rms_norm(x) * attn_norm                                  (T, E)
//   q     = QL ? (rms_norm(xn Wq_a^T) * q_a_norm) Wq_b^T : xn Wq^T      (T, H * qk)
//   kva   = xn Wkv_a^T = [c | k_pe]                                   (T, R + rope)
//   rope(q_pe of every head), rope(k_pe); c = rms_norm(c) * kv_a_norm
//   cache <- f16 [c | k_pe]                         cache (n_ctx, R + rope) f16, one row per token
//   Weight absorption: with Wk_b,h (R, nope) and Wv_b,h (vd, R) the per-head slices of the
//   key/value up-projection, q_nope . (Wk_b,h^T c) = (Wk_b,h q_nope) . c, so each head's query
//   moves into latent space, q_h = [Wk_b,h q_nope,h | q_pe,h] (R + rope), and attention is MQA
//   over the cached rows with scale kq_scale (1/sqrt(qk), times the YaRN mscale^2):
//   o_h   = softmax(q_h . cache^T) cache[:, :R]                       (R) per head
//   a_h   = Wv_b,h o_h                                                (vd) per head
//   x    += a Wo^T                                                    (T, H * vd) -> (T, E)
// The same path serves prefill and decode; the full keys and values are never built.
//
// Feed-forward: the first leading_dense_block_count layers have a SwiGLU FFN as llama; the rest
// a router over expert_count experts:
//   probs = softmax(xn Wr^T) or sigmoid(xn Wr^T)                      (n_expert)
//   choose expert_used_count experts by probs + exp_probs_b (the bias steers the choice only),
//   within the best expert_group_used_count groups (a group scores the sum of its top two);
//   weights = probs of the chosen, / their sum if expert_weights_norm, * expert_weights_scale
//   x += sum_e weight_e SwiGLU_e(xn) + SwiGLU_shared(xn)
// Only the chosen experts are read: the 3-D expert tensors stay memory-mapped, so pages of
// experts no token picks are never touched.
//
// Tensor names and layouts (ggml order, innermost first) follow llama.cpp: attn_q_a {E, QL},
// attn_q_a_norm {QL}, attn_q_b {QL, H*qk} or attn_q {E, H*qk}; attn_kv_a_mqa {E, R+rope},
// attn_kv_a_norm {R}; attn_k_b {nope, R, H} and attn_v_b {R, vd, H} (files with
// attention.key_length_mla), or the older unsplit attn_kv_b {R, H*(nope+vd)}; attn_output
// {H*vd, E}; ffn_gate_inp {E, n_expert}; exp_probs_b.bias {n_expert}; ffn_{gate,up}_exps
// {E, n_ff_exp, n_expert}, ffn_down_exps {n_ff_exp, E, n_expert}; ffn_{gate,up}_shexp
// {E, n_ff_exp * n_shared}, ffn_down_shexp {n_ff_exp * n_shared, E}.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/model.h"
#include "engine/models/weights.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant.h"

namespace r1 {

namespace {

constexpr const char* kArch = "deepseek2";

enum class Gating { kSoftmax = 1, kSigmoid = 2 };

struct Ds2Params {
  int64_t q_lora_rank = 0;   // 0: attn_q
  int64_t kv_lora_rank = 0;  // R
  int64_t nope = 0;          // per head
  int64_t rope = 0;          // per head (n_rot)
  int64_t v_head = 0;        // vd
  int64_t n_dense_lead = 0;  // leading layers with a dense FFN
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_expert_shared = 0;
  int64_t n_ff_exp = 0;  // per expert
  int64_t n_group = 0;   // expert groups (0 or 1: no grouping)
  int64_t n_group_used = 0;
  Gating gating = Gating::kSoftmax;
  bool weights_norm = false;
  float weights_scale = 0.0f;  // 0: no scaling
  bool split_kv_b = false;     // attn_k_b/attn_v_b instead of attn_kv_b
  // Rotary embedding (ggml's rope with YaRN): see yarn_rope_cache().
  float rope_ext_factor = 0.0f;  // 1 for YaRN
  float rope_attn_factor = 1.0f;
  float rope_corr_lo = 0.0f;  // YaRN ramp bounds, in rotary pair indices
  float rope_corr_hi = 0.0f;
  float kq_scale = 0.0f;  // attention scale (mscale^2 / sqrt(qk))
  int64_t latent() const { return kv_lora_rank + rope; }
};

struct LayerWeights {
  std::vector<float> attn_norm;          // (E)
  std::vector<float> ffn_norm;           // (E)
  std::vector<float> q_a_norm;           // (QL), empty without q LoRA
  std::vector<float> kv_a_norm;          // (R)
  Weight wq_a, wq_b, wq;                 // (QL, E), (H*qk, QL) | (H*qk, E)
  Weight wkv_a;                          // (R + rope, E)
  Weight wk_b, wv_b;                     // (H, R, nope), (H, vd, R)       [split files]
  Weight wkv_b;                          // (H * (nope + vd), R)           [unsplit files]
  Weight wo;                             // (E, H*vd)
  Weight w_gate, w_up, w_down;           // dense: (n_ff, E) x2, (E, n_ff)
  Weight w_router;                       // (n_expert, E)
  std::vector<float> probs_bias;         // (n_expert), empty when absent
  Weight w_gate_exps, w_up_exps;         // (n_expert, n_ff_exp, E)
  Weight w_down_exps;                    // (n_expert, E, n_ff_exp)
  Weight w_gate_sh, w_up_sh, w_down_sh;  // (n_ff_sh, E) x2, (E, n_ff_sh)
  bool moe = false;
};

struct Ds2Scratch final : ForwardScratch {
  int64_t capacity = 0;            // tokens the buffers below hold
  std::vector<float> x;            // (T, E) residual stream
  std::vector<float> xn;           // (T, E) normalised / sublayer output
  std::vector<float> qa;           // (T, QL)
  std::vector<float> q;            // (T, H * qk)
  std::vector<float> kva;          // (T, R + rope)
  std::vector<float> q_lat;        // (T, H * (R + rope)) queries in latent space
  std::vector<float> o_lat;        // (T, H * (R + rope)) attention output (first R used per head)
  std::vector<float> attn;         // (T, H * vd)
  std::vector<float> gate;         // (T, max(n_ff, n_ff_sh))
  std::vector<float> up;           // (T, max(n_ff, n_ff_sh))
  std::vector<float> router;       // (T, n_expert) logits, then probabilities
  std::vector<int32_t> chosen;     // (T, n_expert_used) expert ids
  std::vector<float> chosen_w;     // (T, n_expert_used) their weights
  std::vector<float> moe;          // (T, E) weighted expert sum
  std::vector<float> ex_x;         // (T, E) rows routed to one expert
  std::vector<float> ex_gate;      // (T, n_ff_exp)
  std::vector<float> ex_up;        // (T, n_ff_exp)
  std::vector<float> ex_out;       // (T, E)
  std::vector<int32_t> ex_rows;    // (T) token of each gathered row
  std::vector<float> ex_rw;        // (T) routing weight of each gathered row
  std::vector<float> select;       // (n_expert) one token's selection scores
  std::vector<int32_t> order;      // (n_expert) experts by selection score
  std::vector<float> group_score;  // (n_group)
  std::vector<int32_t> groups;     // (n_group) groups by score
  std::vector<float> scores;       // (n_threads, attention scratch)
  std::vector<uint8_t> head_act;   // (n_threads, T * dot row bytes) per-head activations
  std::vector<float> head_row;     // (n_threads, R) a dequantized weight row
  std::vector<float> rope_cos;     // (T, rope / 2)
  std::vector<float> rope_sin;     // (T, rope / 2)
  ActivationBuffer act;
};

class Deepseek2Model final : public Model {
 public:
  Status bind(const GgufFile& file);

  uint64_t kv_cache_bytes(int64_t n_ctx) const override {
    return static_cast<uint64_t>(config_.n_layer) * static_cast<uint64_t>(n_ctx) *
           static_cast<uint64_t>(p_.latent()) * sizeof(uint16_t);
  }
  std::unique_ptr<KvCache> make_kv_cache(int64_t n_ctx) const override {
    return std::make_unique<KvCache>(config_.n_layer, n_ctx, p_.latent(), 0);
  }
  // Routed experts stay on disk pages until a token selects them: a machine with less memory
  // than the file still runs the model (slowly), so only the rest must fit.
  uint64_t resident_weight_bytes() const override {
    const uint64_t file = gguf_ ? gguf_->file_size() : 0;
    return file > routed_expert_bytes_ ? file - routed_expert_bytes_ : 0;
  }

 protected:
  Status forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                      ForwardScratch& scratch, float* logits, bool all_logits) const override;
  std::unique_ptr<ForwardScratch> make_scratch() const override {
    return std::make_unique<Ds2Scratch>();
  }

 private:
  void attention(ThreadPool& pool, const LayerWeights& L, int64_t layer, int64_t T, KvCache& kv,
                 Ds2Scratch& s) const;
  void absorb_queries(ThreadPool& pool, const LayerWeights& L, int64_t T, Ds2Scratch& s) const;
  void values_from_latents(ThreadPool& pool, const LayerWeights& L, int64_t T, Ds2Scratch& s) const;
  void route(const LayerWeights& L, int64_t T, Ds2Scratch& s) const;
  void experts(ThreadPool& pool, const LayerWeights& L, int64_t T, Ds2Scratch& s) const;
  void yarn_rope_cache(float* cos_out, float* sin_out, int64_t pos) const;

  Ds2Params p_;
  uint64_t routed_expert_bytes_ = 0;  // ffn_{gate,up,down}_exps of every layer
  Weight token_embd_;                 // (n_vocab, E)
  Weight output_;                     // (n_vocab, E), may be token_embd_
  std::vector<float> output_norm_;
  std::vector<LayerWeights> layers_;
};

std::string key(const std::string& name) {
  return std::string(kArch) + "." + name;
}

// Bytes of expert `e`'s slice of a 3-D expert tensor.
const uint8_t* expert_slice(const Weight& w, int64_t e) {
  return w.data() + e * w.t->ne[1] * tensor_row_bytes(w.type(), w.t->ne[0]);
}

Status Deepseek2Model::bind(const GgufFile& f) {
  ModelConfig& c = config_;
  Ds2Params& p = p_;
  c.arch = kArch;
  if (auto name = f.get_string("general.name")) c.name = std::string(*name);
  R1_ASSIGN(c.n_layer, read_dim(f, key("block_count"), 1, 4096));
  R1_ASSIGN(c.n_embd, read_dim(f, key("embedding_length"), 1, 1 << 20));
  R1_ASSIGN(c.n_ff, read_dim(f, key("feed_forward_length"), 1, 1 << 22));
  R1_ASSIGN(c.n_head, read_dim(f, key("attention.head_count"), 1, 4096));
  R1_ASSIGN(c.n_ctx_train, read_dim_or(f, key("context_length"), 4096, 1, 10'000'000));
  R1_ASSIGN(p.q_lora_rank, read_dim_or(f, key("attention.q_lora_rank"), 0, 0, 1 << 16));
  R1_ASSIGN(p.kv_lora_rank, read_dim(f, key("attention.kv_lora_rank"), 1, 1 << 16));
  R1_ASSIGN(p.rope, read_dim(f, key("rope.dimension_count"), 2, 1024));
  // Newer files describe the cache (key_length = R + rope, value_length = R, one kv head) and
  // give the per-head sizes in the _mla keys; older ones give the per-head sizes directly.
  p.split_kv_b = f.find(key("attention.key_length_mla")) != nullptr;
  int64_t qk = 0;
  if (p.split_kv_b) {
    R1_ASSIGN(qk, read_dim(f, key("attention.key_length_mla"), 1, 4096));
    R1_ASSIGN(p.v_head, read_dim(f, key("attention.value_length_mla"), 1, 4096));
  } else {
    R1_ASSIGN(qk, read_dim(f, key("attention.key_length"), 1, 4096));
    R1_ASSIGN(p.v_head, read_dim(f, key("attention.value_length"), 1, 4096));
  }
  if (p.rope % 2 != 0 || p.rope >= qk) {
    return Status::invalid(
        gguf_where(f, key("rope.dimension_count") + " = " + std::to_string(p.rope) +
                          " must be even and below the key head size " + std::to_string(qk)));
  }
  p.nope = qk - p.rope;
  if (p.latent() > 1024) {
    return Status::invalid(gguf_where(
        f, "kv_lora_rank + rope dimensions = " + std::to_string(p.latent()) + " exceeds 1024"));
  }

  R1_ASSIGN(p.n_dense_lead, read_dim_or(f, key("leading_dense_block_count"), 0, 0, c.n_layer));
  const bool has_moe = p.n_dense_lead < c.n_layer;
  R1_ASSIGN(p.n_expert, read_dim_or(f, key("expert_count"), 0, 0, 65536));
  R1_ASSIGN(p.n_expert_used, read_dim_or(f, key("expert_used_count"), 0, 0, 65536));
  if (has_moe) {
    if (p.n_expert < 1 || p.n_expert_used < 1) {
      return Status::invalid(gguf_where(f, key("expert_count") + " and " +
                                               key("expert_used_count") +
                                               " must be at least 1 for the MoE layers"));
    }
    if (p.n_expert_used > p.n_expert) {
      return Status::invalid(gguf_where(
          f, key("expert_used_count") + " = " + std::to_string(p.n_expert_used) + " exceeds " +
                 key("expert_count") + " = " + std::to_string(p.n_expert)));
    }
    R1_ASSIGN(p.n_ff_exp, read_dim(f, key("expert_feed_forward_length"), 1, 1 << 20));
    R1_ASSIGN(p.n_expert_shared, read_dim_or(f, key("expert_shared_count"), 0, 0, 64));
    R1_ASSIGN(p.n_group, read_dim_or(f, key("expert_group_count"), 0, 0, p.n_expert));
    R1_ASSIGN(p.n_group_used, read_dim_or(f, key("expert_group_used_count"), 0, 0, p.n_expert));
    if (p.n_group > 1) {
      const int64_t per_group = p.n_expert / p.n_group;
      if (p.n_expert % p.n_group != 0 || per_group < 2 || p.n_group_used < 1 ||
          p.n_group_used > p.n_group || p.n_expert_used > p.n_group_used * per_group) {
        return Status::invalid(gguf_where(
            f, "expert groups do not fit: " + std::to_string(p.n_expert) + " experts in " +
                   std::to_string(p.n_group) + " groups, " + std::to_string(p.n_group_used) +
                   " groups used, " + std::to_string(p.n_expert_used) + " experts used"));
      }
    }
    int64_t gating = 0;
    R1_ASSIGN(gating, read_dim_or(f, key("expert_gating_func"), 0, 0, 1 << 20));
    if (gating == 0 || gating == 1) {
      p.gating = Gating::kSoftmax;  // absent in V2 files: softmax
    } else if (gating == 2) {
      p.gating = Gating::kSigmoid;
    } else {
      return Status::unsupported(gguf_where(f, key("expert_gating_func") + " = " +
                                                   std::to_string(gating) +
                                                   " (1 softmax and 2 sigmoid are supported)"));
    }
    R1_ASSIGN(p.weights_norm, f.get_bool_or(key("expert_weights_norm"), false));
    double scale = 0;
    R1_ASSIGN(scale, f.get_float_or(key("expert_weights_scale"), 0.0));
    if (!std::isfinite(scale))
      return Status::invalid(gguf_where(f, "expert_weights_scale is not finite"));
    p.weights_scale = static_cast<float>(scale);
  }

  double base = 0, eps = 0;
  R1_ASSIGN(base, f.get_float_or(key("rope.freq_base"), 10000.0));
  R1_ASSIGN(eps, f.get_float_or(key("attention.layer_norm_rms_epsilon"), 1e-6));
  c.rope_freq_base = static_cast<float>(base);
  c.rms_eps = static_cast<float>(eps);
  if (!(c.rope_freq_base > 0.0f) || !std::isfinite(c.rope_freq_base) || !(c.rms_eps > 0.0f)) {
    return Status::invalid(
        gguf_where(f, "rope.freq_base and layer_norm_rms_epsilon must be positive"));
  }

  // Rotary scaling, with llama.cpp's numbers for deepseek2 (YaRN: ext_factor 1, beta_fast 32,
  // beta_slow 1). The GGUF stores yarn_log_multiplier as 0.1 * mscale_all_dim; the attention
  // scale is mscale^2 / sqrt(qk) with mscale = a * (1 + 0.1 * mscale_all_dim * ln(factor)),
  // where a = 1 when a log multiplier is given and 1 + 0.1 ln(factor) otherwise; the rotation
  // itself is scaled by a.
  std::string scaling = "none";
  if (f.find(key("rope.scaling.type")) != nullptr) {
    Result<std::string_view> st = f.get_string(key("rope.scaling.type"));
    if (!st) return Status::invalid(gguf_where(f, st.status().message()));
    scaling = std::string(*st);
  }
  double factor = 1.0;
  R1_ASSIGN(factor, f.get_float_or(key("rope.scaling.factor"), 0.0));
  if (!std::isfinite(factor) || factor < 0) {
    return Status::invalid(gguf_where(f, key("rope.scaling.factor") + " must be positive"));
  }
  c.rope_freq_scale =
      (scaling == "none" || factor == 0.0) ? 1.0f : static_cast<float>(1.0 / factor);
  double log_mul_raw = 0;
  R1_ASSIGN(log_mul_raw, f.get_float_or(key("rope.scaling.yarn_log_multiplier"), 0.0));
  const float log_mul = static_cast<float>(log_mul_raw) / 0.1f;  // mscale_all_dim
  const float ln_factor = std::log(1.0f / c.rope_freq_scale);
  float attn_factor = 1.0f;
  if (scaling == "yarn") {
    p.rope_ext_factor = 1.0f;
    const float fac = 1.0f / c.rope_freq_scale;
    const float mscale_plain = fac <= 1.0f ? 1.0f : 1.0f + 0.1f * std::log(fac);
    attn_factor = (log_mul != 0.0f ? 1.0f : mscale_plain) / (1.0f + 0.1f * ln_factor);
    int64_t n_ctx_orig = 0;
    R1_ASSIGN(n_ctx_orig, read_dim_or(f, key("rope.scaling.original_context_length"), c.n_ctx_train,
                                      1, 10'000'000));
    double beta_fast = 32.0, beta_slow = 1.0;
    R1_ASSIGN(beta_fast, f.get_float_or(key("rope.scaling.yarn_beta_fast"), 32.0));
    R1_ASSIGN(beta_slow, f.get_float_or(key("rope.scaling.yarn_beta_slow"), 1.0));
    // Pair index where a wavelength fits `turns` times into the original context.
    auto corr_dim = [&](double turns) {
      return static_cast<float>(p.rope) *
             std::log(static_cast<float>(n_ctx_orig) /
                      (static_cast<float>(turns) * 2.0f * static_cast<float>(M_PI))) /
             (2.0f * std::log(c.rope_freq_base));
    };
    p.rope_corr_lo = std::max(0.0f, std::floor(corr_dim(beta_fast)));
    p.rope_corr_hi = std::min(static_cast<float>(p.rope - 1), std::ceil(corr_dim(beta_slow)));
  } else if (scaling != "none" && scaling != "linear") {
    return Status::unsupported(
        gguf_where(f, key("rope.scaling.type") + " '" + scaling + "' is not supported"));
  }
  p.rope_attn_factor = attn_factor;
  const float attn_factor_org = attn_factor * (1.0f + 0.1f * ln_factor);
  const float mscale = attn_factor_org * (1.0f + 0.1f * log_mul * ln_factor);
  p.kq_scale = mscale * mscale / std::sqrt(static_cast<float>(qk));

  c.n_head_kv = 1;  // one latent row per token serves every head
  c.head_dim = qk;
  c.rope_dims = p.rope;
  c.rope_neox = false;

  const int64_t E = c.n_embd, H = c.n_head, R = p.kv_lora_rank;
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (emb == nullptr) return Status::invalid(gguf_where(f, "missing tensor 'token_embd.weight'"));
  c.n_vocab = emb->ne[1];
  R1_ASSIGN(token_embd_, bind_tensor(f, "token_embd.weight", {E, c.n_vocab}));
  if (f.find_tensor("output.weight") != nullptr) {
    R1_ASSIGN(output_, bind_tensor(f, "output.weight", {E, c.n_vocab}));
  } else {
    output_ = token_embd_;
  }
  R1_ASSIGN(output_norm_, bind_vector(f, "output_norm.weight", E));

  // Bytes one decode step reads: every matrix but the embedding table, and of the routed
  // experts only the expert_used_count / expert_count share a token picks.
  double bytes = static_cast<double>(output_.t->n_bytes);
  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    LayerWeights& L = layers_[static_cast<size_t>(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    R1_ASSIGN(L.attn_norm, bind_vector(f, b + "attn_norm.weight", E));
    R1_ASSIGN(L.ffn_norm, bind_vector(f, b + "ffn_norm.weight", E));
    std::vector<const Weight*> dense;
    if (p.q_lora_rank > 0) {
      R1_ASSIGN(L.wq_a, bind_tensor(f, b + "attn_q_a.weight", {E, p.q_lora_rank}));
      R1_ASSIGN(L.q_a_norm, bind_vector(f, b + "attn_q_a_norm.weight", p.q_lora_rank));
      R1_ASSIGN(L.wq_b, bind_tensor(f, b + "attn_q_b.weight", {p.q_lora_rank, H * qk}));
      dense.push_back(&L.wq_a);
      dense.push_back(&L.wq_b);
    } else {
      R1_ASSIGN(L.wq, bind_tensor(f, b + "attn_q.weight", {E, H * qk}));
      dense.push_back(&L.wq);
    }
    R1_ASSIGN(L.wkv_a, bind_tensor(f, b + "attn_kv_a_mqa.weight", {E, R + p.rope}));
    R1_ASSIGN(L.kv_a_norm, bind_vector(f, b + "attn_kv_a_norm.weight", R));
    if (p.split_kv_b) {
      R1_ASSIGN(L.wk_b, bind_tensor(f, b + "attn_k_b.weight", {p.nope, R, H}));
      R1_ASSIGN(L.wv_b, bind_tensor(f, b + "attn_v_b.weight", {R, p.v_head, H}));
      dense.push_back(&L.wk_b);
      dense.push_back(&L.wv_b);
    } else {
      R1_ASSIGN(L.wkv_b, bind_tensor(f, b + "attn_kv_b.weight", {R, H * (p.nope + p.v_head)}));
      dense.push_back(&L.wkv_b);
    }
    R1_ASSIGN(L.wo, bind_tensor(f, b + "attn_output.weight", {H * p.v_head, E}));
    dense.push_back(&L.wkv_a);
    dense.push_back(&L.wo);
    L.moe = l >= p.n_dense_lead;
    if (!L.moe) {
      R1_ASSIGN(L.w_gate, bind_tensor(f, b + "ffn_gate.weight", {E, c.n_ff}));
      R1_ASSIGN(L.w_up, bind_tensor(f, b + "ffn_up.weight", {E, c.n_ff}));
      R1_ASSIGN(L.w_down, bind_tensor(f, b + "ffn_down.weight", {c.n_ff, E}));
      dense.insert(dense.end(), {&L.w_gate, &L.w_up, &L.w_down});
    } else {
      const int64_t n_exp = p.n_expert, n_ff = p.n_ff_exp;
      R1_ASSIGN(L.w_router, bind_tensor(f, b + "ffn_gate_inp.weight", {E, n_exp}));
      if (f.find_tensor(b + "exp_probs_b.bias") != nullptr) {
        R1_ASSIGN(L.probs_bias, bind_vector(f, b + "exp_probs_b.bias", n_exp));
      }
      R1_ASSIGN(L.w_gate_exps, bind_tensor(f, b + "ffn_gate_exps.weight", {E, n_ff, n_exp}));
      R1_ASSIGN(L.w_up_exps, bind_tensor(f, b + "ffn_up_exps.weight", {E, n_ff, n_exp}));
      R1_ASSIGN(L.w_down_exps, bind_tensor(f, b + "ffn_down_exps.weight", {n_ff, E, n_exp}));
      dense.push_back(&L.w_router);
      if (p.n_expert_shared > 0) {
        const int64_t n_sh = n_ff * p.n_expert_shared;
        R1_ASSIGN(L.w_gate_sh, bind_tensor(f, b + "ffn_gate_shexp.weight", {E, n_sh}));
        R1_ASSIGN(L.w_up_sh, bind_tensor(f, b + "ffn_up_shexp.weight", {E, n_sh}));
        R1_ASSIGN(L.w_down_sh, bind_tensor(f, b + "ffn_down_shexp.weight", {n_sh, E}));
        dense.insert(dense.end(), {&L.w_gate_sh, &L.w_up_sh, &L.w_down_sh});
      }
      const double share = static_cast<double>(p.n_expert_used) / static_cast<double>(n_exp);
      const uint64_t routed =
          L.w_gate_exps.t->n_bytes + L.w_up_exps.t->n_bytes + L.w_down_exps.t->n_bytes;
      bytes += share * static_cast<double>(routed);
      routed_expert_bytes_ += routed;
      if (c.file_type.empty()) c.file_type = tensor_type_name(L.w_gate_exps.type());
    }
    for (const Weight* w : dense) bytes += static_cast<double>(w->t->n_bytes);
  }
  // Every activation row handed to the kernels must be a whole number of blocks.
  for (const auto& t : f.tensors()) {
    if (cpu_type_supported(t.type) && tensor_row_bytes(t.type, t.ne[0]) < 0) {
      return Status::invalid(gguf_where(f, "tensor '" + t.name + "' rows of " +
                                               std::to_string(t.ne[0]) +
                                               " elements are not whole blocks of its type"));
    }
  }
  bytes_per_token_ = static_cast<uint64_t>(bytes);
  if (c.file_type.empty()) c.file_type = tensor_type_name(layers_[0].wkv_a.type());
  return Status::ok();
}

// cos/sin of the rotary pairs at `pos`, as ggml's rope with YaRN computes them: the angle of
// pair i is pos * base^(-2i/rope) (built by repeated multiplication, as ggml does), scaled by
// freq_scale; with YaRN, pairs below the ramp keep the unscaled angle, pairs above take the
// scaled one, and both cos and sin carry the magnitude factor.
void Deepseek2Model::yarn_rope_cache(float* cos_out, float* sin_out, int64_t pos) const {
  const float freq_scale = config_.rope_freq_scale;
  const float theta_scale = std::pow(config_.rope_freq_base, -2.0f / static_cast<float>(p_.rope));
  float mscale = p_.rope_attn_factor;
  if (p_.rope_ext_factor != 0.0f) mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale);
  float theta_extrap = static_cast<float>(pos);
  for (int64_t i = 0; i < p_.rope / 2; ++i) {
    const float theta_interp = freq_scale * theta_extrap;
    float theta = theta_interp;
    if (p_.rope_ext_factor != 0.0f) {
      const float y = (static_cast<float>(i) - p_.rope_corr_lo) /
                      std::max(0.001f, p_.rope_corr_hi - p_.rope_corr_lo);
      const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p_.rope_ext_factor;
      theta = theta_interp * (1.0f - ramp) + theta_extrap * ramp;
    }
    cos_out[i] = std::cos(theta) * mscale;
    sin_out[i] = std::sin(theta) * mscale;
    theta_extrap *= theta_scale;
  }
}

// q_lat[t][h] = [Wk_b,h q_nope(t,h) | q_pe(t,h)]: the query of head h in latent space.
void Deepseek2Model::absorb_queries(ThreadPool& pool, const LayerWeights& L, int64_t T,
                                    Ds2Scratch& s) const {
  const int64_t H = config_.n_head, R = p_.kv_lora_rank, nope = p_.nope, rope = p_.rope;
  const int64_t qk = nope + rope, lat = p_.latent();
  const size_t act_per_thread = s.head_act.size() / static_cast<size_t>(pool.n_threads());
  pool.parallel_for(H, 1, [&](int64_t hb, int64_t he, int thread) {
    for (int64_t h = hb; h < he; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(s.q_lat.data() + (t * H + h) * lat + R, s.q.data() + t * H * qk + h * qk + nope,
                    rope * sizeof(float));
      }
      float* y = s.q_lat.data() + h * lat;
      if (p_.split_kv_b) {
        // Wk_b,h is (R, nope): an ordinary product with the head's nope-part as input.
        const CpuTypeKernels* k = cpu_type_kernels(L.wk_b.type());
        const int64_t w_row = tensor_row_bytes(L.wk_b.type(), nope);
        const int64_t x_row = tensor_row_bytes(k->dot_type, nope);
        uint8_t* xa = s.head_act.data() + thread * act_per_thread;
        for (int64_t t = 0; t < T; ++t) {
          k->quantize_act(s.q.data() + t * H * qk + h * qk, xa + t * x_row, nope);
        }
        matmul_strided(L.wk_b.type(), L.wk_b.data() + h * R * w_row, R, static_cast<size_t>(w_row),
                       nope, xa, static_cast<size_t>(x_row), T, y, H * lat);
      } else {
        // attn_kv_b holds the transpose (its rows h*(nope+vd) + i are (R) wide): accumulate
        // q_nope[i] * row_i, one dequantized row at a time.
        const int64_t w_row = tensor_row_bytes(L.wkv_b.type(), R);
        float* row = s.head_row.data() + thread * R;
        for (int64_t t = 0; t < T; ++t) std::fill(y + t * H * lat, y + t * H * lat + R, 0.0f);
        for (int64_t i = 0; i < nope; ++i) {
          dequantize_row_ref(L.wkv_b.type(), L.wkv_b.data() + (h * (nope + p_.v_head) + i) * w_row,
                             row, R);
          for (int64_t t = 0; t < T; ++t) {
            const float qi = s.q[static_cast<size_t>(t * H * qk + h * qk + i)];
            float* yt = y + t * H * lat;
            for (int64_t r = 0; r < R; ++r) yt[r] += qi * row[r];
          }
        }
      }
    }
  });
}

// attn[t][h] = Wv_b,h o_lat[t][h][0..R): each head's value from its latent attention output.
void Deepseek2Model::values_from_latents(ThreadPool& pool, const LayerWeights& L, int64_t T,
                                         Ds2Scratch& s) const {
  const int64_t H = config_.n_head, R = p_.kv_lora_rank, vd = p_.v_head, lat = p_.latent();
  const Weight& w = p_.split_kv_b ? L.wv_b : L.wkv_b;
  const CpuTypeKernels* k = cpu_type_kernels(w.type());
  const int64_t w_row = tensor_row_bytes(w.type(), R);
  const int64_t x_row = tensor_row_bytes(k->dot_type, R);
  const size_t act_per_thread = s.head_act.size() / static_cast<size_t>(pool.n_threads());
  pool.parallel_for(H, 1, [&](int64_t hb, int64_t he, int thread) {
    uint8_t* xa = s.head_act.data() + thread * act_per_thread;
    for (int64_t h = hb; h < he; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        k->quantize_act(s.o_lat.data() + (t * H + h) * lat, xa + t * x_row, R);
      }
      const int64_t first_row = p_.split_kv_b ? h * vd : h * (p_.nope + vd) + p_.nope;
      matmul_strided(w.type(), w.data() + first_row * w_row, vd, static_cast<size_t>(w_row), R, xa,
                     static_cast<size_t>(x_row), T, s.attn.data() + h * vd, H * vd);
    }
  });
}

void Deepseek2Model::attention(ThreadPool& pool, const LayerWeights& L, int64_t layer, int64_t T,
                               KvCache& kv, Ds2Scratch& s) const {
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd, H = c.n_head, R = p_.kv_lora_rank, rope = p_.rope;
  const int64_t qk = p_.nope + rope, lat = p_.latent(), half = rope / 2;
  const int64_t n_past = kv.n_past();
  const int n_threads = pool.n_threads();

  if (p_.q_lora_rank > 0) {
    const int64_t QL = p_.q_lora_rank;
    project(pool, s.act, s.xn.data(), T, E,
            {{L.wq_a.type(), L.wq_a.data(), QL, s.qa.data(), QL},
             {L.wkv_a.type(), L.wkv_a.data(), lat, s.kva.data(), lat}});
    for (int64_t t = 0; t < T; ++t) {
      rms_norm(s.qa.data() + t * QL, L.q_a_norm.data(), s.qa.data() + t * QL, QL, c.rms_eps);
    }
    project(pool, s.act, s.qa.data(), T, QL,
            {{L.wq_b.type(), L.wq_b.data(), H * qk, s.q.data(), H * qk}});
  } else {
    project(pool, s.act, s.xn.data(), T, E,
            {{L.wq.type(), L.wq.data(), H * qk, s.q.data(), H * qk},
             {L.wkv_a.type(), L.wkv_a.data(), lat, s.kva.data(), lat}});
  }

  uint16_t* cache = kv.k(layer);
  pool.parallel_for(T, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const float* cs = s.rope_cos.data() + t * half;
      const float* sn = s.rope_sin.data() + t * half;
      float* q = s.q.data() + t * H * qk;
      for (int64_t h = 0; h < H; ++h) rope_apply(q + h * qk + p_.nope, cs, sn, rope, false);
      float* kva = s.kva.data() + t * lat;
      rope_apply(kva + R, cs, sn, rope, false);
      rms_norm(kva, L.kv_a_norm.data(), kva, R, c.rms_eps);
      f32_to_f16_row(kva, cache + (n_past + t) * lat, lat);
    }
  });

  absorb_queries(pool, L, T, s);

  // MQA over the latent rows: every head reads the same cache row, as key (all R + rope
  // columns) and as value (the first R; the rope tail of the output is ignored). Work items are
  // (block of tokens, chunk of heads); later blocks see more rows, so they go first.
  const int64_t n_chunks_wanted =
      std::min<int64_t>(H, std::max<int64_t>(1, (2 * n_threads + T - 1) / T));
  const int64_t heads_per_item = (H + n_chunks_wanted - 1) / n_chunks_wanted;
  const int64_t n_chunks = (H + heads_per_item - 1) / heads_per_item;
  const int64_t block_tokens = std::max<int64_t>(1, 24 / heads_per_item);
  const int64_t n_blocks = (T + block_tokens - 1) / block_tokens;
  const int64_t scratch_per_thread =
      attention_group_scratch_floats(std::min(block_tokens, T) * heads_per_item, kv.n_ctx(), lat);
  if (s.scores.size() < static_cast<size_t>(n_threads * scratch_per_thread)) {
    s.scores.resize(static_cast<size_t>(n_threads * scratch_per_thread));
  }
  const int64_t stride = H * lat;
  pool.parallel_for(n_blocks * n_chunks, 1, [&](int64_t b, int64_t e, int thread) {
    float* scratch = s.scores.data() + thread * scratch_per_thread;
    for (int64_t i = b; i < e; ++i) {
      const int64_t block = n_blocks - 1 - i / n_chunks;
      const int64_t h0 = (i % n_chunks) * heads_per_item;
      const int64_t n_heads = std::min(heads_per_item, H - h0);
      const int64_t t0 = block * block_tokens;
      const int64_t n_tok = std::min(block_tokens, T - t0);
      const int64_t col = t0 * stride + h0 * lat;
      attention_group(s.q_lat.data() + col, stride, n_tok, n_heads, cache, cache, n_past + t0 + 1,
                      lat, 0, lat, p_.kq_scale, scratch, s.o_lat.data() + col, stride);
    }
  });

  values_from_latents(pool, L, T, s);
  project(pool, s.act, s.attn.data(), T, H * p_.v_head,
          {{L.wo.type(), L.wo.data(), E, s.xn.data(), E}});
}

// Picks each token's experts and their weights into s.chosen / s.chosen_w.
void Deepseek2Model::route(const LayerWeights& L, int64_t T, Ds2Scratch& s) const {
  const int64_t n_exp = p_.n_expert, k = p_.n_expert_used;
  std::vector<float>& select = s.select;
  std::vector<float>& group_score = s.group_score;
  std::vector<int32_t>& order = s.order;
  std::vector<int32_t>& groups = s.groups;
  select.resize(static_cast<size_t>(n_exp));
  order.resize(static_cast<size_t>(n_exp));
  group_score.resize(static_cast<size_t>(std::max<int64_t>(1, p_.n_group)));
  groups.resize(static_cast<size_t>(std::max<int64_t>(1, p_.n_group)));
  for (int64_t t = 0; t < T; ++t) {
    float* probs = s.router.data() + t * n_exp;
    if (p_.gating == Gating::kSoftmax) {
      softmax_inplace(probs, n_exp);
    } else {
      for (int64_t e = 0; e < n_exp; ++e) probs[e] = 1.0f / (1.0f + std::exp(-probs[e]));
    }
    for (int64_t e = 0; e < n_exp; ++e) {
      select[e] = probs[e] + (L.probs_bias.empty() ? 0.0f : L.probs_bias[e]);
    }
    if (p_.n_group > 1) {
      // A group scores the sum of its two best; only the best n_group_used groups compete.
      const int64_t per = n_exp / p_.n_group;
      for (int64_t g = 0; g < p_.n_group; ++g) {
        float a = -std::numeric_limits<float>::infinity(), b = a;
        for (int64_t e = g * per; e < (g + 1) * per; ++e) {
          if (select[e] > a) {
            b = a;
            a = select[e];
          } else if (select[e] > b) {
            b = select[e];
          }
        }
        group_score[g] = a + b;
      }
      for (int64_t g = 0; g < p_.n_group; ++g) groups[g] = static_cast<int32_t>(g);
      std::partial_sort(groups.begin(), groups.begin() + p_.n_group_used, groups.end(),
                        [&](int32_t x, int32_t y) {
                          return group_score[x] > group_score[y] ||
                                 (group_score[x] == group_score[y] && x < y);
                        });
      // Groups past the first n_group_used of `groups` drop out.
      for (int64_t g = p_.n_group_used; g < p_.n_group; ++g) {
        for (int64_t e = groups[g] * per; e < (groups[g] + 1) * per; ++e) {
          select[e] = -std::numeric_limits<float>::infinity();
        }
      }
    }
    for (int64_t e = 0; e < n_exp; ++e) order[e] = static_cast<int32_t>(e);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
      return select[x] > select[y] || (select[x] == select[y] && x < y);
    });
    int32_t* ids = s.chosen.data() + t * k;
    float* w = s.chosen_w.data() + t * k;
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      ids[j] = order[j];
      w[j] = probs[order[j]];
      sum += w[j];
    }
    if (p_.weights_norm) {
      for (int64_t j = 0; j < k; ++j) w[j] /= sum;
    }
    if (p_.weights_scale != 0.0f) {
      for (int64_t j = 0; j < k; ++j) w[j] *= p_.weights_scale;
    }
  }
}

// s.moe = sum over each token's chosen experts of weight * SwiGLU_e(xn): the tokens that chose
// expert e are gathered and multiplied together, so an expert's weights are read once per call
// and experts nobody chose are not read at all.
void Deepseek2Model::experts(ThreadPool& pool, const LayerWeights& L, int64_t T,
                             Ds2Scratch& s) const {
  const int64_t E = config_.n_embd, n_ff = p_.n_ff_exp, k = p_.n_expert_used;
  std::fill(s.moe.begin(), s.moe.begin() + T * E, 0.0f);
  for (int64_t e = 0; e < p_.n_expert; ++e) {
    int64_t n = 0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        if (s.chosen[static_cast<size_t>(t * k + j)] == e) {
          s.ex_rows[static_cast<size_t>(n)] = static_cast<int32_t>(t);
          s.ex_rw[static_cast<size_t>(n)] = s.chosen_w[static_cast<size_t>(t * k + j)];
          std::memcpy(s.ex_x.data() + n * E, s.xn.data() + t * E, E * sizeof(float));
          ++n;
        }
      }
    }
    if (n == 0) continue;
    project(pool, s.act, s.ex_x.data(), n, E,
            {{L.w_gate_exps.type(), expert_slice(L.w_gate_exps, e), n_ff, s.ex_gate.data(), n_ff},
             {L.w_up_exps.type(), expert_slice(L.w_up_exps, e), n_ff, s.ex_up.data(), n_ff}});
    for (int64_t i = 0; i < n; ++i) {
      silu_mul(s.ex_gate.data() + i * n_ff, s.ex_up.data() + i * n_ff, n_ff);
    }
    project(pool, s.act, s.ex_gate.data(), n, n_ff,
            {{L.w_down_exps.type(), expert_slice(L.w_down_exps, e), E, s.ex_out.data(), E}});
    for (int64_t i = 0; i < n; ++i) {
      float* dst = s.moe.data() + s.ex_rows[static_cast<size_t>(i)] * E;
      const float* src = s.ex_out.data() + i * E;
      const float w = s.ex_rw[static_cast<size_t>(i)];
      for (int64_t d = 0; d < E; ++d) dst[d] += w * src[d];
    }
  }
}

Status Deepseek2Model::forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t T, KvCache& kv,
                                    ForwardScratch& scratch, float* logits, bool all_logits) const {
  Ds2Scratch& s = static_cast<Ds2Scratch&>(scratch);
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd, H = c.n_head, R = p_.kv_lora_rank, lat = p_.latent();
  const int64_t qk = p_.nope + p_.rope, half = p_.rope / 2;
  const int64_t n_ff_sh = p_.n_ff_exp * p_.n_expert_shared;
  const int64_t n_ff_max = std::max(c.n_ff, n_ff_sh);
  const int64_t n_past = kv.n_past();
  const int n_threads = pool.n_threads();
  if (kv.kv_dim() != lat) {
    return Status::invalid("deepseek2: the KV cache rows are " + std::to_string(kv.kv_dim()) +
                           " wide, this model needs " + std::to_string(lat));
  }

  if (s.capacity < T) {
    s.capacity = T;
    s.x.resize(T * E);
    s.xn.resize(T * E);
    s.qa.resize(T * std::max<int64_t>(1, p_.q_lora_rank));
    s.q.resize(T * H * qk);
    s.kva.resize(T * lat);
    s.q_lat.resize(T * H * lat);
    s.o_lat.resize(T * H * lat);
    s.attn.resize(T * H * p_.v_head);
    s.gate.resize(T * n_ff_max);
    s.up.resize(T * n_ff_max);
    s.router.resize(T * std::max<int64_t>(1, p_.n_expert));
    s.chosen.resize(T * std::max<int64_t>(1, p_.n_expert_used));
    s.chosen_w.resize(T * std::max<int64_t>(1, p_.n_expert_used));
    s.moe.resize(T * E);
    s.ex_x.resize(T * E);
    s.ex_gate.resize(T * std::max<int64_t>(1, p_.n_ff_exp));
    s.ex_up.resize(T * std::max<int64_t>(1, p_.n_ff_exp));
    s.ex_out.resize(T * E);
    s.ex_rows.resize(T);
    s.ex_rw.resize(T);
    s.rope_cos.resize(T * half);
    s.rope_sin.resize(T * half);
  }
  // Per-thread room for one head's activations of every token, in the widest dot type (f32).
  const size_t head_act = static_cast<size_t>(T * std::max(R, p_.nope)) * sizeof(float) + 64;
  if (s.head_act.size() < head_act * n_threads) s.head_act.resize(head_act * n_threads);
  if (s.head_row.size() < static_cast<size_t>(R * n_threads)) s.head_row.resize(R * n_threads);

  pool.parallel_for(T, 1, [&](int64_t b, int64_t e, int) {
    const int64_t row_bytes = tensor_row_bytes(token_embd_.type(), E);
    for (int64_t t = b; t < e; ++t) {
      dequantize_row_ref(token_embd_.type(), token_embd_.data() + tokens[t] * row_bytes,
                         s.x.data() + t * E, E);
    }
  });
  for (int64_t t = 0; t < T; ++t) {
    yarn_rope_cache(s.rope_cos.data() + t * half, s.rope_sin.data() + t * half, n_past + t);
  }

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = layers_[static_cast<size_t>(l)];
    for (int64_t t = 0; t < T; ++t) {
      rms_norm(s.x.data() + t * E, L.attn_norm.data(), s.xn.data() + t * E, E, c.rms_eps);
    }
    attention(pool, L, l, T, kv, s);
    for (int64_t t = 0; t < T; ++t) add_inplace(s.x.data() + t * E, s.xn.data() + t * E, E);

    for (int64_t t = 0; t < T; ++t) {
      rms_norm(s.x.data() + t * E, L.ffn_norm.data(), s.xn.data() + t * E, E, c.rms_eps);
    }
    if (!L.moe) {
      project(pool, s.act, s.xn.data(), T, E,
              {{L.w_gate.type(), L.w_gate.data(), c.n_ff, s.gate.data(), c.n_ff},
               {L.w_up.type(), L.w_up.data(), c.n_ff, s.up.data(), c.n_ff}});
      for (int64_t t = 0; t < T; ++t) {
        silu_mul(s.gate.data() + t * c.n_ff, s.up.data() + t * c.n_ff, c.n_ff);
      }
      project(pool, s.act, s.gate.data(), T, c.n_ff,
              {{L.w_down.type(), L.w_down.data(), E, s.xn.data(), E}});
      for (int64_t t = 0; t < T; ++t) add_inplace(s.x.data() + t * E, s.xn.data() + t * E, E);
      continue;
    }
    project(pool, s.act, s.xn.data(), T, E,
            {{L.w_router.type(), L.w_router.data(), p_.n_expert, s.router.data(), p_.n_expert}});
    route(L, T, s);
    experts(pool, L, T, s);
    if (n_ff_sh > 0) {
      project(pool, s.act, s.xn.data(), T, E,
              {{L.w_gate_sh.type(), L.w_gate_sh.data(), n_ff_sh, s.gate.data(), n_ff_sh},
               {L.w_up_sh.type(), L.w_up_sh.data(), n_ff_sh, s.up.data(), n_ff_sh}});
      for (int64_t t = 0; t < T; ++t) {
        silu_mul(s.gate.data() + t * n_ff_sh, s.up.data() + t * n_ff_sh, n_ff_sh);
      }
      project(pool, s.act, s.gate.data(), T, n_ff_sh,
              {{L.w_down_sh.type(), L.w_down_sh.data(), E, s.xn.data(), E}});
      for (int64_t t = 0; t < T; ++t) add_inplace(s.moe.data() + t * E, s.xn.data() + t * E, E);
    }
    for (int64_t t = 0; t < T; ++t) add_inplace(s.x.data() + t * E, s.moe.data() + t * E, E);
  }

  const int64_t first = all_logits ? 0 : T - 1;
  const int64_t n_out = T - first;
  for (int64_t t = first; t < T; ++t) {
    rms_norm(s.x.data() + t * E, output_norm_.data(), s.xn.data() + (t - first) * E, E, c.rms_eps);
  }
  project(pool, s.act, s.xn.data(), n_out, E,
          {{output_.type(), output_.data(), c.n_vocab, logits, c.n_vocab}});
  kv.set_n_past(n_past + T);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Model>> load_deepseek2(const GgufFile& file) {
  auto model = std::make_unique<Deepseek2Model>();
  Status st = model->bind(file);
  if (!st) return st;
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace r1
