// WordPieceTokenizer: the HF `tokenizers` BERT pipeline sentence-transformers runs is the oracle.
// The golden file (scripts/make_golden_embeddings.py) holds its ids for 100 varied texts; a tiny
// in-memory vocab specifies normalisation, splitting, [UNK] and truncation; malformed metadata
// gives errors that name the key.
#include "engine/wordpiece.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "tests/gguf_builder.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

const char* kModelFile = "all-MiniLM-L6-v2.F32.gguf";

std::vector<std::string> tiny_tokens() {
  return {"[PAD]", "[UNK]",  "[CLS]", "[SEP]", "hello",    "world", "un",
          "##aff", "##able", "cafe",  "!",     ",",        "中",    "文",
          "a",     "##b",    "$",     "naive", "istanbul", ".",     "##a"};
}

std::unique_ptr<WordPieceTokenizer> tiny() {
  auto tok = WordPieceTokenizer::from_vocab(tiny_tokens(), {2, 3, 1, 0}, true, "tiny");
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  return std::move(tok.value());
}

std::vector<int32_t> ids(std::initializer_list<int32_t> v) {
  return v;
}

struct InMemory {
  std::vector<uint8_t> image;
  std::unique_ptr<GgufFile> file;
};

Result<std::unique_ptr<WordPieceTokenizer>> from_image(const test::GgufBuilder& b, InMemory& keep) {
  keep.image = b.image();
  auto file = GgufFile::from_buffer(keep.image.data(), keep.image.size(), "tiny.gguf");
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  keep.file = std::move(file.value());
  return WordPieceTokenizer::from_gguf(*keep.file);
}

}  // namespace

TEST_CASE("wordpiece: lower-cases, strips accents and splits greedily into ## pieces") {
  auto tok = tiny();
  CHECK(tok->normalize("Héllo\tWÖRLD") == "hello world");
  CHECK(tok->tokenize("HELLO World") == ids({4, 5}));
  CHECK(tok->tokenize("unaffable") == ids({6, 7, 8}));
  CHECK(tok->tokenize("Café") == ids({9}));
  CHECK(tok->tokenize("Naïve İstanbul") == ids({17, 18}));
  CHECK(tok->tokenize("ab") == ids({14, 15}));
}

TEST_CASE("wordpiece: punctuation and CJK characters are words of their own") {
  auto tok = tiny();
  CHECK(tok->tokenize("hello,world!") == ids({4, 11, 5, 10}));
  CHECK(tok->tokenize("$a.") == ids({16, 14, 19}));
  CHECK(tok->tokenize("hello中文world") == ids({4, 12, 13, 5}));
}

TEST_CASE("wordpiece: unknown words, over-long words and control characters") {
  auto tok = tiny();
  CHECK(tok->tokenize("hello xyz") == ids({4, 1}));
  CHECK(tok->tokenize("abx") == ids({1}));                    // a partial match is not kept
  CHECK(tok->tokenize(std::string(100, 'a')).size() == 100);  // a ##a ##a ...
  CHECK(tok->tokenize(std::string(101, 'a')) == ids({1}));
  CHECK(tok->tokenize(std::string("hel\x00lo", 6)) == ids({4}));  // NUL dropped
  CHECK(tok->tokenize("hel\u200blo") == ids({4}));                // format char dropped
  CHECK(tok->tokenize("\xff\xfehello") == ids({4}));              // ill-formed bytes dropped
  CHECK(tok->tokenize("").empty());
}

TEST_CASE("wordpiece: encode frames with [CLS] [SEP] and truncates the pieces to the window") {
  auto tok = tiny();
  CHECK(tok->encode("", 256) == ids({2, 3}));
  CHECK(tok->encode("hello world", 256) == ids({2, 4, 5, 3}));
  CHECK(tok->encode("hello world hello", 4) == ids({2, 4, 5, 3}));
  CHECK(tok->encode("hello world", 2) == ids({2, 3}));
}

TEST_CASE("wordpiece: ids equal the HF tokenizer's on the 100 golden texts") {
  const std::string model = test::model_path(kModelFile);
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " is missing (run `r1 models fetch all-minilm-l6-v2`)");
    return;
  }
  auto file = GgufFile::open(model);
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  auto tok = WordPieceTokenizer::from_gguf(**file);
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  std::ifstream in(test::source_path("tests/data/golden/minilm_embeddings.json"));
  REQUIRE(in);
  const nlohmann::json golden = nlohmann::json::parse(in);
  const int64_t max_tokens = golden.at("max_seq_length").get<int64_t>();
  int n = 0;
  for (const auto& c : golden.at("cases")) {
    const std::string text = c.at("text").get<std::string>();
    const std::vector<int32_t> want = c.at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> got = (*tok)->encode(text, max_tokens);
    CHECK_MESSAGE(got == want, "text " << n << ": " << text.substr(0, 80));
    ++n;
  }
  CHECK(n == 100);
}

TEST_CASE("wordpiece: malformed metadata is a clear error naming the key") {
  auto base = [](test::GgufBuilder& b) { b.add_string("tokenizer.ggml.model", "bert"); };
  InMemory keep;
  {
    test::GgufBuilder b;
    b.add_strings("tokenizer.ggml.tokens", tiny_tokens());
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tokenizer.ggml.model") != std::string::npos);
  }
  {
    test::GgufBuilder b;
    b.add_string("tokenizer.ggml.model", "gpt2")
        .add_strings("tokenizer.ggml.tokens", tiny_tokens());
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == StatusCode::kUnsupported);
    CHECK(r.status().message().find("\"gpt2\"") != std::string::npos);
  }
  {
    test::GgufBuilder b;
    base(b);
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tokenizer.ggml.tokens") != std::string::npos);
  }
  {
    test::GgufBuilder b;
    base(b);
    b.add_strings("tokenizer.ggml.tokens", tiny_tokens())
        .add_u32("tokenizer.ggml.cls_token_id", 99);
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tokenizer.ggml.cls_token_id = 99 is out of range") !=
          std::string::npos);
  }
  {
    std::vector<std::string> no_cls = tiny_tokens();
    no_cls[2] = "[NOT_CLS]";
    test::GgufBuilder b;
    base(b);
    b.add_strings("tokenizer.ggml.tokens", no_cls);
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("cls_token_id is missing and the vocab has no [CLS]") !=
          std::string::npos);
  }
  {
    std::vector<std::string> dup = tiny_tokens();
    dup.push_back("hello");
    test::GgufBuilder b;
    base(b);
    b.add_strings("tokenizer.ggml.tokens", dup);
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tokenizer.ggml.tokens[21] \"hello\" repeats tokens[4]") !=
          std::string::npos);
  }
  {
    test::GgufBuilder b;
    base(b);
    b.add_strings("tokenizer.ggml.tokens", tiny_tokens()).add_u32("tokenizer.bert.lowercase", 1);
    auto r = from_image(b, keep);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tokenizer.bert.lowercase") != std::string::npos);
  }
  {  // special ids found by their text when the keys are absent
    test::GgufBuilder b;
    base(b);
    b.add_strings("tokenizer.ggml.tokens", tiny_tokens());
    auto r = from_image(b, keep);
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    CHECK((*r)->specials().cls == 2);
    CHECK((*r)->specials().sep == 3);
    CHECK((*r)->specials().unk == 1);
    CHECK((*r)->specials().pad == 0);
  }
}

}  // namespace r1
