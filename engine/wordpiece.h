// WordPieceTokenizer: BERT's tokenizer (tokenizer.ggml.model = "bert"), as the HF `tokenizers`
// BertNormalizer + BertPreTokenizer + WordPiece + BERT post-processor do it, which is what
// sentence-transformers runs for all-MiniLM-L6-v2.
//
//   normalise   drop U+0000, U+FFFD and control/format/unassigned characters (\t \n \r kept),
//               white space -> ' ', spaces around CJK ideographs; when lower-casing: NFD and drop
//               non-spacing marks (accents), then lower-case (utf8proc, per character)
//   split       on white space (dropped) and around each punctuation character (kept)
//   pieces      per word, greedy longest match from the left, continuations prefixed "##"; a
//               word with no full match, or longer than 100 characters, is one [UNK]
//   frame       [CLS] pieces [SEP], the pieces truncated so the whole fits max_tokens
//
// Vocab entries are the WordPiece strings verbatim ("##ing"). Built once, immutable afterwards:
// encode() is thread-safe. Copies what it needs, so it does not keep the GgufFile alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace r1 {

class GgufFile;

struct WordPieceSpecials {
  int32_t cls = -1;  // [CLS], starts every sequence
  int32_t sep = -1;  // [SEP], ends it
  int32_t unk = -1;  // [UNK], a word the vocab cannot spell
  int32_t pad = -1;  // [PAD], -1 when absent (never emitted by encode)
};

class WordPieceTokenizer {
 public:
  // From tokenizer.* metadata: tokenizer.ggml.model must be "bert"; tokenizer.ggml.tokens the
  // vocab; special ids from tokenizer.ggml.{cls,seperator,unknown,padding}_token_id, or, when a
  // key is absent, by looking up "[CLS]", "[SEP]", "[UNK]", "[PAD]" in the vocab;
  // tokenizer.bert.lowercase (default true). Errors: kUnsupported for another tokenizer model,
  // kInvalidArgument naming the key for missing, empty, duplicate or out-of-range metadata.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_gguf(const GgufFile& file);
  // From a vocab in memory (tests); the same checks, errors name `source`.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_vocab(std::vector<std::string> tokens,
                                                                WordPieceSpecials specials,
                                                                bool lowercase,
                                                                const std::string& source);

  // Text -> [CLS] pieces [SEP], at most max_tokens ids in all (max_tokens >= 2; pieces past the
  // window are dropped, as sentence-transformers truncates). Ill-formed UTF-8 bytes are read as
  // U+FFFD, which normalisation drops.
  std::vector<int32_t> encode(std::string_view text, int64_t max_tokens) const;
  // The pieces alone, without [CLS]/[SEP] or truncation.
  std::vector<int32_t> tokenize(std::string_view text) const;
  // The normalised text (for tests and debugging).
  std::string normalize(std::string_view text) const;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  const WordPieceSpecials& specials() const { return specials_; }
  bool lowercase() const { return lowercase_; }
  const std::string& token_text(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }

  static constexpr int kMaxCharsPerWord = 100;  // longer words are [UNK] (HF default)

 private:
  WordPieceTokenizer() = default;
  void add_word(std::string_view word, int64_t n_chars, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;  // token text -> id
  WordPieceSpecials specials_;
  bool lowercase_ = true;
};

}  // namespace r1
