// Tokenizer: byte-level BPE as GGUF models describe it (tokenizer.ggml.model = "gpt2").
//
// Built once from a GgufFile's tokenizer.* metadata (tokens, merges, token types, pre-tokenizer
// name, special token ids) and immutable afterwards: encode/decode are thread-safe. The vocab
// strings are copied, so the Tokenizer does not keep the GgufFile alive.
//
// Pre-tokenizers (tokenizer.ggml.pre): gpt-2, smollm, llama-bpe (llama3), qwen2,
// deepseek-r1-qwen, deepseek-llm, deepseek-coder, deepseek-v3, starcoder. Special and control
// tokens are matched in the text before BPE when parse_special is set.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

class GgufFile;

enum class TokenAttr : int32_t {  // tokenizer.ggml.token_type values
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Errors: kUnsupported for a tokenizer model or pre-tokenizer this engine does not know,
  // kInvalidArgument for missing or inconsistent metadata (names the key).
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  virtual ~Tokenizer() = default;

  // Text -> ids. add_bos prepends BOS when the model asks for it (tokenizer.ggml.add_bos_token)
  // and has one; parse_special recognises special/control token text (e.g. "<|im_start|>").
  // User-defined vocab entries are matched either way, as llama.cpp does. Ill-formed UTF-8 is
  // encoded as llama.cpp encodes it: each byte that does not start a character becomes U+FFFD.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos,
                                      bool parse_special) const = 0;

  // The raw bytes of one token (byte-level decoding undone). Special tokens render as their
  // text when render_special, else as "". Out-of-range ids render as "".
  virtual std::string token_to_piece(int32_t id, bool render_special = true) const = 0;
  std::string decode(const std::vector<int32_t>& ids, bool render_special = true) const;

  virtual int32_t n_vocab() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the model has none
  virtual int32_t eos_id() const = 0;
  virtual bool add_bos() const = 0;  // what tokenizer.ggml.add_bos_token says
  virtual bool is_end_of_generation(int32_t id) const = 0;  // eos, eot, <|im_end|>, ...
  virtual std::optional<int32_t> find_token(std::string_view text) const = 0;  // exact vocab entry
  virtual const std::string& token_text(int32_t id) const = 0;  // vocab string as stored
  virtual TokenAttr token_attr(int32_t id) const = 0;
  virtual const std::string& pre_type() const = 0;
};

// Turns a stream of token ids into text pieces that are always whole UTF-8 characters: bytes of
// a character split across tokens are held back until it is complete. Not thread-safe (one per
// stream).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = true)
      : tok_(tok), render_special_(render_special) {}
  std::string push(int32_t id);  // the text that became complete with this token
  std::string flush();           // whatever is held back (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tok_;
  bool render_special_;
  std::string pending_;
};

}  // namespace r1
