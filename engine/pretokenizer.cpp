// Pre-tokenizer regexes per tokenizer.ggml.pre family, run with PCRE2.
//
// The pattern lists are the ones llama.cpp (src/llama-vocab.cpp, llm_tokenizer_bpe) uses, which
// in turn come from each model's tokenizer.json. They are written here in llama.cpp's notation
// and rewritten by expand_whitespace() so that `\s` / `\S` mean exactly the White_Space set that
// llama.cpp's own tables use; literal classes that llama.cpp ran through std::wregex (where
// white space had been replaced by U+000B) have their white-space code points left out.
#include "engine/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <initializer_list>

namespace r1 {

namespace {

// Unicode White_Space (PropList.txt), as a character-class body.
constexpr std::string_view kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

// Replaces `\s` and `\S` by explicit classes over kWhiteSpace. Inside a class only `\s` may
// appear (it becomes the class body); escapes are copied through untouched.
std::string expand_whitespace(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      ++i;
      if (e == 's') {
        if (in_class) {
          out += kWhiteSpace;
        } else {
          out += '[';
          out += kWhiteSpace;
          out += ']';
        }
      } else if (e == 'S') {
        // Only used outside classes in the patterns below.
        out += "[^";
        out += kWhiteSpace;
        out += ']';
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out += '^';
        ++i;
      }
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

// GPT-2: contractions, letters, digits, other symbols, each with an optional leading space.
constexpr const char* kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// Llama 3: case-insensitive contractions, digits in groups of up to three, newlines kept
// with the white space before them.
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen2 (and R1-Distill-Qwen): Llama 3 with single digits.
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// DeepSeek LLM / Coder: CJK ideographs (U+4E00-U+9FA5), U+0800-U+4E00 and Hangul
// (U+AC00-U+D7FF), minus the white-space code points inside those ranges.
constexpr const char* kDeepseekCjk =
    "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}"
    "\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{4E00}"
    "\\x{AC00}-\\x{D7FF}]+";
// DeepSeek LLM letters: an optional white space, then cased letters (the Unicode LC set of
// the tokenizer's time, as listed in its tokenizer.json).
constexpr const char* kDeepseekLetters =
    "\\s?[\\x{41}-\\x{5A}\\x{61}-\\x{7A}\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}"
    "\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}"
    "\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"
    "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
    "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}"
    "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"
    "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"
    "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}"
    "\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}"
    "\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}"
    "\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}"
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}"
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
    "\\x{1E900}-\\x{1E943}]+";
// DeepSeek LLM punctuation: ASCII and full-width punctuation, curly quotes, and U+3001-3002
// (U+3000 is white space, which never matched this class in llama.cpp).
constexpr const char* kDeepseekPunct =
    "\\s?[\\x{21}-\\x{2F}\\x{3A}-\\x{7E}\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}"
    "\\x{3001}-\\x{3002}]+";
constexpr const char* kDeepseekV3Main =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct Family {
  std::initializer_list<const char*> names;
  std::initializer_list<const char*> patterns;
  bool ignore_merges;
  bool default_add_bos;
};

const std::array<Family, 9> kFamilies = {{
    {{"default", ""},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"},
     false,
     false},
    {{"gpt-2", "phi-2", "mpt", "olmo", "jais"}, {kGpt2}, false, false},
    {{"starcoder", "smollm", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
     {"\\p{N}", kGpt2},
     false,
     false},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"}, {kLlama3}, true, true},
    {{"dbrx", "smaug-bpe"}, {kLlama3}, false, false},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}, false, false},
    {{"deepseek-llm"},
     {"[\\r\\n]", kDeepseekLetters, kDeepseekPunct, "\\s+\\z", kDeepseekCjk, "\\p{N}+"},
     false,
     false},
    {{"deepseek-coder"},
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kDeepseekCjk, "\\p{N}"},
     false,
     false},
    {{"deepseek-v3"},
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      kDeepseekV3Main},
     false,
     false},
}};

}  // namespace

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(std::string_view pre_type) {
  const Family* family = nullptr;
  for (const Family& f : kFamilies) {
    for (const char* name : f.names) {
      if (pre_type == name) family = &f;
    }
  }
  if (family == nullptr) {
    return Status::unsupported("tokenizer.ggml.pre: unsupported pre-tokenizer '" +
                               std::string(pre_type) + "'");
  }
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
  pre->name_ = pre_type.empty() ? "default" : std::string(pre_type);
  pre->ignore_merges_ = family->ignore_merges;
  pre->default_add_bos_ = family->default_add_bos;
  for (const char* raw : family->patterns) {
    const std::string pattern = expand_whitespace(raw);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto p = std::make_unique<Pattern>();
    p->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (p->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return Status::internal("pre-tokenizer '" + pre->name_ + "': pattern '" + raw +
                              "' does not compile at offset " + std::to_string(error_offset) +
                              ": " + reinterpret_cast<const char*>(message));
    }
    // JIT is an optimisation only: pcre2_match falls back to the interpreter without it.
    pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE);
    pre->patterns_.push_back(std::move(p));
  }
  return pre;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return;
  std::vector<std::string_view> current{text};
  std::vector<std::string_view> next;
  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  for (const auto& pattern : patterns_) {
    next.clear();
    for (std::string_view piece : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t gap_start = 0;  // bytes: end of the previous match
      size_t search_from = 0;
      while (search_from < piece.size()) {
        int rc = pcre2_match(pattern->code, subject, piece.size(), search_from, PCRE2_NO_UTF_CHECK,
                             match, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          // The interpreter keeps its backtracking state on the heap.
          rc = pcre2_match(pattern->code, subject, piece.size(), search_from,
                           PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match, nullptr);
        }
        if (rc < 0) break;  // no match (or a resource limit): the rest is one gap piece
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t start = ovector[0];
        const size_t end = ovector[1];
        if (start > gap_start) next.push_back(piece.substr(gap_start, start - gap_start));
        if (end > start) {
          next.push_back(piece.substr(start, end - start));
          gap_start = end;
          search_from = end;
        } else {
          // None of the patterns matches the empty string; step one character regardless.
          gap_start = start;
          search_from = start + 1;
          while (search_from < piece.size() &&
                 (static_cast<uint8_t>(piece[search_from]) & 0xC0) == 0x80) {
            ++search_from;
          }
        }
      }
      if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
    }
    current.swap(next);
  }
  pcre2_match_data_free(match);
  pieces->insert(pieces->end(), current.begin(), current.end());
}

}  // namespace r1
