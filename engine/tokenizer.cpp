// Byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2"), matching llama.cpp's llama-vocab.cpp.
//
// encode(text) runs in four steps:
//   1. Special-token partition: vocab entries of type CONTROL, USER_DEFINED or UNKNOWN are cut
//      out of the raw bytes, longest text first, each one splitting every text fragment left
//      by the previous ones at all its non-overlapping leftmost occurrences. Without
//      parse_special only USER_DEFINED entries are cut out (as llama.cpp and HF tokenizers do).
//   2. UTF-8 clean-up of each remaining fragment: bytes that do not start a character are
//      replaced by U+FFFD, one per byte, as llama.cpp's unicode_cpts_from_utf8 does.
//   3. Pre-tokenization with the family's regex list (engine/pretokenizer.h).
//   4. BPE inside each piece: one symbol per byte (the GPT-2 byte-to-unicode mapping makes
//      each byte a one-character vocab entry), then repeatedly merge the adjacent pair with the
//      lowest merge rank, leftmost first on ties. A symbol whose text is not a vocab entry is
//      emitted byte by byte where those bytes are entries, else dropped (llama.cpp does this).
//
// Token types and special ids follow llama.cpp's loader, including its text-based fix-ups:
// end-of-turn, fill-in-the-middle and end-of-generation tokens found by their text are forced to
// CONTROL, and the end-of-generation set is built from their texts plus eos/eot/eom.
#include "engine/tokenizer.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <unordered_map>

#include "engine/gguf.h"
#include "engine/pretokenizer.h"

namespace r1 {

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Looks at the character starting at s[0] (n > 0 bytes available), by the well-formedness table
// of the Unicode standard (no overlongs, no surrogates, nothing above U+10FFFF).
// Returns L > 0: a well-formed character of L bytes; 0: s is a proper prefix of a well-formed
// character (more bytes needed); -L: ill-formed, L = the maximal subpart to replace by U+FFFD.
int utf8_scan(const uint8_t* s, size_t n) {
  const uint8_t b = s[0];
  if (b < 0x80) return 1;
  int need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int k = 1; k <= need; ++k) {
    if (static_cast<size_t>(k) >= n) return 0;
    const uint8_t c = s[k];
    const bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) return -k;
  }
  return need + 1;
}

bool is_well_formed_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const int r = utf8_scan(s + i, text.size() - i);
    if (r <= 0) return false;
    i += static_cast<size_t>(r);
  }
  return true;
}

// llama.cpp's lenient decoding (unicode_cpts_from_utf8): a lead byte with enough continuation
// bytes decodes (overlong forms included, re-encoded canonically), any other byte becomes
// U+FFFD. Surrogate code points pass through as their three bytes, as in llama.cpp; since PCRE2
// only takes well-formed UTF-8, the text the regexes see holds U+E000 (same length, and like a
// surrogate a category-C character) in their place. Code points above U+10FFFF, on which
// llama.cpp throws, become U+FFFD.
struct CleanText {
  std::string_view subject;  // well-formed UTF-8 for the pre-tokenizer
  std::string_view bytes;    // what BPE encodes; same length, differs only at surrogates
};

CleanText sanitize_utf8(std::string_view text, std::string* subject, std::string* bytes) {
  if (is_well_formed_utf8(text)) return {text, text};
  subject->clear();
  bytes->clear();
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = s[i];
    size_t len = 0;  // 0: not a lead byte
    uint32_t cp = b;
    if (b < 0x80) {
      len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (!ok) {
      subject->append(kReplacementChar);
      bytes->append(kReplacementChar);
      ++i;
      continue;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      subject->append("\xEE\x80\x80");  // U+E000
      bytes->push_back(static_cast<char>(0xED));
      bytes->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      bytes->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      const size_t before = subject->size();
      if (cp > 0x10FFFF) {
        subject->append(kReplacementChar);
      } else {
        append_utf8(cp, subject);
      }
      bytes->append(*subject, before, std::string::npos);
    }
    i += len;
  }
  return {*subject, *bytes};
}

// GPT-2's byte-to-unicode table: printable Latin-1 bytes map to themselves, the other 68
// bytes (controls, space, DEL, NBSP, soft hyphen) to U+0100, U+0101, ... in byte order.
struct ByteLevelTable {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 0x144> codepoint_to_byte;  // -1 where a code point is not a byte's image

  ByteLevelTable() {
    codepoint_to_byte.fill(-1);
    int next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const int cp = printable ? b : next++;
      append_utf8(static_cast<uint32_t>(cp), &byte_to_utf8[b]);
      codepoint_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTable& byte_level() {
  static const ByteLevelTable table;
  return table;
}

// Undoes the byte-level mapping of a vocab string. Characters outside the mapping (which a
// byte-level vocab does not contain) and ill-formed bytes are copied through unchanged.
std::string byte_level_decode(std::string_view text) {
  const ByteLevelTable& table = byte_level();
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    int r = utf8_scan(s + i, text.size() - i);
    if (r <= 0) {
      out.push_back(static_cast<char>(s[i]));
      ++i;
      continue;
    }
    uint32_t cp = s[i];
    if (r > 1) {
      cp = s[i] & (0xFF >> (r + 1));
      for (int k = 1; k < r; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < table.codepoint_to_byte.size() && table.codepoint_to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(table.codepoint_to_byte[cp]));
    } else {
      out.append(text.substr(i, static_cast<size_t>(r)));
    }
    i += static_cast<size_t>(r);
  }
  return out;
}

// Texts llama.cpp recognises when the GGUF does not name the token (llama-vocab.cpp, load()).
// DeepSeek's use full-width bars and U+2581 ("▁") and are spelled out in bytes.
#define R1_FW_BAR "\xEF\xBD\x9C"       // U+FF5C
#define R1_LOWER_BLOCK "\xE2\x96\x81"  // U+2581
constexpr const char* kDeepseekEos =
    "<" R1_FW_BAR "end" R1_LOWER_BLOCK "of" R1_LOWER_BLOCK "sentence" R1_FW_BAR ">";
constexpr const char* kDeepseekFimBegin = "<" R1_FW_BAR "fim" R1_LOWER_BLOCK "begin" R1_FW_BAR ">";
constexpr const char* kDeepseekFimHole = "<" R1_FW_BAR "fim" R1_LOWER_BLOCK "hole" R1_FW_BAR ">";
constexpr const char* kDeepseekFimEnd = "<" R1_FW_BAR "fim" R1_LOWER_BLOCK "end" R1_FW_BAR ">";
constexpr const char* kSpmPre = R1_LOWER_BLOCK "<PRE>";
constexpr const char* kSpmSuf = R1_LOWER_BLOCK "<SUF>";
constexpr const char* kSpmMid = R1_LOWER_BLOCK "<MID>";
#undef R1_FW_BAR
#undef R1_LOWER_BLOCK

constexpr std::initializer_list<const char*> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",     "<|end_of_text|>",
    "<EOT>",      "_<EOT>",     "[EOT]",   kDeepseekEos,    "<end_of_utterance>"};
constexpr std::initializer_list<const char*> kEomTexts = {"<|eom_id|>"};
constexpr std::initializer_list<const char*> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",    kDeepseekFimBegin,
    "<PRE>",          kSpmPre,        "<|code_prefix|>", "<|prefix|>"};
constexpr std::initializer_list<const char*> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",    kDeepseekFimHole,
    "<SUF>",          kSpmSuf,        "<|code_suffix|>", "<|suffix|>"};
constexpr std::initializer_list<const char*> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",    kDeepseekFimEnd,
    "<MID>",          kSpmMid,        "<|code_middle|>", "<|middle|>"};
constexpr std::initializer_list<const char*> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>",
                                                             "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::initializer_list<const char*> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>",
                                                             "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::initializer_list<const char*> kFimSepTexts = {"<|file_sep|>"};
constexpr std::initializer_list<const char*> kEogTexts = {"<|eot_id|>",
                                                          "<|im_end|>",
                                                          "<|end|>",
                                                          "<|return|>",
                                                          "<|call|>",
                                                          "<|flush|>",
                                                          "<|calls|>",
                                                          "<end_of_turn>",
                                                          "<|endoftext|>",
                                                          "</s>",
                                                          "<|eom_id|>",
                                                          "<EOT>",
                                                          "_<EOT>",
                                                          "[EOT]",
                                                          "[EOS]",
                                                          "<|end_of_text|>",
                                                          "<end_of_utterance>",
                                                          "<eos>",
                                                          "<turn|>",
                                                          "<|tool_response>",
                                                          kDeepseekEos,
                                                          "[e~["};

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> load(const GgufFile& file);

  std::vector<int32_t> encode(std::string_view text, bool add_bos,
                              bool parse_special) const override;
  std::string token_to_piece(int32_t id, bool render_special) const override;
  int32_t n_vocab() const override { return static_cast<int32_t>(texts_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  bool add_bos() const override { return add_bos_; }
  bool is_end_of_generation(int32_t id) const override {
    return in_range(id) && end_of_generation_[static_cast<size_t>(id)] != 0;
  }
  std::optional<int32_t> find_token(std::string_view text) const override {
    const int32_t id = lookup(text);
    if (id < 0) return std::nullopt;
    return id;
  }
  const std::string& token_text(int32_t id) const override {
    static const std::string empty;
    return in_range(id) ? texts_[static_cast<size_t>(id)] : empty;
  }
  TokenAttr token_attr(int32_t id) const override {
    return in_range(id) ? attrs_[static_cast<size_t>(id)] : TokenAttr::kUndefined;
  }
  const std::string& pre_type() const override { return pre_->name(); }

 private:
  struct Merge {
    int32_t rank;    // position in tokenizer.ggml.merges: lower merges first
    int32_t result;  // id of the merged text, -1 when it is not a vocab entry
  };
  struct Fragment {
    int32_t token;  // a special token, or -1 for raw text
    size_t offset;  // bytes into the text (raw fragments)
    size_t length;
  };
  struct Symbol {
    int32_t id;  // vocab id of the symbol's text, -1 when it is not an entry
    int32_t prev;
    int32_t next;
    uint32_t start;  // bytes into the piece
    uint32_t length;
  };
  struct Candidate {  // an adjacent pair that has a merge rule
    int32_t rank;
    int32_t left;
    int32_t right;
    uint32_t left_length;  // symbol lengths when queued; a mismatch marks a stale entry
    uint32_t right_length;
    int32_t result;
  };
  struct Scratch {
    std::string subject;
    std::string bytes;
    std::string encoded;
    std::vector<std::string_view> pieces;
    std::vector<Symbol> symbols;
    std::vector<Candidate> queue;
  };

  BpeTokenizer() = default;
  bool in_range(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < texts_.size(); }
  int32_t lookup(std::string_view text) const {
    auto it = text_to_id_.find(text);
    return it == text_to_id_.end() ? -1 : it->second;
  }
  const Merge* find_merge(int32_t left, int32_t right) const {
    if (left < 0 || right < 0) return nullptr;
    auto it = merges_.find(merge_key(left, right));
    return it == merges_.end() ? nullptr : &it->second;
  }
  static uint64_t merge_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  Status finish_load(const GgufFile& file);
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void encode_fragment(std::string_view raw, Scratch* scratch, std::vector<int32_t>* out) const;
  void encode_piece(std::string_view piece, Scratch* scratch, std::vector<int32_t>* out) const;
  void emit_bytes(std::string_view bytes, std::vector<int32_t>* out) const;

  std::vector<std::string> texts_;   // (n_vocab) vocab strings as stored
  std::vector<TokenAttr> attrs_;     // (n_vocab) after llama.cpp's text-based fix-ups
  std::vector<std::string> pieces_;  // (n_vocab) rendered bytes, special tokens as their text
  std::vector<uint8_t> end_of_generation_;  // (n_vocab) 1 for eos/eot/eom and friends
  std::unordered_map<std::string_view, int32_t> text_to_id_;  // views into texts_
  std::unordered_map<uint64_t, Merge> merges_;                // (left id, right id) -> merge
  std::array<int32_t, 256> byte_token_{};      // id of each byte's byte-level character
  std::array<int32_t, 256> raw_byte_token_{};  // id of the one-byte string, for fallback
  std::vector<int32_t> special_ids_;           // partition order: longest text first
  std::unique_ptr<PreTokenizer> pre_;
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  int32_t eot_ = -1;
  int32_t eom_ = -1;
  bool add_bos_ = false;
};

// Reads an optional token id. Absent or -1: -1. Out of the vocab: an error naming the key,
// unless `lenient` (then -1, as llama.cpp only warns).
Result<int32_t> read_token_id(const GgufFile& file, std::string_view key, int32_t n_vocab,
                              bool lenient = false) {
  if (file.find(key) == nullptr) return -1;
  auto value = file.get_int(key);
  if (!value.is_ok()) return value.status();
  const int64_t id = value.value();
  if (id == -1) return -1;
  if (id < 0 || id >= n_vocab) {
    if (lenient) return -1;
    return Status::invalid(file.path() + ": " + std::string(key) + " = " + std::to_string(id) +
                           " is outside the vocab (" + std::to_string(n_vocab) + " tokens)");
  }
  return static_cast<int32_t>(id);
}

Status required(const Status& status, const GgufFile& file, std::string_view key) {
  if (status.code() == StatusCode::kNotFound) {
    return Status::invalid(file.path() + ": " + std::string(key) + " is missing");
  }
  return status;
}

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::load(const GgufFile& file) {
  auto model = file.get_string("tokenizer.ggml.model");
  if (!model.is_ok()) return required(model.status(), file, "tokenizer.ggml.model");
  if (model.value() != "gpt2") {
    return Status::unsupported(file.path() + ": tokenizer.ggml.model '" +
                               std::string(model.value()) +
                               "' is not supported (only 'gpt2', byte-level BPE)");
  }
  std::string pre_name = "default";
  if (file.find("tokenizer.ggml.pre") != nullptr) {
    auto pre = file.get_string("tokenizer.ggml.pre");
    if (!pre.is_ok()) return pre.status();
    pre_name = std::string(pre.value());
  }
  auto pre = PreTokenizer::create(pre_name);
  if (!pre.is_ok()) {
    if (pre.status().code() != StatusCode::kUnsupported) return pre.status();
    return Status::unsupported(file.path() + ": " + pre.status().message());
  }

  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer());
  tok->pre_ = std::move(pre.value());
  R1_RETURN_IF_ERROR(tok->finish_load(file));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Status BpeTokenizer::finish_load(const GgufFile& file) {
  const std::string& path = file.path();

  // ---- vocab and token types
  auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (!tokens.is_ok()) return required(tokens.status(), file, "tokenizer.ggml.tokens");
  const size_t n = tokens.value().size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX)) {
    return Status::invalid(path + ": tokenizer.ggml.tokens has " + std::to_string(n) + " entries");
  }
  std::vector<int64_t> types;
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    auto t = file.get_int_array("tokenizer.ggml.token_type");
    if (!t.is_ok()) return t.status();
    types = std::move(t.value());
    if (types.size() != n) {
      return Status::invalid(path + ": tokenizer.ggml.token_type has " +
                             std::to_string(types.size()) + " entries for " + std::to_string(n) +
                             " tokens");
    }
  }
  texts_.resize(n);
  attrs_.assign(n, TokenAttr::kNormal);
  for (size_t i = 0; i < n; ++i) {
    std::string_view text = tokens.value()[i];
    // llama.cpp renames empty entries so that every entry stays matchable and unique.
    texts_[i] = text.empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(text);
    if (!types.empty()) {
      const int64_t t = types[i];
      attrs_[i] = t >= 0 && t <= static_cast<int64_t>(TokenAttr::kByte) ? static_cast<TokenAttr>(t)
                                                                        : TokenAttr::kUndefined;
    }
  }
  text_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = text_to_id_.emplace(texts_[i], static_cast<int32_t>(i));
    if (!inserted) {
      return Status::invalid(path + ": tokenizer.ggml.tokens: duplicate entry '" + texts_[i] +
                             "' at ids " + std::to_string(it->second) + " and " +
                             std::to_string(i));
    }
  }

  // ---- byte-level alphabet
  const ByteLevelTable& table = byte_level();
  for (int b = 0; b < 256; ++b) {
    byte_token_[b] = lookup(table.byte_to_utf8[b]);
    raw_byte_token_[b] = lookup(std::string(1, static_cast<char>(b)));
  }

  // ---- merges: "left right", split at the first space after the first byte
  auto merges = file.get_string_array("tokenizer.ggml.merges");
  if (!merges.is_ok()) return required(merges.status(), file, "tokenizer.ggml.merges");
  if (merges.value().size() > static_cast<size_t>(INT32_MAX)) {
    return Status::invalid(path + ": tokenizer.ggml.merges has too many entries");
  }
  merges_.reserve(merges.value().size());
  std::string joined;
  for (size_t i = 0; i < merges.value().size(); ++i) {
    std::string_view merge = merges.value()[i];
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
    if (space == std::string_view::npos) {
      return Status::invalid(path + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" +
                             std::string(merge) + "' is not two tokens separated by a space");
    }
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    const int32_t left_id = lookup(left);
    const int32_t right_id = lookup(right);
    if (left_id < 0 || right_id < 0) {
      return Status::invalid(path + ": tokenizer.ggml.merges[" + std::to_string(i) + "] '" +
                             std::string(merge) + "' refers to '" +
                             std::string(left_id < 0 ? left : right) +
                             "', which is not in tokenizer.ggml.tokens");
    }
    joined.assign(left);
    joined.append(right);
    // The first rule for a pair wins, as with llama.cpp's emplace.
    merges_.try_emplace(merge_key(left_id, right_id),
                        Merge{static_cast<int32_t>(i), lookup(joined)});
  }

  // ---- special ids and flags
  const auto n_vocab = static_cast<int32_t>(n);
  auto read = [&](std::string_view key, int32_t* id, bool lenient = false) -> Status {
    auto v = read_token_id(file, key, n_vocab, lenient);
    if (!v.is_ok()) return v.status();
    *id = v.value();
    return Status::ok();
  };
  int32_t pad = -1;
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.bos_token_id", &bos_));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.eos_token_id", &eos_));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.eot_token_id", &eot_));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.eom_token_id", &eom_));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.padding_token_id", &pad, /*lenient=*/true));
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_pre_token_id", &fim_pre, true));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_suf_token_id", &fim_suf, true));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_mid_token_id", &fim_mid, true));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_pad_token_id", &fim_pad, true));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_rep_token_id", &fim_rep, true));
  R1_RETURN_IF_ERROR(read("tokenizer.ggml.fim_sep_token_id", &fim_sep, true));
  if (fim_pre < 0) R1_RETURN_IF_ERROR(read("tokenizer.ggml.prefix_token_id", &fim_pre, true));
  if (fim_suf < 0) R1_RETURN_IF_ERROR(read("tokenizer.ggml.suffix_token_id", &fim_suf, true));
  if (fim_mid < 0) R1_RETURN_IF_ERROR(read("tokenizer.ggml.middle_token_id", &fim_mid, true));

  auto add_bos = file.get_bool_or("tokenizer.ggml.add_bos_token", pre_->default_add_bos());
  if (!add_bos.is_ok()) return add_bos.status();
  add_bos_ = add_bos.value() && bos_ >= 0;

  // ---- llama.cpp's text-based fix-ups: a token found by its text becomes CONTROL
  auto detect = [&](int32_t* id, std::initializer_list<const char*> candidates) {
    if (*id >= 0) return;
    for (const char* text : candidates) {
      const int32_t found = lookup(text);
      if (found >= 0) {
        *id = found;
        attrs_[static_cast<size_t>(found)] = TokenAttr::kControl;
        return;
      }
    }
  };
  detect(&eot_, kEotTexts);
  detect(&eom_, kEomTexts);
  detect(&fim_pre, kFimPreTexts);
  detect(&fim_suf, kFimSufTexts);
  detect(&fim_mid, kFimMidTexts);
  detect(&fim_pad, kFimPadTexts);
  detect(&fim_rep, kFimRepTexts);
  detect(&fim_sep, kFimSepTexts);

  end_of_generation_.assign(n, 0);
  for (const char* text : kEogTexts) {
    const int32_t id = lookup(text);
    if (id < 0) continue;
    end_of_generation_[static_cast<size_t>(id)] = 1;
    attrs_[static_cast<size_t>(id)] = TokenAttr::kControl;
  }
  for (int32_t id : {fim_pad, fim_rep, fim_sep, eos_, eot_, eom_}) {
    if (id >= 0) end_of_generation_[static_cast<size_t>(id)] = 1;
  }

  // ---- special tokens, longest first. std::sort over ids in ascending order with llama.cpp's
  // comparator, so that ties between equally long texts come out in the same order.
  for (size_t i = 0; i < n; ++i) {
    const TokenAttr a = attrs_[i];
    if (a == TokenAttr::kControl || a == TokenAttr::kUserDefined || a == TokenAttr::kUnknown) {
      special_ids_.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(special_ids_.begin(), special_ids_.end(), [this](int32_t a, int32_t b) {
    return texts_[static_cast<size_t>(a)].size() > texts_[static_cast<size_t>(b)].size();
  });

  // ---- rendered pieces
  pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (attrs_[i]) {
      case TokenAttr::kControl:
      case TokenAttr::kUnknown:
      case TokenAttr::kUserDefined:
        pieces_[i] = texts_[i];
        break;
      case TokenAttr::kNormal:
        pieces_[i] = byte_level_decode(texts_[i]);
        break;
      case TokenAttr::kByte: {
        const std::string& t = texts_[i];  // "<0xAB>"
        auto hex = [](char c) {
          return c >= '0' && c <= '9'   ? c - '0'
                 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : -1;
        };
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex(t[3]) >= 0 &&
            hex(t[4]) >= 0) {
          pieces_[i] = std::string(1, static_cast<char>(hex(t[3]) * 16 + hex(t[4])));
        }
        break;
      }
      case TokenAttr::kUnused:
      case TokenAttr::kUndefined:
        break;
    }
  }
  return Status::ok();
}

std::vector<BpeTokenizer::Fragment> BpeTokenizer::partition(std::string_view text,
                                                            bool parse_special) const {
  std::vector<Fragment> fragments{{-1, 0, text.size()}};
  std::vector<Fragment> next;
  for (int32_t id : special_ids_) {
    const TokenAttr attr = attrs_[static_cast<size_t>(id)];
    if (!parse_special && (attr == TokenAttr::kControl || attr == TokenAttr::kUnknown)) continue;
    const std::string& special = texts_[static_cast<size_t>(id)];
    // A text absent from the whole input is absent from every fragment: skip it cheaply, which
    // matters for vocabs with thousands of user-defined entries.
    if (text.find(special) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view window = text.substr(0, f.offset + f.length);
      size_t pos = f.offset;
      for (size_t match; (match = window.find(special, pos)) != std::string_view::npos;) {
        if (match > pos) next.push_back({-1, pos, match - pos});
        next.push_back({id, 0, 0});
        pos = match + special.size();
      }
      if (pos < f.offset + f.length) next.push_back({-1, pos, f.offset + f.length - pos});
    }
    fragments.swap(next);
  }
  return fragments;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos,
                                          bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && add_bos_) out.push_back(bos_);
  if (text.empty()) return out;
  Scratch scratch;
  for (const Fragment& f : partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      encode_fragment(text.substr(f.offset, f.length), &scratch, &out);
    }
  }
  return out;
}

void BpeTokenizer::encode_fragment(std::string_view raw, Scratch* scratch,
                                   std::vector<int32_t>* out) const {
  const CleanText text = sanitize_utf8(raw, &scratch->subject, &scratch->bytes);
  scratch->pieces.clear();
  pre_->split(text.subject, &scratch->pieces);
  for (std::string_view piece : scratch->pieces) {
    const auto offset = static_cast<size_t>(piece.data() - text.subject.data());
    encode_piece(text.bytes.substr(offset, piece.size()), scratch, out);
  }
}

// Bytes of a symbol that is not a vocab entry: each byte's byte-level character, looked up one
// raw byte at a time (llama.cpp's fallback; for a byte-level vocab this finds the ASCII ones).
void BpeTokenizer::emit_bytes(std::string_view bytes, std::vector<int32_t>* out) const {
  const ByteLevelTable& table = byte_level();
  for (char b : bytes) {
    for (char c : table.byte_to_utf8[static_cast<uint8_t>(b)]) {
      const int32_t id = raw_byte_token_[static_cast<uint8_t>(c)];
      if (id >= 0) out->push_back(id);
    }
  }
}

void BpeTokenizer::encode_piece(std::string_view piece, Scratch* scratch,
                                std::vector<int32_t>* out) const {
  const ByteLevelTable& table = byte_level();
  if (pre_->ignore_merges()) {
    scratch->encoded.clear();
    for (char b : piece) scratch->encoded += table.byte_to_utf8[static_cast<uint8_t>(b)];
    const int32_t id = lookup(scratch->encoded);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  if (piece.size() == 1) {
    const int32_t id = byte_token_[static_cast<uint8_t>(piece[0])];
    if (id >= 0) {
      out->push_back(id);
    } else {
      emit_bytes(piece, out);
    }
    return;
  }

  std::vector<Symbol>& symbols = scratch->symbols;
  std::vector<Candidate>& queue = scratch->queue;
  symbols.resize(piece.size());
  queue.clear();
  const auto n = static_cast<int32_t>(piece.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[static_cast<size_t>(i)] = {
        byte_token_[static_cast<uint8_t>(piece[static_cast<size_t>(i)])], i - 1,
        i + 1 < n ? i + 1 : -1, static_cast<uint32_t>(i), 1};
  }
  // Max-heap on priority: the lowest rank first, then the leftmost pair.
  auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  auto try_queue = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const Merge* merge = find_merge(l.id, r.id);
    if (merge == nullptr) return;
    queue.push_back({merge->rank, left, right, l.length, r.length, merge->result});
    std::push_heap(queue.begin(), queue.end(), lower_priority);
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_queue(i, i + 1);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), lower_priority);
    const Candidate c = queue.back();
    queue.pop_back();
    Symbol& left = symbols[static_cast<size_t>(c.left)];
    Symbol& right = symbols[static_cast<size_t>(c.right)];
    if (left.length != c.left_length || right.length != c.right_length || left.next != c.right) {
      continue;  // one side has merged since this pair was queued
    }
    left.id = c.result;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = c.left;
    try_queue(left.prev, c.left);
    try_queue(c.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    if (s.id >= 0) {
      out->push_back(s.id);
    } else {
      emit_bytes(piece.substr(s.start, s.length), out);
    }
  }
}

std::string BpeTokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (!in_range(id)) return {};
  const TokenAttr attr = attrs_[static_cast<size_t>(id)];
  if (!render_special && (attr == TokenAttr::kControl || attr == TokenAttr::kUnknown)) return {};
  return pieces_[static_cast<size_t>(id)];
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
  return BpeTokenizer::load(file);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string out;
  for (int32_t id : ids) out += token_to_piece(id, render_special);
  return out;
}

namespace {

// Moves the whole characters at the front of `pending` to the result. An ill-formed subpart
// becomes one U+FFFD; an incomplete character at the end waits for more bytes unless at_end.
std::string drain_utf8(std::string& pending, bool at_end) {
  std::string out;
  const auto* s = reinterpret_cast<const uint8_t*>(pending.data());
  size_t i = 0;
  while (i < pending.size()) {
    const int r = utf8_scan(s + i, pending.size() - i);
    if (r > 0) {
      out.append(pending, i, static_cast<size_t>(r));
      i += static_cast<size_t>(r);
    } else if (r == 0 && !at_end) {
      break;
    } else {
      out.append(kReplacementChar);
      i += r == 0 ? pending.size() - i : static_cast<size_t>(-r);
    }
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, render_special_);
  return drain_utf8(pending_, /*at_end=*/false);
}

std::string StreamDecoder::flush() {
  return drain_utf8(pending_, /*at_end=*/true);
}

}  // namespace r1
