// KvCache: the keys and values of one sequence, for every layer, in f16.
//
// Key and value rows may differ in width (v_dim may even be 0: multi-head latent attention
// caches one compressed row per token, kept in the key rows).
//
// Sized once from the context length the caller asks for (not the model's training maximum),
// so memory is n_layer * n_ctx * kv_dim * 2 (K and V) * 2 bytes. Cells [0, n_past) hold valid
// entries; the model appends at n_past and the caller may truncate to reuse a shared prefix.
// Not thread-safe: one sequence, one writer.
#pragma once

#include <cstdint>
#include <vector>

namespace r1 {

class KvCache {
 public:
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim)
      : KvCache(n_layer, n_ctx, kv_dim, kv_dim) {}
  KvCache(int64_t n_layer, int64_t n_ctx, int64_t k_dim, int64_t v_dim)
      : n_layer_(n_layer),
        n_ctx_(n_ctx),
        kv_dim_(k_dim),
        v_dim_(v_dim),
        k_(static_cast<size_t>(n_layer * n_ctx * k_dim)),
        v_(static_cast<size_t>(n_layer * n_ctx * v_dim)) {}

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t kv_dim() const { return kv_dim_; }  // width of a key row
  int64_t v_dim() const { return v_dim_; }    // width of a value row
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }  // truncate (or commit after a forward pass)
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }

  // (n_ctx, kv_dim) f16 rows of one layer.
  uint16_t* k(int64_t layer) { return k_.data() + layer * n_ctx_ * kv_dim_; }
  uint16_t* v(int64_t layer) { return v_.data() + layer * n_ctx_ * v_dim_; }
  const uint16_t* k(int64_t layer) const { return k_.data() + layer * n_ctx_ * kv_dim_; }
  const uint16_t* v(int64_t layer) const { return v_.data() + layer * n_ctx_ * v_dim_; }

 private:
  int64_t n_layer_;
  int64_t n_ctx_;   // tokens
  int64_t kv_dim_;  // key row: n_head_kv * head_dim
  int64_t v_dim_;   // value row
  int64_t n_past_ = 0;
  std::vector<uint16_t> k_;  // (n_layer, n_ctx, kv_dim) f16
  std::vector<uint16_t> v_;  // (n_layer, n_ctx, v_dim) f16
};

}  // namespace r1
