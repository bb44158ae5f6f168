// Model: a transformer loaded from a GGUF file, computing next-token logits on the CPU.
//
// load_model() opens and validates the file, reads the architecture's hyper-parameters, binds
// every weight tensor by name (weights stay memory-mapped, never copied) and builds the
// tokenizer. One file per architecture in engine/models/ registers a loader here. A Model is
// immutable after loading; forward() mutates only the KvCache and scratch it is given, so one
// Model can serve several sequences from one thread at a time per ForwardScratch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/gguf.h"
#include "engine/kv_cache.h"
#include "engine/tokenizer.h"

namespace r1 {

struct ModelConfig {
  std::string arch;     // GGUF general.architecture
  std::string name;     // general.name
  int64_t n_vocab = 0;  // tokens
  int64_t n_embd = 0;   // hidden size
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;     // per head, for q and k
  int64_t n_ff = 0;         // feed-forward hidden size
  int64_t n_ctx_train = 0;  // tokens the model was trained for
  int64_t rope_dims = 0;    // leading dims of each head that rotate
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  bool rope_neox = false;  // rotate (i, i+d/2) pairs instead of (2i, 2i+1)
  float rms_eps = 1e-5f;
  std::string file_type;  // dominant weight type, e.g. "q4_1"
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Per-sequence scratch buffers, reused across calls so decoding allocates nothing per token.
// Each architecture derives its own.
struct ForwardScratch {
  virtual ~ForwardScratch() = default;
};

// One sequence of a batched forward pass (Model::forward_batch): tokens[0..n) run at positions
// kv->n_past() .. n_past+n-1 with that sequence's own cache and scratch; logits (n_vocab f32)
// receives the logits of its last token.
struct BatchSeq {
  const int32_t* tokens;
  int64_t n;  // tokens
  KvCache* kv;
  ForwardScratch* scratch;
  float* logits;  // (n_vocab) f32
};

class Model {
 public:
  virtual ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& gguf() const { return *gguf_; }
  // Bytes of weights one decode step reads (all tensors but the embedding table, which is
  // gathered by row; plus the output matrix, which may be that same table).
  uint64_t bytes_per_token() const { return bytes_per_token_; }

  // Bytes a KvCache of n_ctx tokens takes (f16 keys and values, every layer).
  virtual uint64_t kv_cache_bytes(int64_t n_ctx) const;
  // Bytes of weights that must stay in memory (check_context counts them); the whole file
  // unless an architecture can leave some on disk pages until used.
  virtual uint64_t resident_weight_bytes() const { return gguf_ ? gguf_->file_size() : 0; }
  // Checks that a context of n_ctx tokens is sane for this model and fits in this machine's
  // memory next to the weights: kInvalidArgument naming the numbers otherwise. Call it before
  // make_kv_cache() with a user-supplied size, which would otherwise abort on a failed
  // allocation.
  Status check_context(int64_t n_ctx) const;
  virtual std::unique_ptr<KvCache> make_kv_cache(int64_t n_ctx) const;
  virtual std::unique_ptr<ForwardScratch> make_scratch() const = 0;

  // Runs tokens[0..n) at positions kv.n_past() .. n_past+n-1, appends their keys and values to
  // kv and advances n_past. Writes logits (n_vocab f32) of the last token into `logits`, or of
  // every token ((n, n_vocab)) when all_logits. Fails (kv unchanged) when the tokens do not fit
  // in the cache or an id is out of range.
  Status forward(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                 ForwardScratch& scratch, float* logits, bool all_logits = false) const;

  // The checks forward() makes before touching anything: n >= 1, room in kv for n more tokens,
  // every id in the vocabulary. kInvalidArgument / kOutOfRange naming the value otherwise.
  Status check_forward(const int32_t* tokens, int64_t n, const KvCache& kv) const;

  // Runs several sequences in one pass, each as forward() would (logits of its last token
  // only). Every sequence is checked first; if any fails the checks, the error names its index
  // and no cache is changed. The sequences must use distinct caches and scratches; the pass may
  // use seqs[0].scratch for buffers of all rows. Default implementation: forward() per
  // sequence; architectures override it so each weight matrix is read once for all rows.
  virtual Status forward_batch(ThreadPool& pool, BatchSeq* seqs, int64_t n_seqs) const;

 protected:
  Model() = default;
  virtual Status forward_impl(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                              ForwardScratch& scratch, float* logits, bool all_logits) const = 0;
  // check_forward() of every sequence; the error names the failing sequence's index.
  Status check_batch(const BatchSeq* seqs, int64_t n_seqs) const;

  ModelConfig config_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<Tokenizer> tokenizer_;
  uint64_t bytes_per_token_ = 0;

  friend Result<std::unique_ptr<Model>> load_model(const std::string& path);
};

// Opens `path` and builds the model for its general.architecture. Errors name the file and the
// key or tensor at fault: kInvalidArgument for malformed or inconsistent files, kUnsupported
// for an architecture or tensor type this engine does not run.
Result<std::unique_ptr<Model>> load_model(const std::string& path);

// Architecture loaders (engine/models/*.cpp). Each reads its hyper-parameters and tensors from
// an open file; the caller fills gguf_ and tokenizer_ afterwards.
Result<std::unique_ptr<Model>> load_llama_family(const GgufFile& file, const std::string& arch);
Result<std::unique_ptr<Model>> load_qwen2(const GgufFile& file);
Result<std::unique_ptr<Model>> load_deepseek2(const GgufFile& file);

}  // namespace r1
