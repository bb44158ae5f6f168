#include "engine/wordpiece.h"

#include <utf8proc.h>

#include <algorithm>

#include "engine/gguf.h"

namespace r1 {

namespace {

// Rust's char::is_whitespace (the Unicode White_Space property), which `tokenizers` uses.
bool is_whitespace(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Control, format, surrogate, private-use and unassigned characters, except \t \n \r.
bool is_control(int32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

// ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~) or Unicode P*.
bool is_punctuation(int32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// CJK Unified Ideographs and their extensions and compatibility blocks (BERT's definition).
bool is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_utf8(std::string& out, int32_t c) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(c, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// The normalised code points of `text` (see the header).
std::vector<int32_t> normalize_codepoints(std::string_view text, bool lowercase) {
  std::vector<int32_t> out;
  out.reserve(text.size() + 8);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  utf8proc_int32_t decomposed[32];
  while (left > 0) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // ill-formed: one byte as U+FFFD, which is dropped below
      c = 0xFFFD;
      n = 1;
    }
    p += n;
    left -= n;
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) c = ' ';
    const bool cjk = is_cjk(c);
    if (cjk) out.push_back(' ');
    if (!lowercase) {
      out.push_back(c);
    } else {
      int boundclass = 0;
      utf8proc_ssize_t nd =
          utf8proc_decompose_char(c, decomposed, 32, UTF8PROC_DECOMPOSE, &boundclass);
      if (nd <= 0 || nd > 32) {
        decomposed[0] = c;
        nd = 1;
      }
      for (utf8proc_ssize_t i = 0; i < nd; ++i) {
        if (utf8proc_category(decomposed[i]) == UTF8PROC_CATEGORY_MN) continue;
        out.push_back(utf8proc_tolower(decomposed[i]));
      }
    }
    if (cjk) out.push_back(' ');
  }
  return out;
}

Result<int32_t> special_id(const GgufFile& file, const std::vector<std::string>& tokens,
                           const std::string& key, const std::string& text, bool required) {
  const std::string full = "tokenizer.ggml." + key;
  if (file.find(full) != nullptr) {
    Result<uint64_t> v = file.get_uint(full);
    if (!v) return Status::invalid(file.path() + ": " + v.status().message());
    if (*v >= tokens.size()) {
      return Status::invalid(file.path() + ": " + full + " = " + std::to_string(*v) +
                             " is out of range (vocab has " + std::to_string(tokens.size()) +
                             " tokens)");
    }
    return static_cast<int32_t>(*v);
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == text) return static_cast<int32_t>(i);
  }
  if (!required) return -1;
  return Status::invalid(file.path() + ": " + full + " is missing and the vocab has no " + text);
}

}  // namespace

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_gguf(const GgufFile& file) {
  Result<std::string_view> model = file.get_string("tokenizer.ggml.model");
  if (!model) {
    return Status::invalid(file.path() + ": tokenizer.ggml.model: " + model.status().message());
  }
  if (*model != "bert") {
    return Status::unsupported(file.path() + ": tokenizer.ggml.model is \"" + std::string(*model) +
                               "\", a WordPiece tokenizer needs \"bert\"");
  }
  Result<std::vector<std::string_view>> views = file.get_string_array("tokenizer.ggml.tokens");
  if (!views) {
    return Status::invalid(file.path() + ": tokenizer.ggml.tokens: " + views.status().message());
  }
  std::vector<std::string> tokens(views->begin(), views->end());
  WordPieceSpecials sp;
  struct Want {
    int32_t* id;
    const char* key;
    const char* text;
    bool required;
  };
  for (const Want& w : {Want{&sp.cls, "cls_token_id", "[CLS]", true},
                        Want{&sp.sep, "seperator_token_id", "[SEP]", true},
                        Want{&sp.unk, "unknown_token_id", "[UNK]", true},
                        Want{&sp.pad, "padding_token_id", "[PAD]", false}}) {
    if (tokens.empty()) break;  // from_vocab reports it
    Result<int32_t> id = special_id(file, tokens, w.key, w.text, w.required);
    if (!id) return id.status();
    *w.id = *id;
  }
  Result<bool> lower = file.get_bool_or("tokenizer.bert.lowercase", true);
  if (!lower) return Status::invalid(file.path() + ": " + lower.status().message());
  return from_vocab(std::move(tokens), sp, *lower, file.path());
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_vocab(
    std::vector<std::string> tokens, WordPieceSpecials specials, bool lowercase,
    const std::string& source) {
  if (tokens.empty()) return Status::invalid(source + ": tokenizer.ggml.tokens is empty");
  if (tokens.size() > (1u << 24)) {
    return Status::invalid(source + ": tokenizer.ggml.tokens has " + std::to_string(tokens.size()) +
                           " entries (at most 16777216)");
  }
  const auto n = static_cast<int32_t>(tokens.size());
  auto check = [&](int32_t id, const char* what, bool required) -> Status {
    if (id == -1 && !required) return Status::ok();
    if (id < 0 || id >= n) {
      return Status::invalid(source + ": " + what + " token id " + std::to_string(id) +
                             " is out of range (vocab has " + std::to_string(n) + " tokens)");
    }
    return Status::ok();
  };
  for (Status s : {check(specials.cls, "[CLS]", true), check(specials.sep, "[SEP]", true),
                   check(specials.unk, "[UNK]", true), check(specials.pad, "[PAD]", false)}) {
    if (!s) return s;
  }
  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  tok->ids_.reserve(tokens.size());
  for (int32_t i = 0; i < n; ++i) {
    const std::string& t = tokens[static_cast<size_t>(i)];
    if (t.empty()) {
      return Status::invalid(source + ": tokenizer.ggml.tokens[" + std::to_string(i) +
                             "] is an empty string");
    }
    auto [it, inserted] = tok->ids_.emplace(t, i);
    if (!inserted) {
      return Status::invalid(source + ": tokenizer.ggml.tokens[" + std::to_string(i) + "] \"" + t +
                             "\" repeats tokens[" + std::to_string(it->second) + "]");
    }
  }
  tok->tokens_ = std::move(tokens);
  tok->specials_ = specials;
  tok->lowercase_ = lowercase;
  return tok;
}

std::string WordPieceTokenizer::normalize(std::string_view text) const {
  std::string out;
  for (int32_t c : normalize_codepoints(text, lowercase_)) append_utf8(out, c);
  return out;
}

void WordPieceTokenizer::add_word(std::string_view word, int64_t n_chars,
                                  std::vector<int32_t>& out) const {
  if (n_chars > kMaxCharsPerWord) {
    out.push_back(specials_.unk);
    return;
  }
  // Byte offset of each character boundary.
  std::vector<size_t> bounds;
  bounds.reserve(static_cast<size_t>(n_chars) + 1);
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) bounds.push_back(i);
  }
  bounds.push_back(word.size());
  const size_t first = out.size();
  std::string key;
  size_t start = 0;
  const size_t n_bounds = bounds.size() - 1;
  while (start < n_bounds) {
    int32_t found = -1;
    size_t end = n_bounds;
    for (; end > start; --end) {
      key.assign(start > 0 ? "##" : "");
      key.append(word.substr(bounds[start], bounds[end] - bounds[start]));
      auto it = ids_.find(key);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      out.resize(first);
      out.push_back(specials_.unk);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<int32_t> out;
  std::string word;
  int64_t n_chars = 0;
  auto flush = [&] {
    if (!word.empty()) add_word(word, n_chars, out);
    word.clear();
    n_chars = 0;
  };
  for (int32_t c : normalize_codepoints(text, lowercase_)) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      append_utf8(word, c);
      n_chars = 1;
      flush();
    } else {
      append_utf8(word, c);
      ++n_chars;
    }
  }
  flush();
  return out;
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, int64_t max_tokens) const {
  std::vector<int32_t> pieces = tokenize(text);
  const int64_t keep = std::max<int64_t>(0, max_tokens - 2);
  if (static_cast<int64_t>(pieces.size()) > keep) pieces.resize(static_cast<size_t>(keep));
  std::vector<int32_t> out;
  out.reserve(pieces.size() + 2);
  out.push_back(specials_.cls);
  out.insert(out.end(), pieces.begin(), pieces.end());
  out.push_back(specials_.sep);
  return out;
}

}  // namespace r1
