// libFuzzer target for the tokenizer: arbitrary bytes are encoded with and without special-token
// parsing, then decoded, with a real vocab loaded once from $R1_FUZZ_VOCAB (default: the gpt-2
// reference vocab). Properties checked under ASan/UBSan:
//   - every id is inside the vocab;
//   - well-formed UTF-8 decodes back to itself (the vocab covers every byte);
//   - StreamDecoder's pieces concatenate to the same text as decode().
#include <utf8proc.h>

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

// Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF), judged by utf8proc so
// the oracle is independent of the tokenizer's own UTF-8 scanner.
bool well_formed(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp < 0) return false;
    p += n;
    left -= n;
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
