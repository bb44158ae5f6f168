// Sampler: picks the next token from logits.
//
// The chain, in order: repetition/presence/frequency penalties over the last `penalty_last_n`
// tokens, then (unless greedy) top-k, top-p, min-p, temperature, and a draw from a seeded
// generator. temperature <= 0 is greedy (argmax, lowest id on ties). The same seed and inputs
// give the same tokens. Not thread-safe: one Sampler per sequence.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <vector>

namespace r1 {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off; divides positive logits, multiplies negative ones
  float presence_penalty = 0.0f;   // subtracted once per token seen
  float frequency_penalty = 0.0f;  // subtracted per occurrence
  int32_t penalty_last_n = 64;     // tokens of history the penalties look at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);

  // Chooses a token from logits (n_vocab); may modify logits in place. Records nothing: call
  // accept() with the token actually emitted (which may be a forced one).
  int32_t sample(float* logits, int64_t n_vocab);
  // Samples among the tokens `allowed` accepts (grammar-constrained decoding). Draws as
  // sample() does; a rejected draw removes that token and draws again, which for greedy
  // decoding is exactly the best allowed token. After a few rejections it asks `fill_mask` for
  // the whole allowed set (mask[id] = 1) and samples from that. `logits` is left unchanged.
  // Returns -1 when no token is allowed.
  int32_t sample_constrained(const float* logits, int64_t n_vocab,
                             const std::function<bool(int32_t)>& allowed,
                             const std::function<void(std::vector<uint8_t>&)>& fill_mask);
  void accept(int32_t token);
  void reset_history() { history_.clear(); }
  const SamplerParams& params() const { return params_; }

 private:
  void apply_penalties(float* logits, int64_t n_vocab) const;
  int32_t sample_penalized(float* logits, int64_t n_vocab);  // sample() after the penalties

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  struct Candidate {
    int32_t id;
    float logit;
  };
  std::vector<Candidate> candidates_;
  std::vector<float> scratch_logits_;  // (n_vocab) working copy for sample_constrained
  std::vector<float> penalized_;       // (n_vocab) penalized logits, for the masked draw
  std::vector<uint8_t> mask_;          // (n_vocab) 1 = allowed
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace r1
