// TextEmbedder: what a document index needs from an embedding model: a dimension, a stable
// model id (recorded in the index so vectors from different models never mix), a piece counter
// for chunk sizing, and batched unit vectors. The native implementation wraps engine/Embedder
// (all-MiniLM-L6-v2); tests may supply their own. Implementations need not be thread-safe:
// DocumentIndex calls them one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

class Embedder;

class TextEmbedder {
 public:
  virtual ~TextEmbedder() = default;
  virtual int64_t dim() const = 0;
  virtual std::string model_id() const = 0;  // e.g. "all-MiniLM-L6-v2.F32.gguf/384"
  virtual int64_t max_tokens() const = 0;    // window incl. [CLS]/[SEP] (256 for MiniLM)
  virtual int32_t count_pieces(std::string_view word) const = 0;
  // (texts.size(), dim()) row-major unit vectors; kInternal on failure.
  virtual Result<std::vector<float>> embed(const std::vector<std::string>& texts) = 0;
};

// Wraps a native Embedder; `model_name` is what model_id() reports with the dimension.
std::unique_ptr<TextEmbedder> make_native_text_embedder(std::unique_ptr<Embedder> embedder,
                                                        const std::string& model_name);

// Opens the native embedding model: a path or known name (empty: all-minilm-l6-v2, from the
// model cache). Errors: those of resolve_embedding_model_path and Embedder::open.
Result<std::unique_ptr<TextEmbedder>> open_native_text_embedder(const std::string& name_or_path,
                                                                int n_threads = 0);

}  // namespace r1
