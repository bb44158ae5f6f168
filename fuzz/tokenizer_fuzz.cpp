// libFuzzer target for the tokenizer: arbitrary bytes are encoded with and without special-token
// parsing, then decoded, with a real vocab loaded once from $R1_FUZZ_VOCAB (default: the gpt-2
// reference vocab). Properties checked under ASan/UBSan:
//   - every id is inside the vocab;
//   - well-formed UTF-8 decodes back to itself (the vocab covers every byte);
//   - StreamDecoder's pieces concatenate to the same text as decode().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "engine/gguf.h"
#include "engine/tokenizer.h"

namespace {

struct Vocab {
  std::unique_ptr<r1::GgufFile> file;
  std::unique_ptr<r1::Tokenizer> tok;
};

const r1::Tokenizer& tokenizer() {
  static const Vocab vocab = [] {
    const char* env = std::getenv("R1_FUZZ_VOCAB");
    const std::string path = env != nullptr && *env != '\0'
                                 ? env
                                 : "/work/shared/reference/tokenizer/ggml-vocab-gpt-2.gguf";
    Vocab v;
    auto file = r1::GgufFile::open(path);
    if (!file.is_ok()) {
      std::fprintf(stderr, "tokenizer_fuzz: %s\n", file.status().message().c_str());
      std::abort();
    }
    v.file = std::move(file.value());
    auto tok = r1::Tokenizer::from_gguf(*v.file);
    if (!tok.is_ok()) {
      std::fprintf(stderr, "tokenizer_fuzz: %s\n", tok.status().message().c_str());
      std::abort();
    }
    v.tok = std::move(tok.value());
    return v;
  }();
  return *vocab.tok;
}

// Well-formed UTF-8 per the Unicode standard (no overlongs, surrogates or values > U+10FFFF).
bool well_formed(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    int need = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
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
      return false;
    }
    if (i + static_cast<size_t>(need) >= s.size()) return false;  // truncated
    for (int k = 1; k <= need; ++k) {
      const auto c = static_cast<uint8_t>(s[i + static_cast<size_t>(k)]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return false;
    }
    i += static_cast<size_t>(need) + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const r1::Tokenizer& tok = tokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = well_formed(text);
  for (bool parse_special : {false, true}) {
    const auto ids = tok.encode(text, /*add_bos=*/false, parse_special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
    }
    const std::string decoded = tok.decode(ids);
    if (valid && decoded != text) __builtin_trap();

    r1::StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    if (well_formed(decoded) && streamed != decoded) __builtin_trap();
    if (!well_formed(streamed)) __builtin_trap();

    (void)tok.encode(text, /*add_bos=*/true, parse_special);
  }
  return 0;
}
