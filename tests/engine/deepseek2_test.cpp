// The `deepseek2` architecture (DeepSeek V2/V3/R1: multi-head latent attention and a mixture
// of experts) against llama.cpp. The tiny random-weight models in tests/data/models come from
// scripts/make_tiny_deepseek2.py, one per combination of options llama.cpp's converter writes;
// scripts/make_deepseek2_golden.py recorded llama.cpp's tokens, whole first-step logit vector
// and greedy continuation for each prompt in tests/data/golden/deepseek2_*.json.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "engine/model.h"
#include "engine/model_store.h"
#include "engine/sampler.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

std::string tiny_path(const std::string& name) {
  return test::source_path("tests/data/models/" + name + ".gguf");
}

nlohmann::json read_golden(const std::string& name) {
  std::ifstream in(test::source_path("tests/data/golden/deepseek2_" + name + ".json"));
  REQUIRE_MESSAGE(in.good(), "missing golden file for " << name);
  return nlohmann::json::parse(in);
}

struct Parity {
  int cases = 0;
  int greedy_identical = 0;
  double max_abs_diff = 0.0;
};

// Every golden case of `name`: identical prompt tokens, the whole first-step logit vector within
// `tolerance`, the same top-1, and the greedy continuation identical up to where llama.cpp's own
// two best logits were closer than `near_tie` (there the two engines' last-bit differences may
// pick either).
Parity check_parity(const std::string& name, double tolerance, double near_tie,
                    bool require_greedy) {
  nlohmann::json g = read_golden(name);
  const std::string path = tiny_path(name);
  Result<std::string> sum = sha256_file(path);
  REQUIRE_MESSAGE(sum.is_ok(), "cannot read " << path);
  REQUIRE_MESSAGE(*sum == g["sha256"].get<std::string>(),
                  path << " is not the file the golden data was made from; rerun "
                          "scripts/make_tiny_deepseek2.py and scripts/make_deepseek2_golden.py");
  Result<std::unique_ptr<Model>> model = load_model(path);
  REQUIRE_MESSAGE(model.is_ok(), model.status().message());
  const Model& m = **model;
  REQUIRE(m.config().n_vocab == g["n_vocab"].get<int64_t>());
  ThreadPool pool(2);
  Generator gen(m, pool, 512);

  Parity rep;
  for (const auto& c : g["cases"]) {
    const std::string prompt = c["prompt"];
    const auto golden_prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto golden_greedy = c["greedy_ids"].get<std::vector<int32_t>>();
    const auto top_ids = c["top_ids"].get<std::vector<int32_t>>();
    const auto top_logits = c["top_logits"].get<std::vector<float>>();
    const auto margins = c["greedy_margins"].get<std::vector<float>>();
    CAPTURE(prompt);
    REQUIRE(static_cast<int64_t>(top_ids.size()) == m.config().n_vocab);  // the whole vector

    // The deepseek-v3 pre-tokenizer and R1's special tokens, as llama.cpp splits them.
    CHECK(m.tokenizer().encode(prompt, m.tokenizer().add_bos(), true) == golden_prompt);

    GenerateParams params;
    params.max_tokens = static_cast<int32_t>(golden_greedy.size());
    params.sampling.temperature = 0.0f;
    Result<GenerateResult> r = gen.generate(golden_prompt, params, {}, /*keep_first_logits=*/true);
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());

    double max_diff = 0.0;
    for (size_t i = 0; i < top_ids.size(); ++i) {
      max_diff = std::max(
          max_diff, std::fabs(static_cast<double>(r->first_logits[top_ids[i]]) - top_logits[i]));
    }
    size_t same = 0;
    while (same < r->ids.size() && same < golden_greedy.size() &&
           r->ids[same] == golden_greedy[same]) {
      ++same;
    }
    const bool identical = r->ids == golden_greedy;
    MESSAGE(name << ": max |logit diff| " << max_diff << ", greedy "
                 << (identical
                         ? std::string("identical")
                         : "parts at step " + std::to_string(same) +
                               " where llama.cpp's top-2 gap is " + std::to_string(margins[same])));
    CHECK(max_diff <= tolerance);
    CHECK(argmax(r->first_logits.data(), m.config().n_vocab) == top_ids[0]);
    if (require_greedy && !identical) {
      REQUIRE(same < margins.size());
      CHECK_MESSAGE(margins[same] <= near_tie,
                    "greedy parts at step " << same << " with gap " << margins[same]);
    }
    ++rep.cases;
    rep.greedy_identical += identical;
    rep.max_abs_diff = std::max(rep.max_abs_diff, max_diff);
  }
  return rep;
}

}  // namespace

// Tolerances, against what llama.cpp's own evaluation order moves (prompt token by token instead
// of one batch, recorded in each golden file):
//   tiny-ds3.f32 (split attn_k_b/attn_v_b, the layout llama.cpp itself runs as MLA): 1e-3;
//     measured 8e-5, llama.cpp against itself 2e-4.
//   tiny-ds2-lite.f32 and tiny-ds3-legacy.f16 (unsplit attn_kv_b): llama.cpp decompresses it into
//     full per-head keys and values (f32 products rounded to f16 in its cache) where r1 absorbs it
//     into the query against the f16 latent: the same mathematics rounded at other points, 1e-2;
//     measured 3e-3 for both.
//   tiny-ds3.q8_0: 8-bit activations on both sides, 5e-2; measured 0.023, llama.cpp against
//     itself 0.017.
// Greedy continuations must be identical except at a near-tie of 2x the tolerance. For Q8_0 they
// are reported, not asserted: on the long prompt the third decode step routes layer 2 between two
// experts whose biased scores differ by 7e-7, far below the 8-bit rounding both engines do, so
// either engine's last bits pick the expert (every earlier step agrees, 3 of 4 prompts agree to
// the end).
TEST_CASE("deepseek2: tiny models of every layout match llama.cpp's logits and greedy tokens") {
  struct Case {
    const char* name;
    double tolerance;
    bool require_greedy;
  };
  const Case kModels[] = {{"tiny-ds2-lite.f32", 1e-2, true},
                          {"tiny-ds3.f32", 1e-3, true},
                          {"tiny-ds3-legacy.f16", 1e-2, true},
                          {"tiny-ds3.q8_0", 5e-2, false}};
  for (const Case& m : kModels) {
    CAPTURE(m.name);
    Parity rep = check_parity(m.name, m.tolerance, 2 * m.tolerance, m.require_greedy);
    MESSAGE(std::string(m.name) << ": max first-step logit diff " << rep.max_abs_diff
                                << " (tolerance " << m.tolerance << "), greedy identical "
                                << rep.greedy_identical << "/" << rep.cases);
    CHECK(rep.cases == 4);
    CHECK(rep.greedy_identical >= 3);
  }
}

TEST_CASE("deepseek2: reads the MLA and MoE hyper-parameters") {
  Result<std::unique_ptr<Model>> model = load_model(tiny_path("tiny-ds3.f32"));
  REQUIRE_MESSAGE(model.is_ok(), model.status().message());
  const ModelConfig& c = (*model)->config();
  CHECK(c.arch == "deepseek2");
  CHECK(c.n_layer == 3);
  CHECK(c.n_head == 4);
  CHECK(c.head_dim == 48);  // key_length_mla: nope 32 + rope 16
  CHECK(c.rope_dims == 16);
  CHECK(c.rope_freq_scale == doctest::Approx(0.25));  // YaRN factor 4
  // Per decode step only 2 of the 8 routed experts are read.
  const GgufFile& f = (*model)->gguf();
  uint64_t all = 0;
  for (const auto& t : f.tensors()) {
    if (t.name != "token_embd.weight") all += t.n_bytes;
  }
  CHECK((*model)->bytes_per_token() < all);
}

// The cache keeps, per token and layer, the normalised latent (kv_lora_rank) and the rotated key
// part (rope dimensions) in f16: n_layer * (kv_lora_rank + rope) * 2 bytes per token. For R1
// that is 61 * (512 + 64) * 2 = 70,272 bytes, where full keys and values of 128 heads would take
// 61 * 128 * (192 + 128) * 2 = 4,997,120.
TEST_CASE("deepseek2: the KV cache holds one latent row per token and layer") {
  for (const char* name : {"tiny-ds2-lite.f32", "tiny-ds3.f32", "tiny-ds3-legacy.f16"}) {
    CAPTURE(name);
    Result<std::unique_ptr<Model>> model = load_model(tiny_path(name));
    REQUIRE_MESSAGE(model.is_ok(), model.status().message());
    const Model& m = **model;
    const uint64_t per_token = 3 * (32 + 16) * 2;  // n_layer * (kv_lora_rank + rope) * f16
    CHECK(m.kv_cache_bytes(1) == per_token);
    CHECK(m.kv_cache_bytes(1000) == 1000 * per_token);
    std::unique_ptr<KvCache> kv = m.make_kv_cache(1000);
    CHECK(kv->bytes() == 1000 * per_token);
    CHECK(kv->kv_dim() == 48);
    CHECK(kv->v_dim() == 0);
  }
}

// Decoding one token at a time must give what one batch gives: the absorbed-query attention over
// the cached latents is the same computation for a prefill block and for a single token.
TEST_CASE("deepseek2: token-by-token decoding matches one batch") {
  Result<std::unique_ptr<Model>> model = load_model(tiny_path("tiny-ds3.f32"));
  REQUIRE_MESSAGE(model.is_ok(), model.status().message());
  const Model& m = **model;
  ThreadPool pool(2);
  const std::vector<int32_t> ids =
      m.tokenizer().encode("the cat sat on the mat and then", true, true);
  const int64_t V = m.config().n_vocab;
  auto batch_kv = m.make_kv_cache(64);
  auto batch_scratch = m.make_scratch();
  std::vector<float> batch(static_cast<size_t>(ids.size() * V));
  REQUIRE(m.forward(pool, ids.data(), static_cast<int64_t>(ids.size()), *batch_kv, *batch_scratch,
                    batch.data(), true)
              .is_ok());
  auto kv = m.make_kv_cache(64);
  auto scratch = m.make_scratch();
  std::vector<float> one(static_cast<size_t>(V));
  double max_diff = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    REQUIRE(m.forward(pool, &ids[i], 1, *kv, *scratch, one.data()).is_ok());
    for (int64_t v = 0; v < V; ++v) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(one[v] - batch[i * V + v])));
    }
  }
  // Only summation order and the f16 rounding of queries and probabilities differ: measured
  // 2e-4, as llama.cpp moves against itself on this model.
  MESSAGE("max |batch - token by token| = " << max_diff);
  CHECK(max_diff < 1e-3);
  CHECK(kv->n_past() == static_cast<int64_t>(ids.size()));
}

namespace {

// A copy of a tiny deepseek2 file with bytes changed in place: a u32 metadata value, or a tensor
// name (same length, so every offset stays valid). The loader, not the GGUF reader, must object.
class PatchedFile {
 public:
  explicit PatchedFile(const std::string& src) {
    std::ifstream in(tiny_path(src), std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    REQUIRE(!bytes_.empty());
  }
  void set_u32(const std::string& key, uint32_t value) {
    const size_t at = find(key) + key.size();
    uint32_t type = 0;
    std::memcpy(&type, bytes_.data() + at, 4);
    REQUIRE_MESSAGE(type == 4, key << " is not stored as u32");
    std::memcpy(bytes_.data() + at + 4, &value, 4);
  }
  void rename(const std::string& from, const std::string& to) {
    REQUIRE(from.size() == to.size());
    std::memcpy(bytes_.data() + find(from), to.data(), to.size());
  }
  std::string write(const std::string& name) const {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("r1_ds2_" + name + ".gguf")).string();
    std::ofstream out(path, std::ios::binary);
    out.write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
    return path;
  }

 private:
  size_t find(const std::string& s) const {
    const auto it = std::search(bytes_.begin(), bytes_.end(), s.begin(), s.end());
    REQUIRE_MESSAGE(it != bytes_.end(), s << " not found");
    return static_cast<size_t>(it - bytes_.begin());
  }
  std::string bytes_;
};

Status load_error(const PatchedFile& f, const std::string& name) {
  Result<std::unique_ptr<Model>> m = load_model(f.write(name));
  REQUIRE_FALSE(m.is_ok());
  MESSAGE(m.status().message());
  return m.status();
}

}  // namespace

TEST_CASE("deepseek2: malformed metadata and missing tensors give clear errors") {
  SUBCASE("more experts used than exist") {
    PatchedFile f("tiny-ds3.f32");
    f.set_u32("deepseek2.expert_used_count", 9);
    Status st = load_error(f, "used");
    CHECK(st.message().find("expert_used_count = 9 exceeds deepseek2.expert_count = 8") !=
          std::string::npos);
    CHECK(st.exit_code() == 2);
  }
  SUBCASE("a missing expert tensor") {
    PatchedFile f("tiny-ds3.f32");
    f.rename("blk.2.ffn_down_exps.weight", "blk.2.ffn_down_exps.weighX");
    Status st = load_error(f, "missing");
    CHECK(st.message().find("missing tensor 'blk.2.ffn_down_exps.weight'") != std::string::npos);
    CHECK(st.exit_code() == 2);
  }
  SUBCASE("expert groups that do not divide the experts") {
    PatchedFile f("tiny-ds3.f32");
    f.set_u32("deepseek2.expert_group_count", 3);
    Status st = load_error(f, "groups");
    CHECK(st.message().find("expert groups do not fit") != std::string::npos);
  }
  SUBCASE("an unknown gating function") {
    PatchedFile f("tiny-ds3.f32");
    f.set_u32("deepseek2.expert_gating_func", 7);
    Status st = load_error(f, "gating");
    CHECK(st.message().find("expert_gating_func = 7") != std::string::npos);
  }
  SUBCASE("a key head no wider than its rotary part") {
    PatchedFile f("tiny-ds3.f32");
    f.set_u32("deepseek2.attention.key_length_mla", 16);
    Status st = load_error(f, "keylen");
    CHECK(st.message().find("rope.dimension_count = 16 must be even and below") !=
          std::string::npos);
  }
}

}  // namespace r1
