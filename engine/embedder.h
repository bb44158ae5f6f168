// Embedder: sentence embeddings with a BERT GGUF (all-MiniLM-L6-v2), computed the way
// sentence-transformers computes them: WordPiece ids truncated to the model's max_seq_length
// (256 for MiniLM), the encoder's last hidden states mean-pooled over the sequence's tokens
// ([CLS] and [SEP] included, as the attention mask includes them), then L2-normalised.
//
// Texts of one embed() call are packed back to back with no padding: each attends only to its
// own tokens, so a text's vector does not depend on what it was batched with. Owns its
// GgufFile (memory-mapped weights), tokenizer, encoder, thread pool and scratch; embed() is not
// thread-safe (one call at a time per Embedder); the accessors are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/gguf.h"
#include "engine/models/bert.h"
#include "engine/wordpiece.h"

namespace r1 {

struct EmbedderOptions {
  int n_threads = 0;                // 0: every core
  int64_t max_batch_tokens = 8192;  // tokens per encoder pass (bounds scratch memory)
};

class Embedder {
 public:
  // Opens a `bert` GGUF. Errors: those of GgufFile::open, WordPieceTokenizer::from_gguf and
  // BertEncoder::load (missing or inconsistent metadata name the key or tensor), and
  // kInvalidArgument when the tokenizer's vocab size differs from token_embd's rows.
  static Result<std::unique_ptr<Embedder>> open(const std::string& path,
                                                EmbedderOptions options = {});
  ~Embedder();

  int64_t dim() const { return encoder_->config().n_embd; }                 // 384 for MiniLM
  int64_t max_tokens() const { return encoder_->config().max_seq_length; }  // incl. [CLS] [SEP]
  const WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  const BertEncoder& encoder() const { return *encoder_; }
  int n_threads() const { return pool_->n_threads(); }

  // (texts.size(), dim()) row-major: one unit vector per text (an empty text embeds
  // [CLS] [SEP]). Fails only on an internal encoder error; nothing is returned then.
  Result<std::vector<float>> embed(const std::vector<std::string>& texts);
  // The same from token ids ([CLS] ... [SEP], at most max_tokens() each, as encode() gives).
  Result<std::vector<float>> embed_ids(const std::vector<std::vector<int32_t>>& ids);

  // The ids embed() feeds the encoder for one text.
  std::vector<int32_t> encode(const std::string& text) const {
    return tokenizer_->encode(text, max_tokens());
  }

 private:
  Embedder() = default;

  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::unique_ptr<BertEncoder> encoder_;
  std::unique_ptr<ThreadPool> pool_;
  EmbedderOptions options_;
  BertScratch scratch_;
  std::vector<float> hidden_;  // (batch tokens, dim) last hidden states
};

}  // namespace r1
