// Embedder and the bert encoder: sentence-transformers is the oracle. The golden file
// (scripts/make_golden_embeddings.py) holds its all-MiniLM-L6-v2 vectors for 100 varied texts;
// ours must reach cosine >= 0.999 on each, whatever they are batched with. Malformed `bert`
// metadata gives errors that name the key or tensor.
#include "engine/embedder.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/models/bert.h"
#include "tests/gguf_builder.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

const char* kModelFile = "all-MiniLM-L6-v2.F32.gguf";

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

struct Golden {
  std::vector<std::string> texts;
  std::vector<std::vector<float>> vectors;
};

Golden load_golden() {
  std::ifstream in(test::source_path("tests/data/golden/minilm_embeddings.json"));
  REQUIRE(in);
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  for (const auto& c : j.at("cases")) {
    g.texts.push_back(c.at("text").get<std::string>());
    g.vectors.push_back(c.at("embedding").get<std::vector<float>>());
  }
  return g;
}

// A metadata-only bert GGUF; `skip` leaves one key out, `override_*` replaces one value.
std::vector<uint8_t> bert_metadata(const std::string& skip = "",
                                   const std::string& override_key = "",
                                   uint32_t override_value = 0) {
  test::GgufBuilder b;
  b.add_string("general.architecture", "bert");
  const std::pair<const char*, uint32_t> ints[] = {
      {"bert.embedding_length", 384},    {"bert.block_count", 6},
      {"bert.attention.head_count", 12}, {"bert.feed_forward_length", 1536},
      {"bert.context_length", 512},      {"sentence_transformers.max_seq_length", 256}};
  for (const auto& [key, value] : ints) {
    if (skip == key) continue;
    b.add_u32(key, override_key == key ? override_value : value);
  }
  if (skip != "bert.attention.layer_norm_epsilon") {
    b.add_f32("bert.attention.layer_norm_epsilon", 1e-12f);
  }
  return b.image();
}

Status load_error(const std::vector<uint8_t>& image) {
  auto file = GgufFile::from_buffer(image.data(), image.size(), "bert.gguf");
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  auto enc = BertEncoder::load(**file);
  REQUIRE_FALSE(enc.is_ok());
  return enc.status();
}

}  // namespace

TEST_CASE("embedder: cosine >= 0.999 against sentence-transformers on 100 texts, any batching") {
  const std::string model = test::model_path(kModelFile);
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " is missing (run `r1 models fetch all-minilm-l6-v2`)");
    return;
  }
  auto emb = Embedder::open(model);
  REQUIRE_MESSAGE(emb.is_ok(), emb.status().message());
  Embedder& e = **emb;
  CHECK(e.dim() == 384);
  CHECK(e.max_tokens() == 256);
  const Golden g = load_golden();
  REQUIRE(g.texts.size() == 100);

  auto batched = e.embed(g.texts);  // one call: texts packed together
  REQUIRE_MESSAGE(batched.is_ok(), batched.status().message());
  double worst = 1.0;
  size_t worst_at = 0;
  for (size_t i = 0; i < g.texts.size(); ++i) {
    const float* v = batched->data() + i * 384;
    const double cos = cosine(v, g.vectors[i].data(), 384);
    CHECK_MESSAGE(cos >= 0.999,
                  "text " << i << " cosine " << cos << ": " << g.texts[i].substr(0, 60));
    if (cos < worst) {
      worst = cos;
      worst_at = i;
    }
    double norm = 0;
    for (int d = 0; d < 384; ++d) norm += static_cast<double>(v[d]) * v[d];
    CHECK(std::abs(norm - 1.0) < 1e-5);
  }
  char worst_text[64];
  std::snprintf(worst_text, sizeof(worst_text), "%.12f (1 - %.2e)", worst, 1.0 - worst);
  MESSAGE("worst cosine " << worst_text << " on text " << worst_at << ": "
                          << g.texts[worst_at].substr(0, 60));

  // Alone, each text gets the same vector as in the batch (no padding, no cross-talk).
  double max_diff = 0;
  for (size_t i : {size_t{0}, size_t{66}, size_t{90}, size_t{99}}) {
    auto one = e.embed({g.texts[i]});
    REQUIRE(one.is_ok());
    for (int d = 0; d < 384; ++d) {
      max_diff =
          std::max(max_diff, std::abs(static_cast<double>((*one)[d]) - (*batched)[i * 384 + d]));
    }
  }
  INFO("max difference alone vs batched " << max_diff);
  CHECK(max_diff < 1e-5);
  CHECK(e.embed({}).value().empty());
}

TEST_CASE("embedder: a small token budget splits the batch and changes nothing") {
  const std::string model = test::model_path(kModelFile);
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " is missing (run `r1 models fetch all-minilm-l6-v2`)");
    return;
  }
  auto big = Embedder::open(model, {2, 8192});
  auto small = Embedder::open(model, {1, 300});
  REQUIRE(big.is_ok());
  REQUIRE(small.is_ok());
  const Golden g = load_golden();
  const std::vector<std::string> texts(g.texts.begin() + 85, g.texts.end());
  auto a = (*big)->embed(texts);
  auto b = (*small)->embed(texts);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  double max_diff = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>((*a)[i]) - (*b)[i]));
  }
  INFO("max difference " << max_diff);
  CHECK(max_diff < 1e-5);
}

TEST_CASE("bert: malformed metadata is a clear error naming the key or tensor") {
  CHECK(
      load_error(bert_metadata("bert.embedding_length")).message().find("bert.embedding_length") !=
      std::string::npos);
  CHECK(load_error(bert_metadata("bert.attention.layer_norm_epsilon"))
            .message()
            .find("bert.attention.layer_norm_epsilon") != std::string::npos);
  CHECK(load_error(bert_metadata("", "bert.attention.head_count", 7))
            .message()
            .find("bert.embedding_length 384 is not a multiple of bert.attention.head_count 7") !=
        std::string::npos);
  CHECK(load_error(bert_metadata("", "bert.block_count", 0)).message().find("bert.block_count") !=
        std::string::npos);
  CHECK(load_error(bert_metadata("", "sentence_transformers.max_seq_length", 513))
            .message()
            .find("sentence_transformers.max_seq_length = 513") != std::string::npos);
  const Status no_tensor = load_error(bert_metadata());
  CHECK(no_tensor.message().find("tensor token_embd.weight is missing") != std::string::npos);
  CHECK(no_tensor.message().find("bert.gguf") == 0);

  test::GgufBuilder llama;
  llama.add_string("general.architecture", "llama");
  const Status wrong_arch = load_error(llama.image());
  CHECK(wrong_arch.code() == StatusCode::kUnsupported);
  CHECK(wrong_arch.message().find("\"llama\", not \"bert\"") != std::string::npos);
}

TEST_CASE("embedder: a GGUF that is not a bert model fails to open with its path") {
  const std::string llm = test::model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!std::filesystem::exists(llm)) {
    MESSAGE("skipped: " << llm << " is missing");
    return;
  }
  auto e = Embedder::open(llm);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().message().find(llm) == 0);
}

}  // namespace r1
