// Tokenizer: llama.cpp is the oracle. The reference vectors (../shared/reference/tokenizer) and
// the SmolLM2 golden file (scripts/make_golden_tokenizer.py) hold its ids; a tiny in-memory vocab
// specifies merges, special tokens and the malformed-metadata errors; StreamDecoder is checked
// on characters split across byte tokens.
#include "engine/tokenizer.h"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "engine/pretokenizer.h"
#include "tests/gguf_builder.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

// ---- helpers -----------------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Control and non-ASCII bytes escaped, so that failure messages show exactly what was encoded.
std::string printable(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

struct Loaded {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& path) {
  Loaded out;
  auto file = GgufFile::open(path);
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  out.file = std::move(file.value());
  auto tok = Tokenizer::from_gguf(*out.file);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  out.tok = std::move(tok.value());
  return out;
}

std::string vector_path(const std::string& name, const std::string& ext) {
  return test::shared_path("reference/tokenizer/ggml-vocab-" + name + ".gguf" + ext);
}

// NAME.gguf.inp: texts, each followed by a line "__ggml_vocab_test__" (so a text's own last
// newline belongs to the separator). NAME.gguf.out: one line of space-separated ids per text.
std::vector<std::string> read_vector_texts(const std::string& name) {
  const std::string all = read_file(vector_path(name, ".inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t end; (end = all.find(sep, pos)) != std::string::npos; pos = end + sep.size()) {
    texts.push_back(all.substr(pos, end - pos));
  }
  return texts;
}

std::vector<std::vector<int32_t>> read_vector_ids(const std::string& name, size_t n) {
  std::istringstream in(read_file(vector_path(name, ".out")));
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (out.size() < n && std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<int32_t> ids;
    for (int32_t id; words >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

// vocab_override: a vocab GGUF to use instead of the one beside the vectors.
void check_reference_vectors(const std::string& name, const std::string& vocab_override = "") {
  const std::string vocab_path = vocab_override.empty() ? vector_path(name, "") : vocab_override;
  if (!std::filesystem::exists(vocab_path)) {
    MESSAGE("skipped " << name << ": no vocab GGUF at " << vocab_path);
    return;
  }
  Loaded vocab = load(vocab_path);
  const auto texts = read_vector_texts(name);
  const auto expected = read_vector_ids(name, texts.size());
  REQUIRE(texts.size() > 0);
  REQUIRE(expected.size() == texts.size());
  size_t passed = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto got = vocab.tok->encode(texts[i], /*add_bos=*/false, /*parse_special=*/false);
    if (got == expected[i]) {
      ++passed;
    } else {
      FAIL_CHECK(name << " case " << i << " " << printable(texts[i]) << "\n  llama.cpp: "
                      << ids_str(expected[i]) << "\n  r1:        " << ids_str(got));
    }
    // Every reference text is well-formed UTF-8, so decoding gives the bytes back.
    CHECK_MESSAGE(vocab.tok->decode(got) == texts[i],
                  name << " round trip " << printable(texts[i]));
  }
  MESSAGE(name << ": " << passed << "/" << texts.size() << " reference vectors match");
}

// ---- a tiny GGUF writer (version 3, metadata only) ----------------------------------------------

using test::GgufBuilder;

// GPT-2's byte-level character for byte b (printable Latin-1 maps to itself, the rest to
// U+0100 onwards in byte order).
std::string byte_char(int b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int next = 0x100;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
      const int cp = printable ? c : next++;
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      t[c] = s;
    }
    return t;
  }();
  return table[b];
}

// A small but complete byte-level vocab: ids 0-255 are the bytes, then merged tokens, then
// special tokens. Tests mutate one field to make it malformed.
struct TinyVocab {
  std::string model = "gpt2";
  std::string pre = "gpt-2";
  bool with_tokens = true;
  bool with_merges = true;
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges = {"h e", "l l",   "he ll", "hell o", "Ġ w",
                                     "o r", "Ġw or", "l d",   "Ġwor ld"};
  int64_t bos = -1;  // -1: key absent
  int64_t eos = -1;

  TinyVocab() {
    for (int b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
    for (const char* t : {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"}) {
      tokens.push_back(t);
    }
    types.assign(tokens.size(), 1);
    add("<|im_start|>", 3);
    add("<|im_end|>", 3);
    add("<tool>", 4);  // user-defined: matched even without parse_special
  }
  int32_t add(const std::string& text, int32_t type) {
    tokens.push_back(text);
    types.push_back(type);
    return static_cast<int32_t>(tokens.size() - 1);
  }
  int32_t id(const std::string& text) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == text) return static_cast<int32_t>(i);
    }
    return -1;
  }
  std::vector<uint8_t> image() const {
    GgufBuilder b;
    b.add_string("general.architecture", "gpt2");
    b.add_string("tokenizer.ggml.model", model);
    if (!pre.empty()) b.add_string("tokenizer.ggml.pre", pre);
    if (with_tokens) b.add_strings("tokenizer.ggml.tokens", tokens);
    if (!types.empty()) b.add_i32s("tokenizer.ggml.token_type", types);
    if (with_merges) b.add_strings("tokenizer.ggml.merges", merges);
    if (bos >= 0) b.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
    if (eos >= 0) b.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    return b.image();
  }
};

// Keeps the image alive for as long as the GgufFile views it.
struct InMemory {
  std::vector<uint8_t> image;
  std::unique_ptr<GgufFile> file;
};

Result<std::unique_ptr<Tokenizer>> tokenizer_from(const std::vector<uint8_t>& image,
                                                  InMemory* keep) {
  keep->image = image;
  auto file = GgufFile::from_buffer(keep->image.data(), keep->image.size(), "tiny.gguf");
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  keep->file = std::move(file.value());
  return Tokenizer::from_gguf(*keep->file);
}

// The vocab id whose piece is exactly the byte b.
int32_t byte_token(const Tokenizer& tok, uint8_t b) {
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.token_to_piece(id) == std::string(1, static_cast<char>(b))) return id;
  }
  FAIL("no token for byte " << int(b));
  return -1;
}

// ---- reference vectors -------------------------------------------------------------------------

TEST_CASE("tokenizer: gpt-2 reference vectors") {
  check_reference_vectors("gpt-2");
}
TEST_CASE("tokenizer: deepseek-llm reference vectors") {
  check_reference_vectors("deepseek-llm");
}
TEST_CASE("tokenizer: deepseek-coder reference vectors") {
  check_reference_vectors("deepseek-coder");
}
TEST_CASE("tokenizer: starcoder reference vectors") {
  check_reference_vectors("starcoder");
}
TEST_CASE("tokenizer: qwen2 reference vectors on the real R1-Distill-Qwen vocabulary") {
  // The qwen2 vectors have no vocab GGUF beside them. R1-Distill-Qwen shares Qwen2's base
  // vocabulary and regex (pre type deepseek-r1-qwen); scripts/make_vocab_gguf.py (run by
  // scripts/setup.sh) extracts its vocabulary from the published first part of the real model.
  const std::string vocab = test::model_path("vocab-deepseek-r1-qwen.gguf");
  REQUIRE_MESSAGE(std::filesystem::exists(vocab), vocab << " is missing: run scripts/setup.sh");
  check_reference_vectors("qwen2", vocab);
}

TEST_CASE("tokenizer: llama-bpe reference vectors") {
  // No Llama-3-family vocabulary is available here; the llama3 regex is checked on its own
  // below, and was checked against llama.cpp on the gpt-2 vocab relabelled as llama-bpe.
  check_reference_vectors("llama-bpe");
}

// ---- SmolLM2 (real model, golden ids from llama.cpp) -------------------------------------------

TEST_CASE("tokenizer: SmolLM2 golden ids from llama.cpp") {
  const std::string model = test::model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " not found (see DESIGN.md: Models and data)");
    return;
  }
  const std::string golden_path = test::source_path("tests/data/golden/tokenizer_smollm2.json");
  const auto golden = nlohmann::json::parse(read_file(golden_path));
  REQUIRE(golden.size() > 0);
  Loaded smol = load(model);
  const Tokenizer& tok = *smol.tok;

  size_t passed = 0;
  for (const auto& c : golden) {
    const std::string text = c.at("text");
    const bool special = c.at("special");
    const bool add_bos = c.at("add_bos");
    const auto expected = c.at("ids").get<std::vector<int32_t>>();
    const auto got = tok.encode(text, add_bos, special);
    if (got == expected) {
      ++passed;
    } else {
      FAIL_CHECK("special=" << special << " add_bos=" << add_bos << " " << printable(text)
                            << "\n  llama.cpp: " << ids_str(expected)
                            << "\n  r1:        " << ids_str(got));
    }
    CHECK_MESSAGE(tok.decode(tok.encode(text, false, special)) == text,
                  "round trip " << printable(text));
  }
  MESSAGE("SmolLM2: " << passed << "/" << golden.size() << " golden cases match");

  // Metadata and special tokens, resolved by text.
  CHECK(tok.pre_type() == "smollm");
  CHECK(tok.n_vocab() == 49152);
  CHECK_FALSE(tok.add_bos());
  const auto im_start = tok.find_token("<|im_start|>");
  const auto im_end = tok.find_token("<|im_end|>");
  const auto endoftext = tok.find_token("<|endoftext|>");
  REQUIRE(im_start.has_value());
  REQUIRE(im_end.has_value());
  REQUIRE(endoftext.has_value());
  CHECK(tok.token_attr(*im_start) == TokenAttr::kControl);
  CHECK(tok.token_to_piece(*im_start, true) == "<|im_start|>");
  CHECK(tok.token_to_piece(*im_start, false) == "");
  CHECK(tok.is_end_of_generation(*im_end));
  CHECK(tok.is_end_of_generation(*endoftext));
  CHECK_FALSE(tok.is_end_of_generation(*im_start));
  CHECK(tok.eos_id() == *im_end);
  CHECK_FALSE(tok.find_token("<|not a token|>").has_value());
  CHECK(tok.token_to_piece(-1) == "");
  CHECK(tok.token_to_piece(tok.n_vocab()) == "");
}

// ---- behaviour on a tiny vocab ------------------------------------------------------------------

TEST_CASE("tokenizer: merges apply by rank, leftmost first") {
  TinyVocab v;
  InMemory keep;
  auto tok = tokenizer_from(v.image(), &keep);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  const Tokenizer& t = *tok.value();
  CHECK(t.encode("hello world", false, false) ==
        std::vector<int32_t>{v.id("hello"), v.id("Ġworld")});
  // "l l" is one rule: in "lll" the left pair merges first.
  CHECK(t.encode("lll", false, false) == std::vector<int32_t>{v.id("ll"), v.id("l")});
  // No BOS in this vocab: add_bos changes nothing.
  CHECK(t.bos_id() == -1);
  CHECK(t.encode("hello", true, false) == std::vector<int32_t>{v.id("hello")});
  CHECK(t.encode("", true, true).empty());
  CHECK(t.decode(t.encode("hello world\n\tÄpfel 🦙", false, false)) ==
        "hello world\n\tÄpfel 🦙");
}

TEST_CASE("tokenizer: special tokens are matched before pre-tokenization") {
  TinyVocab v;
  v.bos = v.id("<|im_start|>");
  InMemory keep;
  auto tok = tokenizer_from(v.image(), &keep);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  const Tokenizer& t = *tok.value();
  const int32_t start = v.id("<|im_start|>");
  const int32_t end = v.id("<|im_end|>");
  const int32_t tool = v.id("<tool>");
  const std::string text = "<|im_start|>hello<|im_end|><tool>";

  CHECK(t.encode(text, false, true) == std::vector<int32_t>{start, v.id("hello"), end, tool});
  // Without parse_special, control tokens are plain text; user-defined ones still match.
  const auto plain = t.encode(text, false, false);
  CHECK(std::find(plain.begin(), plain.end(), start) == plain.end());
  CHECK(std::find(plain.begin(), plain.end(), end) == plain.end());
  CHECK(plain.back() == tool);
  CHECK(t.decode(plain) == text);

  // token_to_piece: control tokens render only on request; user-defined ones always.
  CHECK(t.token_to_piece(start, true) == "<|im_start|>");
  CHECK(t.token_to_piece(start, false) == "");
  CHECK(t.token_to_piece(tool, false) == "<tool>");
  CHECK(t.decode({start, v.id("hello"), end}, false) == "hello");
  // <|im_end|> ends generation by its text; there is no eos in this vocab.
  CHECK(t.is_end_of_generation(end));
  CHECK_FALSE(t.is_end_of_generation(start));
  // tokenizer.ggml.add_bos_token is absent and gpt-2 does not default to it.
  CHECK_FALSE(t.add_bos());
}

TEST_CASE("tokenizer: add_bos follows tokenizer.ggml.add_bos_token") {
  TinyVocab v;
  v.bos = v.id("<|im_start|>");
  GgufBuilder b;
  // Same vocab with the flag set: rebuild the image by hand.
  b.add_string("tokenizer.ggml.model", "gpt2")
      .add_string("tokenizer.ggml.pre", "gpt-2")
      .add_strings("tokenizer.ggml.tokens", v.tokens)
      .add_i32s("tokenizer.ggml.token_type", v.types)
      .add_strings("tokenizer.ggml.merges", v.merges)
      .add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos))
      .add_bool("tokenizer.ggml.add_bos_token", true);
  InMemory keep;
  auto tok = tokenizer_from(b.image(), &keep);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  CHECK(tok.value()->add_bos());
  CHECK(tok.value()->encode("hello", true, false) ==
        std::vector<int32_t>{static_cast<int32_t>(v.bos), v.id("hello")});
  CHECK(tok.value()->encode("hello", false, false) == std::vector<int32_t>{v.id("hello")});
}

TEST_CASE("tokenizer: invalid UTF-8 is encoded as llama.cpp does (U+FFFD per bad byte)") {
  Loaded gpt2 = load(vector_path("gpt-2", ""));
  const Tokenizer& t = *gpt2.tok;
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(t.encode("ab\xFF\xFE c\xE2\x82", false, false) ==
        t.encode("ab" + fffd + fffd + " c" + fffd + fffd, false, false));
  // A lone surrogate's bytes pass through (llama.cpp decodes it as a code point).
  CHECK(t.decode(t.encode("x\xED\xA0\x80y", false, false)) == "x\xED\xA0\x80y");

  // Random bytes never crash and give ids inside the vocab.
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    for (bool special : {false, true}) {
      for (int32_t id : t.encode(s, false, special)) {
        REQUIRE(id >= 0);
        REQUIRE(id < t.n_vocab());
      }
    }
  }
}

// ---- pre-tokenizer regexes without a vocab ------------------------------------------------------

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  auto p = PreTokenizer::create(pre);
  REQUIRE_MESSAGE(p.is_ok(), p.status().message());
  std::vector<std::string_view> pieces;
  p.value()->split(text, &pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST_CASE("pretokenizer: families split as their regexes do") {
  // GPT-2: \s+(?!\S) leaves the last space of a run to the next word; lower-case contractions.
  CHECK(split("gpt-2", "a   b 12345 it's IT'S") ==
        Pieces{"a", "  ", " b", " 12345", " it", "'s", " IT", "'", "S"});
  CHECK(split("gpt-2", "x  \n") == Pieces{"x", "  \n"});
  // SmolLM / StarCoder: every digit alone.
  CHECK(split("smollm", "v 123") == Pieces{"v", " ", "1", "2", "3"});
  // Llama 3: digits in threes, case-insensitive contractions, newlines with the space before.
  CHECK(split("llama-bpe", "1234567 I'M ok  \n\nx") ==
        Pieces{"123", "456", "7", " I", "'M", " ok", "  \n\n", "x"});
  // Qwen2 / R1-Distill-Qwen: single digits, otherwise Llama 3.
  CHECK(split("qwen2", "1234 YOU'RE") == Pieces{"1", "2", "3", "4", " YOU", "'RE"});
  CHECK(split("deepseek-r1-qwen", "a\t\tb") == Pieces{"a", "\t", "\tb"});
  // DeepSeek V3: numbers in threes first, then CJK runs.
  CHECK(split("deepseek-v3", "12345中文ab") == Pieces{"123", "45", "中文", "ab"});
  // U+3000 is white space: "\s?\p{L}+" takes it, but the CJK class (which spans it) does not.
  CHECK(split("deepseek-coder", "中\u3000文") == Pieces{"中", "\u3000", "文"});
  CHECK(PreTokenizer::create("no-such-pre").status().code() == StatusCode::kUnsupported);
}

// ---- StreamDecoder
// -------------------------------------------------------------------------------

TEST_CASE("stream decoder: holds back a character split across byte tokens") {
  Loaded gpt2 = load(vector_path("gpt-2", ""));
  const Tokenizer& t = *gpt2.tok;
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, four byte tokens

  StreamDecoder d(t);
  CHECK(d.push(byte_token(t, 'a')) == "a");
  CHECK(d.push(byte_token(t, 0xF0)) == "");
  CHECK(d.push(byte_token(t, 0x9F)) == "");
  CHECK(d.push(byte_token(t, 0xA6)) == "");
  CHECK(d.push(byte_token(t, 0x99)) == llama);
  CHECK(d.flush() == "");

  // An incomplete character at the end flushes as one U+FFFD; a byte that can never start a
  // character is replaced at once.
  CHECK(d.push(byte_token(t, 0xF0)) == "");
  CHECK(d.push(byte_token(t, 0x9F)) == "");
  CHECK(d.flush() == "\xEF\xBF\xBD");
  CHECK(d.push(byte_token(t, 0xFF)) == "\xEF\xBF\xBD");
  // A lead byte followed by a non-continuation: U+FFFD, then the character.
  CHECK(d.push(byte_token(t, 0xE2)) == "");
  CHECK(d.push(byte_token(t, 'b')) ==
        "\xEF\xBF\xBD"
        "b");

  // Whole texts: the pieces concatenate to the text, each one well-formed on its own.
  const std::string text = "naïve café 🦙🦙 中文 — done";
  StreamDecoder whole(t);
  std::string joined;
  for (int32_t id : t.encode(text, false, false)) {
    const std::string piece = whole.push(id);
    CHECK(t.decode(t.encode(piece, false, false)) == piece);
    joined += piece;
  }
  joined += whole.flush();
  CHECK(joined == text);

  // Control tokens follow render_special.
  Loaded deepseek = load(vector_path("deepseek-llm", ""));
  const int32_t eos = deepseek.tok->eos_id();
  StreamDecoder quiet(*deepseek.tok, /*render_special=*/false);
  CHECK(quiet.push(eos) == "");
  StreamDecoder loud(*deepseek.tok, /*render_special=*/true);
  CHECK(loud.push(eos) == deepseek.tok->token_text(eos));
  CHECK(deepseek.tok->is_end_of_generation(eos));
  // DeepSeek's vocab asks for BOS (tokenizer.ggml.add_bos_token = true).
  CHECK(deepseek.tok->add_bos());
  CHECK(deepseek.tok->encode("hi", true, false).front() == deepseek.tok->bos_id());
  CHECK(deepseek.tok->encode("hi", false, false).front() != deepseek.tok->bos_id());
}

// ---- malformed metadata
// ----------------------------------------------------------------------------

TEST_SUITE("parsers") {
  void expect_error(const TinyVocab& v, StatusCode code, const std::string& needle) {
    InMemory keep;
    auto tok = tokenizer_from(v.image(), &keep);
    REQUIRE_FALSE(tok.is_ok());
    CHECK(tok.status().code() == code);
    CHECK_MESSAGE(tok.status().message().find(needle) != std::string::npos,
                  "message '" << tok.status().message() << "' should name " << needle);
  }

  TEST_CASE("tokenizer: malformed vocab metadata gives a clean error naming the key") {
    {
      TinyVocab v;
      v.with_tokens = false;
      v.types.clear();
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.tokens");
    }
    {
      TinyVocab v;
      v.tokens.clear();
      v.types.clear();
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.tokens");
    }
    {
      TinyVocab v;
      v.merges.push_back("h zz");  // "zz" is not a token
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.merges[9]");
    }
    {
      TinyVocab v;
      v.merges.push_back("nospace");
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.merges");
    }
    {
      TinyVocab v;
      v.with_merges = false;
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.merges");
    }
    {
      TinyVocab v;
      v.types.pop_back();
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.token_type");
    }
    {
      TinyVocab v;
      v.bos = static_cast<int64_t>(v.tokens.size());  // one past the end
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.bos_token_id");
    }
    {
      TinyVocab v;
      v.eos = 1'000'000;
      expect_error(v, StatusCode::kInvalidArgument, "tokenizer.ggml.eos_token_id");
    }
    {
      TinyVocab v;
      v.add("he", 1);  // duplicate entry
      expect_error(v, StatusCode::kInvalidArgument, "duplicate");
    }
    {
      TinyVocab v;
      v.model = "llama";
      expect_error(v, StatusCode::kUnsupported, "'llama'");
    }
    {
      TinyVocab v;
      v.pre = "no-such-pre";
      expect_error(v, StatusCode::kUnsupported, "no-such-pre");
    }
  }

  TEST_CASE("tokenizer: wrongly typed vocab arrays are rejected") {
    GgufBuilder b;
    b.add_string("tokenizer.ggml.model", "gpt2")
        .add_i32s("tokenizer.ggml.tokens", {1, 2, 3})
        .add_strings("tokenizer.ggml.merges", {});
    InMemory keep;
    auto tok = tokenizer_from(b.image(), &keep);
    REQUIRE_FALSE(tok.is_ok());
    CHECK(tok.status().message().find("tokenizer.ggml.tokens") != std::string::npos);

    GgufBuilder missing_model;
    missing_model.add_strings("tokenizer.ggml.tokens", {"a"});
    auto tok2 = tokenizer_from(missing_model.image(), &keep);
    REQUIRE_FALSE(tok2.is_ok());
    CHECK(tok2.status().code() == StatusCode::kInvalidArgument);
    CHECK(tok2.status().message().find("tokenizer.ggml.model") != std::string::npos);
  }
}

}  // namespace
}  // namespace r1
