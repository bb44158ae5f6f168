// A deterministic stand-in for the embedding model in retrieval tests: bag of lower-cased
// words hashed into `dim` signed buckets, L2-normalised, so texts sharing words are close.
// One piece per 4 bytes of a word. Fast and model-free; tests with the real model live beside.
#pragma once

#include <cctype>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "retrieval/text_embedder.h"

namespace r1::test {

class HashEmbedder final : public TextEmbedder {
 public:
  explicit HashEmbedder(int64_t dim = 64, std::string id = "hash")
      : dim_(dim), id_(std::move(id)) {}
  int64_t dim() const override { return dim_; }
  std::string model_id() const override { return id_ + "/" + std::to_string(dim_); }
  int64_t max_tokens() const override { return 256; }
  int32_t count_pieces(std::string_view w) const override {
    return static_cast<int32_t>((w.size() + 3) / 4);
  }
  Result<std::vector<float>> embed(const std::vector<std::string>& texts) override {
    ++calls;
    texts_embedded += static_cast<int64_t>(texts.size());
    std::vector<float> out(texts.size() * static_cast<size_t>(dim_), 0.0f);
    for (size_t t = 0; t < texts.size(); ++t) {
      float* v = out.data() + t * static_cast<size_t>(dim_);
      std::string word;
      auto flush = [&] {
        if (word.empty()) return;
        const size_t h = std::hash<std::string>{}(word);
        v[h % static_cast<size_t>(dim_)] += (h >> 32) & 1 ? 1.0f : -1.0f;
        word.clear();
      };
      for (char c : texts[t]) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
          word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
          flush();
        }
      }
      flush();
      double n = 0;
      for (int64_t d = 0; d < dim_; ++d) n += static_cast<double>(v[d]) * v[d];
      if (n == 0) {
        v[0] = 1.0f;
        continue;
      }
      for (int64_t d = 0; d < dim_; ++d) v[d] = static_cast<float>(v[d] / std::sqrt(n));
    }
    return out;
  }
  int64_t calls = 0;
  int64_t texts_embedded = 0;

 private:
  int64_t dim_;
  std::string id_;
};

}  // namespace r1::test
