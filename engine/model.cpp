#include "engine/model.h"

namespace r1 {

Model::~Model() = default;

std::unique_ptr<KvCache> Model::make_kv_cache(int64_t n_ctx) const {
  return std::make_unique<KvCache>(config_.n_layer, n_ctx, config_.kv_dim());
}

Status Model::forward(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                      ForwardScratch& scratch, float* logits, bool all_logits) const {
  if (n <= 0) return Status::invalid("forward: no tokens");
  if (kv.n_past() + n > kv.n_ctx()) {
    return Status::out_of_range("context full: " + std::to_string(kv.n_past()) + " + " +
                                std::to_string(n) + " tokens exceed the context of " +
                                std::to_string(kv.n_ctx()));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.n_vocab) {
      return Status::invalid("token id " + std::to_string(tokens[i]) + " at position " +
                             std::to_string(i) + " is outside the vocabulary of " +
                             std::to_string(config_.n_vocab));
    }
  }
  return forward_impl(pool, tokens, n, kv, scratch, logits, all_logits);
}

Result<std::unique_ptr<Model>> load_model(const std::string& path) {
  Result<std::unique_ptr<GgufFile>> file = GgufFile::open(path);
  if (!file) return file.status();
  const GgufFile& f = **file;
  Result<std::string_view> arch_r = f.get_string("general.architecture");
  if (!arch_r) return Status::invalid(path + ": " + arch_r.status().message());
  const std::string arch(*arch_r);
  Status caps = gguf_check_model_caps(f, arch);
  if (!caps) return caps;

  Result<std::unique_ptr<Model>> model = Status::unsupported(
      path + ": architecture '" + arch + "' is not supported (supported: llama, qwen2)");
  if (arch == "llama") {
    model = load_llama_family(f, arch);
  } else if (arch == "qwen2") {
    model = load_qwen2(f);
  }
  if (!model) return model.status();

  Result<std::unique_ptr<Tokenizer>> tok = Tokenizer::from_gguf(f);
  if (!tok) return tok.status();
  Model& m = **model;
  if (m.config_.n_vocab < (*tok)->n_vocab()) {
    return Status::invalid(path + ": tokenizer has " + std::to_string((*tok)->n_vocab()) +
                           " tokens but the embedding only " + std::to_string(m.config_.n_vocab));
  }
  m.tokenizer_ = std::move(tok.value());
  m.gguf_ = std::move(file.value());
  return model;
}

}  // namespace r1
