// PreTokenizer: splits text into the pieces that byte-level BPE then merges within, using the
// regex list that llama.cpp applies for a tokenizer.ggml.pre value.
//
// The regexes run in sequence: each one splits every piece the previous one produced, and the
// text between two matches (a gap) is kept as a piece of its own, so the pieces always
// concatenate back to the input. Patterns are compiled once (PCRE2, UTF + UCP, JIT when
// available); split() is const and thread-safe.
//
// Where llama.cpp's behaviour differs from the textbook regex, the patterns here follow
// llama.cpp, the oracle: `\s` is the Unicode White_Space set (which includes U+0085), and a
// white-space character never matches a literal character class (llama.cpp maps such
// characters to U+000B before running std::wregex).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

class PreTokenizer {
 public:
  // Errors: kUnsupported naming `pre_type` when it is not one of the known names;
  // kInternal when a pattern fails to compile (a bug here, not bad input).
  static Result<std::unique_ptr<PreTokenizer>> create(std::string_view pre_type);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text` to `pieces` in order; they point into `text` and are never
  // empty. `text` must be well-formed UTF-8 (the Tokenizer sanitizes it first).
  void split(std::string_view text, std::vector<std::string_view>* pieces) const;

  const std::string& name() const { return name_; }
  // llama.cpp's per-family flags: whether a piece that is itself a vocab entry skips the
  // merges (Llama 3), and whether BOS is added when tokenizer.ggml.add_bos_token is absent.
  bool ignore_merges() const { return ignore_merges_; }
  bool default_add_bos() const { return default_add_bos_; }

 private:
  struct Pattern;
  PreTokenizer() = default;

  std::string name_;
  bool ignore_merges_ = false;
  bool default_add_bos_ = false;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace r1
