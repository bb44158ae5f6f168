// Generator: prefill a prompt and decode tokens from a Model, streaming text as it comes.
//
// Owns one sequence's state: its KV cache, scratch buffers and sampler. The prefix of the
// previous request that matches the new prompt stays in the cache and is not recomputed (a
// chat re-sends its history every turn). Not thread-safe: one Generator per sequence; several
// may share a Model and a ThreadPool if calls do not overlap, or run at once from many threads
// when they share a BatchScheduler (which then owns the pool).
//
// Serving (ServingContext): with a scheduler every forward pass goes through it, so concurrent
// Generators decode in shared batched steps; with a prefix cache, prefill() also restores the
// longest prefix other sequences stored there and stores the prompt's blocks after computing
// them, and store_prefix() stores what the cache holds at the end of a request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/batch_scheduler.h"
#include "engine/model.h"
#include "engine/prefix_cache.h"
#include "engine/sampler.h"

namespace r1 {

struct GenerateParams {
  int32_t max_tokens = 128;  // tokens to generate at most
  SamplerParams sampling;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  bool stop_at_end_of_generation = true;
};

struct GenerateTimings {
  int64_t prompt_tokens = 0;  // tokens prefilled (after prefix reuse)
  int64_t cached_tokens = 0;  // prompt tokens reused: this sequence's cache or the prefix cache
  int64_t generated_tokens = 0;
  double prefill_ms = 0.0;
  double decode_ms = 0.0;  // from the first sampled token to the last
  double prefill_tok_s() const { return prefill_ms > 0 ? prompt_tokens * 1000.0 / prefill_ms : 0; }
  double decode_tok_s() const {
    return decode_ms > 0 && generated_tokens > 1 ? (generated_tokens - 1) * 1000.0 / decode_ms : 0;
  }
};

enum class StopReason { kLength, kEndOfGeneration, kStopString, kContextFull, kCancelled };
const char* stop_reason_name(StopReason r);

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;  // generated ids (including an end-of-generation token)
  std::string text;          // generated text, stop string and end token excluded
  StopReason stop_reason = StopReason::kLength;
  GenerateTimings timings;
  std::vector<float> first_logits;  // logits of the first step, when keep_first_logits
};

// Receives each newly completed piece of text; return false to stop.
using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

// Shared serving machinery a Generator may use; both borrowed, both optional, both must
// outlive the Generator and be built for the same Model.
struct ServingContext {
  BatchScheduler* scheduler = nullptr;
  PrefixCache* prefix_cache = nullptr;
};

class Generator {
 public:
  Generator(const Model& model, ThreadPool& pool, int64_t n_ctx, ServingContext serving = {});

  // Generates from already tokenized input. Fails on a prompt longer than the context.
  Result<GenerateResult> generate(const std::vector<int32_t>& prompt_ids,
                                  const GenerateParams& params, const TokenCallback& on_piece = {},
                                  bool keep_first_logits = false);
  // Tokenizes `prompt` (special tokens parsed, BOS added when the model wants it) and generates.
  Result<GenerateResult> generate_text(const std::string& prompt, const GenerateParams& params,
                                       const TokenCallback& on_piece = {});

  // Step-wise use (the chat engine drives decoding itself):
  // prefill() makes the cache hold `prompt_ids` (reusing the longest cached prefix, always
  // recomputing at least the last token) and leaves that token's logits in logits(); append()
  // feeds more tokens and leaves the last one's logits. On failure the cache keeps only what
  // was computed. timings, when given, gets prompt_tokens, cached_tokens and prefill_ms.
  Status prefill(const std::vector<int32_t>& prompt_ids, GenerateTimings* timings = nullptr);
  Status append(const int32_t* ids, int64_t n);
  // Stores the whole blocks of the tokens this sequence's cache holds in the shared prefix
  // cache (none without one), so the next request that starts with them (the next step of an
  // agent, with this turn appended) restores them. generate() calls it before returning.
  void store_prefix();
  float* logits() { return logits_.data(); }  // (n_vocab) f32, of the last token fed
  int64_t n_past() const { return kv_->n_past(); }

  const Model& model() const { return model_; }
  int64_t n_ctx() const { return kv_->n_ctx(); }
  const KvCache& kv_cache() const { return *kv_; }

 private:
  Status forward(const int32_t* ids, int64_t n);  // through the scheduler when there is one

  const Model& model_;
  ThreadPool& pool_;
  ServingContext serving_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<ForwardScratch> scratch_;
  std::vector<int32_t> cached_ids_;  // tokens whose keys/values are in kv_
  std::vector<float> logits_;        // (n_vocab)
};

}  // namespace r1
