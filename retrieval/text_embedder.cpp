#include "retrieval/text_embedder.h"

#include <filesystem>

#include "engine/embedder.h"
#include "engine/model_store.h"

namespace r1 {

namespace {

class NativeTextEmbedder final : public TextEmbedder {
 public:
  NativeTextEmbedder(std::unique_ptr<Embedder> e, std::string name)
      : embedder_(std::move(e)), name_(std::move(name)) {}
  int64_t dim() const override { return embedder_->dim(); }
  std::string model_id() const override { return name_ + "/" + std::to_string(dim()); }
  int64_t max_tokens() const override { return embedder_->max_tokens(); }
  int32_t count_pieces(std::string_view word) const override {
    return static_cast<int32_t>(embedder_->tokenizer().tokenize(word).size());
  }
  Result<std::vector<float>> embed(const std::vector<std::string>& texts) override {
    return embedder_->embed(texts);
  }

 private:
  std::unique_ptr<Embedder> embedder_;
  std::string name_;
};

}  // namespace

std::unique_ptr<TextEmbedder> make_native_text_embedder(std::unique_ptr<Embedder> embedder,
                                                        const std::string& model_name) {
  return std::make_unique<NativeTextEmbedder>(std::move(embedder), model_name);
}

Result<std::unique_ptr<TextEmbedder>> open_native_text_embedder(const std::string& name_or_path,
                                                                int n_threads) {
  Result<std::string> path = resolve_embedding_model_path(name_or_path);
  if (!path) return path.status();
  EmbedderOptions o;
  o.n_threads = n_threads;
  Result<std::unique_ptr<Embedder>> e = Embedder::open(*path, o);
  if (!e) return e.status();
  return make_native_text_embedder(std::move(*e), std::filesystem::path(*path).filename().string());
}

}  // namespace r1
