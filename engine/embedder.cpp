#include "engine/embedder.h"

#include <algorithm>
#include <cmath>

namespace r1 {

Embedder::~Embedder() = default;

Result<std::unique_ptr<Embedder>> Embedder::open(const std::string& path, EmbedderOptions options) {
  std::unique_ptr<Embedder> e(new Embedder());
  Result<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
  if (!file) return file.status();
  e->gguf_ = std::move(file.value());
  Result<std::unique_ptr<BertEncoder>> enc = BertEncoder::load(*e->gguf_);
  if (!enc) return enc.status();
  e->encoder_ = std::move(enc.value());
  Result<std::unique_ptr<WordPieceTokenizer>> tok = WordPieceTokenizer::from_gguf(*e->gguf_);
  if (!tok) return tok.status();
  e->tokenizer_ = std::move(tok.value());
  if (e->tokenizer_->n_vocab() != e->encoder_->config().n_vocab) {
    return Status::invalid(path + ": tokenizer.ggml.tokens has " +
                           std::to_string(e->tokenizer_->n_vocab()) +
                           " tokens but token_embd.weight has " +
                           std::to_string(e->encoder_->config().n_vocab) + " rows");
  }
  e->options_ = options;
  e->options_.max_batch_tokens = std::max(options.max_batch_tokens, e->max_tokens());
  e->pool_ = std::make_unique<ThreadPool>(options.n_threads);
  return e;
}

Result<std::vector<float>> Embedder::embed(const std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (const std::string& t : texts) ids.push_back(encode(t));
  return embed_ids(ids);
}

Result<std::vector<float>> Embedder::embed_ids(const std::vector<std::vector<int32_t>>& ids) {
  const int64_t dim = this->dim();
  std::vector<float> out(ids.size() * static_cast<size_t>(dim));
  size_t next = 0;
  std::vector<int32_t> tokens;
  std::vector<int64_t> lens;
  while (next < ids.size()) {
    // Pack whole texts up to the token budget.
    tokens.clear();
    lens.clear();
    const size_t first = next;
    while (next < ids.size()) {
      const auto& seq = ids[next];
      if (!lens.empty() &&
          static_cast<int64_t>(tokens.size() + seq.size()) > options_.max_batch_tokens) {
        break;
      }
      if (seq.empty() || static_cast<int64_t>(seq.size()) > max_tokens()) {
        return Status::invalid("embed: text " + std::to_string(next) + " has " +
                               std::to_string(seq.size()) + " tokens (1.." +
                               std::to_string(max_tokens()) + " allowed)");
      }
      tokens.insert(tokens.end(), seq.begin(), seq.end());
      lens.push_back(static_cast<int64_t>(seq.size()));
      ++next;
    }
    if (hidden_.size() < tokens.size() * static_cast<size_t>(dim)) {
      hidden_.resize(tokens.size() * static_cast<size_t>(dim));
    }
    Status st = encoder_->encode(*pool_, tokens.data(), lens.data(),
                                 static_cast<int64_t>(lens.size()), scratch_, hidden_.data());
    if (!st) return st;
    // Mean over each text's tokens, then (sentence-transformers' Normalize) divide by the L2
    // norm, clamped below at 1e-12 as torch.nn.functional.normalize does.
    const float* h = hidden_.data();
    for (size_t i = 0; i < lens.size(); ++i) {
      std::vector<double> acc(static_cast<size_t>(dim), 0.0);
      for (int64_t t = 0; t < lens[i]; ++t, h += dim) {
        for (int64_t d = 0; d < dim; ++d) acc[static_cast<size_t>(d)] += h[d];
      }
      float* dst = out.data() + (first + i) * static_cast<size_t>(dim);
      double norm2 = 0.0;
      for (int64_t d = 0; d < dim; ++d) {
        const double m = acc[static_cast<size_t>(d)] / static_cast<double>(lens[i]);
        dst[d] = static_cast<float>(m);
        norm2 += m * m;
      }
      if (encoder_->config().normalize) {
        const double inv = 1.0 / std::max(std::sqrt(norm2), 1e-12);
        for (int64_t d = 0; d < dim; ++d) dst[d] = static_cast<float>(dst[d] * inv);
      }
    }
  }
  return out;
}

}  // namespace r1
