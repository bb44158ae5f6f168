// BertEncoder: a BERT encoder (GGUF general.architecture = "bert", llama.cpp's tensor names)
// run on the CPU kernels: token ids in, final hidden states out.
//
// load() reads the hyper-parameters, checks every tensor's presence, type and shape against
// them and binds the weight matrices in place (they stay memory-mapped in the GgufFile, which
// must outlive the encoder); embedding tables and matrices may be F32 or F16 (or any type the
// CPU kernels support), norms and biases are copied to f32. Matrices of a float type (F32,
// F16, BF16) are also packed at load into f32 GEMM panels (kernels/cpu/gemm_f32.h; one more
// f32 copy of them in memory), which the many-token products run on. Immutable after load():
// encode() is safe from several threads if each brings its own ThreadPool and BertScratch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/gguf.h"
#include "kernels/cpu/gemm_f32.h"
#include "kernels/cpu/matmul.h"

namespace r1 {

struct BertConfig {
  int64_t n_vocab = 0;        // tokens
  int64_t n_embd = 0;         // hidden size (384 for MiniLM)
  int64_t n_layer = 0;        // encoder blocks
  int64_t n_head = 0;         // attention heads
  int64_t head_dim = 0;       // n_embd / n_head
  int64_t n_ff = 0;           // feed-forward hidden size
  int64_t n_positions = 0;    // position embeddings (bert.context_length): tokens per sequence
  int64_t n_token_types = 0;  // segment embeddings
  float layer_norm_eps = 1e-12f;
  int64_t max_seq_length = 0;  // tokens a sentence-transformers model keeps (<= n_positions)
  bool normalize = true;       // sentence-transformers L2-normalises the pooled vector
};

// Buffers reused across encode() calls; grown on demand.
struct BertScratch {
  std::vector<float> x;      // (T, n_embd) residual stream
  std::vector<float> qkv;    // (T, 3 * n_embd): q | k | v per token
  std::vector<float> attn;   // (T, n_embd) attention output before the projection
  std::vector<float> proj;   // (T, n_embd) projection outputs
  std::vector<float> ff;     // (T, n_ff)
  std::vector<float> heads;  // (n_threads, n_max^2 + head_dim * n_max) per-thread scores and V^T
  ActivationBuffer act;
};

class BertEncoder {
 public:
  // Errors: kInvalidArgument naming the key or tensor for missing, out-of-range or inconsistent
  // metadata and shapes; kUnsupported for a tensor type the CPU kernels cannot use.
  static Result<std::unique_ptr<BertEncoder>> load(const GgufFile& file);

  const BertConfig& config() const { return config_; }

  // Runs n_seqs sequences packed back to back in `tokens` (seq_lens[i] tokens each, each at
  // positions 0..len-1, token type 0, attending only within itself: no padding anywhere) and
  // writes the last layer's hidden states to out (sum(seq_lens), n_embd). Fails, out untouched,
  // when a length is 0 or above n_positions or an id is out of range.
  Status encode(ThreadPool& pool, const int32_t* tokens, const int64_t* seq_lens, int64_t n_seqs,
                BertScratch& scratch, float* out) const;

 private:
  struct Matrix {
    TensorType type = TensorType::kF32;
    const void* data = nullptr;  // (rows, cols) rows contiguous, memory-mapped
    int64_t rows = 0;
    int64_t cols = 0;
  };
  struct Layer {
    Matrix wq, wk, wv, wo;                    // (n_embd, n_embd) each
    Matrix w_up, w_down;                      // (n_ff, n_embd), (n_embd, n_ff)
    std::vector<float> bqkv;                  // (3 * n_embd): bq | bk | bv
    std::vector<float> bo, b_up, b_down;      // (n_embd), (n_ff), (n_embd)
    std::vector<float> ln_attn_w, ln_attn_b;  // (n_embd) after attention
    std::vector<float> ln_out_w, ln_out_b;    // (n_embd) after the feed-forward
    // The same matrices packed for gemm_f32 (empty when their type is not packable):
    PackedWeightsF32 qkv_packed;   // (3 * n_embd, n_embd): wq | wk | wv stacked
    PackedWeightsF32 o_packed;     // (n_embd, n_embd)
    PackedWeightsF32 up_packed;    // (n_ff, n_embd)
    PackedWeightsF32 down_packed;  // (n_embd, n_ff)
  };

  BertEncoder() = default;
  void attention(ThreadPool& pool, const int64_t* seq_lens, int64_t n_seqs, BertScratch& s) const;

  BertConfig config_;
  Matrix token_embd_;                         // (n_vocab, n_embd)
  Matrix position_embd_;                      // (n_positions, n_embd)
  Matrix token_types_;                        // (n_token_types, n_embd)
  std::vector<float> embd_ln_w_, embd_ln_b_;  // (n_embd)
  std::vector<Layer> layers_;
};

}  // namespace r1
