#include "engine/model.h"

#include <unistd.h>

namespace r1 {

Model::~Model() = default;

uint64_t Model::kv_cache_bytes(int64_t n_ctx) const {
  return static_cast<uint64_t>(config_.n_layer) * static_cast<uint64_t>(n_ctx) *
         static_cast<uint64_t>(config_.kv_dim()) * 2u * sizeof(uint16_t);
}

Status Model::check_context(int64_t n_ctx) const {
  if (n_ctx < 1) return Status::invalid("context length must be at least 1 token");
  const uint64_t need = kv_cache_bytes(n_ctx);
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) {
    const uint64_t ram = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
    const uint64_t weights = resident_weight_bytes();
    if (need + weights > ram) {
      return Status::invalid("a context of " + std::to_string(n_ctx) + " tokens needs " +
                             std::to_string(need >> 20) + " MiB of KV cache; with the " +
                             std::to_string(weights >> 20) + " MiB of weights kept in memory that exceeds this " +
                             "machine's " + std::to_string(ram >> 20) + " MiB of memory");
    }
  }
  return Status::ok();
}

std::unique_ptr<KvCache> Model::make_kv_cache(int64_t n_ctx) const {
  return std::make_unique<KvCache>(config_.n_layer, n_ctx, config_.kv_dim());
}

Status Model::check_forward(const int32_t* tokens, int64_t n, const KvCache& kv) const {
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
  return Status::ok();
}

Status Model::forward(ThreadPool& pool, const int32_t* tokens, int64_t n, KvCache& kv,
                      ForwardScratch& scratch, float* logits, bool all_logits) const {
  R1_RETURN_IF_ERROR(check_forward(tokens, n, kv));
  return forward_impl(pool, tokens, n, kv, scratch, logits, all_logits);
}

Status Model::check_batch(const BatchSeq* seqs, int64_t n_seqs) const {
  for (int64_t i = 0; i < n_seqs; ++i) {
    Status st = check_forward(seqs[i].tokens, seqs[i].n, *seqs[i].kv);
    if (st) continue;
    std::string msg = "batch sequence " + std::to_string(i) + ": " + st.message();
    return st.code() == StatusCode::kOutOfRange ? Status::out_of_range(std::move(msg))
                                                : Status::invalid(std::move(msg));
  }
  return Status::ok();
}

Status Model::forward_batch(ThreadPool& pool, BatchSeq* seqs, int64_t n_seqs) const {
  R1_RETURN_IF_ERROR(check_batch(seqs, n_seqs));
  for (int64_t i = 0; i < n_seqs; ++i) {
    const BatchSeq& s = seqs[i];
    R1_RETURN_IF_ERROR(forward_impl(pool, s.tokens, s.n, *s.kv, *s.scratch, s.logits, false));
  }
  return Status::ok();
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
      path + ": architecture '" + arch + "' is not supported (supported: llama, qwen2, deepseek2)");
  if (arch == "llama") {
    model = load_llama_family(f, arch);
  } else if (arch == "qwen2") {
    model = load_qwen2(f);
  } else if (arch == "deepseek2") {
    model = load_deepseek2(f);
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
