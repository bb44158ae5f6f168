// The native engine against llama.cpp: golden files written by scripts/make_golden_llama.py
// (llama-cpp-python) hold, per prompt, llama.cpp's prompt token ids, the 1024 largest
// first-step logits and a greedy continuation. The engine must tokenize identically, agree on
// those logits within a stated tolerance with the same top-1, and decode the same greedy tokens.
#include "engine/model.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "engine/model_store.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

nlohmann::json read_golden(const std::string& name) {
  std::ifstream in(test::source_path("tests/data/golden/" + name + ".json"));
  REQUIRE_MESSAGE(in.good(), "missing golden file " << name);
  return nlohmann::json::parse(in);
}

struct ParityReport {
  int cases = 0;
  int greedy_identical = 0;
  int top1_identical = 0;
  double max_abs_diff = 0.0;
};

// Runs every golden case of `golden_name` on the model at `model_path`.
ParityReport check_parity(const std::string& model_path, const std::string& golden_name,
                          double logit_tolerance, bool require_greedy, double near_tie = 0.0) {
  nlohmann::json g = read_golden(golden_name);
  Result<std::string> sum = sha256_file(model_path);
  REQUIRE_MESSAGE(sum.is_ok(), "cannot read " << model_path << ": run scripts/setup.sh");
  REQUIRE_MESSAGE(*sum == g["sha256"].get<std::string>(),
                  model_path << " is not the file the golden data was made from; rerun "
                                "scripts/make_golden_llama.py");
  Result<std::unique_ptr<Model>> model = load_model(model_path);
  REQUIRE_MESSAGE(model.is_ok(), model.status().message());
  const Model& m = **model;
  ThreadPool pool(2);
  Generator gen(m, pool, 512);

  ParityReport rep;
  for (const auto& c : g["cases"]) {
    const std::string prompt = c["prompt"];
    const auto golden_prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto golden_greedy = c["greedy_ids"].get<std::vector<int32_t>>();
    const auto top_ids = c["top_ids"].get<std::vector<int32_t>>();
    const auto top_logits = c["top_logits"].get<std::vector<float>>();
    const auto margins = c["greedy_margins"].get<std::vector<float>>();
    CAPTURE(prompt);

    // Tokenizer parity (BOS as the model asks, special tokens parsed, as the script did).
    std::vector<int32_t> ours = m.tokenizer().encode(prompt, m.tokenizer().add_bos(), true);
    CHECK(ours == golden_prompt);

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
    const int32_t our_top1 = argmax(r->first_logits.data(), m.config().n_vocab);
    size_t same = 0;
    while (same < r->ids.size() && same < golden_greedy.size() &&
           r->ids[same] == golden_greedy[same])
      ++same;
    const bool identical = r->ids == golden_greedy;
    MESSAGE(golden_name << ": max |logit diff| over llama.cpp's top-1024 = " << max_diff
                        << ", greedy "
                        << (identical ? std::string("identical")
                                      : "parts at step " + std::to_string(same) +
                                            " where llama.cpp's top-2 gap is " +
                                            std::to_string(margins[same])));
    CHECK(max_diff <= logit_tolerance);
    CHECK(our_top1 == top_ids[0]);
    if (require_greedy && !identical) {
      // Parting ways is only acceptable at a near-tie: where llama.cpp's own two best logits
      // are closer than the differences the two engines' arithmetic leaves.
      REQUIRE(same < margins.size());
      CHECK_MESSAGE(margins[same] <= near_tie,
                    "greedy parts at step " << same << " with gap " << margins[same]);
    }

    ++rep.cases;
    rep.greedy_identical += r->ids == golden_greedy;
    rep.top1_identical += our_top1 == top_ids[0];
    rep.max_abs_diff = std::max(rep.max_abs_diff, max_diff);
  }
  return rep;
}

}  // namespace

// SmolLM2-135M-Instruct against llama.cpp. Bit-identical output needs bit-identical float
// arithmetic in every op and summation order, which no second implementation has: with 8-bit
// activations a last-bit difference flips a rounding and grows through 30 layers. llama.cpp
// itself moves that far when only its evaluation order changes (prompt prefilled token by token
// instead of in one batch; the golden file records it as "self_consistency"). So r1 must agree
// with llama.cpp as closely as llama.cpp agrees with itself, within a factor of 2:
//   - top-1 of the first step identical on every prompt;
//   - first-step logits within 2x llama.cpp's own spread (Q4_1: 0.54, F16: 0.019);
//   - greedy continuations identical except where llama.cpp was at a near-tie (its two best
//     logits closer than that bound) at the step where they part. How many prompts part is
//     reported, not asserted: it swings with summation order (llama.cpp's own reordering
//     parts 6 of 12 Q4_1 continuations).
void check_against_self_consistency(const std::string& model_file, const std::string& golden) {
  nlohmann::json g = read_golden(golden);
  const double self_diff = g["self_consistency"]["max_logit_diff"].get<double>();
  const int self_differs = g["self_consistency"]["greedy_differs"].get<int>();
  const double bound = std::max(2.0 * self_diff, 1e-3);
  ParityReport rep = check_parity(test::model_path(model_file), golden, bound, true, bound);
  MESSAGE(golden << ": " << rep.greedy_identical << "/" << rep.cases
                 << " greedy identical (llama.cpp against itself: " << rep.cases - self_differs
                 << "/" << rep.cases << "), max first-step logit diff " << rep.max_abs_diff
                 << " (llama.cpp against itself: " << self_diff << ")");
  CHECK(rep.cases >= 10);
  CHECK(rep.top1_identical == rep.cases);
}

TEST_CASE("SmolLM2 Q4_1 agrees with llama.cpp as closely as llama.cpp agrees with itself") {
  check_against_self_consistency("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-q4_1");
}

TEST_CASE("SmolLM2 F16 agrees with llama.cpp as closely as llama.cpp agrees with itself") {
  check_against_self_consistency("SmolLM2-135M-Instruct.F16.gguf", "smollm2-f16");
}

// Tiny random-weight qwen2 models (scripts/make_tiny_models.py): QKV bias, NeoX rotary pairs,
// untied output, and every weight type. Their logits sit close together (random weights), so
// only the logits are held to a tolerance: 1e-3 for f32/f16, 1e-2 for bf16 and 8-bit
// activations (measured: f32 1e-4, f16 6e-4, bf16 6e-3, q8_0/q6_k below 1e-6), 5e-2 for the
// 4-bit types (measured 0.020 q4_0, 0.023 q4_1, 0.030 q4_k on one or two of the four prompts
// and below 1e-6 on the others: one flipped 8-bit activation rounding, see the SmolLM2 note).
TEST_CASE("tiny qwen2 models match llama.cpp logits for every weight type") {
  const std::pair<const char*, double> kTypes[] = {{"f32", 1e-3},  {"f16", 1e-3},  {"bf16", 1e-2},
                                                   {"q8_0", 1e-2}, {"q4_0", 5e-2}, {"q4_1", 5e-2},
                                                   {"q4_k", 5e-2}, {"q6_k", 1e-2}};
  for (const auto& [type, tol] : kTypes) {
    CAPTURE(type);
    ParityReport rep = check_parity(
        test::source_path(std::string("tests/data/models/tiny-qwen2.") + type + ".gguf"),
        std::string("tiny-qwen2-") + type, tol, false);
    MESSAGE("tiny-qwen2 " << std::string(type) << ": max diff " << rep.max_abs_diff
                          << ", greedy identical " << rep.greedy_identical << "/" << rep.cases);
    CHECK(rep.top1_identical == rep.cases);
  }
}

TEST_CASE("prefix reuse: a second request with the same prefix gives the same tokens") {
  Result<std::unique_ptr<Model>> model =
      load_model(test::model_path("SmolLM2-135M-Instruct.Q4_1.gguf"));
  REQUIRE_MESSAGE(model.is_ok(), model.status().message());
  ThreadPool pool(2);
  Generator warm(**model, pool, 256);
  Generator cold(**model, pool, 256);
  GenerateParams p;
  p.max_tokens = 16;
  p.sampling.temperature = 0.0f;
  auto a = warm.generate_text("The history of the printing press", p);
  REQUIRE(a.is_ok());
  auto b = warm.generate_text("The history of the printing press begins", p);
  auto c = cold.generate_text("The history of the printing press begins", p);
  REQUIRE(b.is_ok());
  REQUIRE(c.is_ok());
  CHECK(b->timings.cached_tokens > 0);
  CHECK(c->timings.cached_tokens == 0);
  CHECK(b->ids == c->ids);
}

TEST_CASE("a malformed or unsupported model file gives a clear error") {
  Result<std::unique_ptr<Model>> missing = load_model("/nonexistent/model.gguf");
  CHECK_FALSE(missing.is_ok());
  // A vocab-only GGUF has no weights: the error names the missing tensor.
  Result<std::unique_ptr<Model>> vocab_only =
      load_model(test::shared_path("reference/tokenizer/ggml-vocab-gpt-2.gguf"));
  REQUIRE_FALSE(vocab_only.is_ok());
  MESSAGE(vocab_only.status().message());
  CHECK(vocab_only.status().exit_code() == 2);
}

}  // namespace r1
