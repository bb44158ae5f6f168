// NativeEngine: the Engine on this repo's own kernels, over one loaded Model.
//
// Per request it renders the conversation with the model's ChatFormat, reuses the cached
// prefix, and decodes with, in order: the thinking budget (count thinking tokens per turn; at
// the cap wait up to `grace` tokens for a sentence end, then inject the wrap-up and the
// end-of-thinking delimiter token by token), the tool-call grammar (lazily once a call opener
// appears, at once for tool_choice required/named or a response schema), then the sampler.
// The OutputParser sees every token, forced ones included, so its state never drifts.
// Owns its Generator (KV cache); borrows the Model and ThreadPool, which must outlive it, and
// the optional ServingContext (batch scheduler, prefix cache), which must too. With a prefix
// cache the prompt's blocks are stored after prefill and the whole turn's at the end of chat(),
// so the next request that extends this conversation restores it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/grammar.h"
#include "engine/model.h"

namespace r1 {

class NativeEngine : public Engine {
 public:
  // format_name empty: detect from the GGUF's chat template and vocabulary. Fails on an unknown
  // format name or a model whose format cannot be told.
  static Result<std::unique_ptr<NativeEngine>> create(const Model& model, ThreadPool& pool,
                                                      int64_t n_ctx,
                                                      std::string_view format_name = "",
                                                      ServingContext serving = {});

  Result<ChatResult> chat(const ChatRequest& request,
                          const ChatEventCallback& on_event = {}) override;
  // The errors chat() would return before generating anything (bad tool choice, a schema the
  // grammar cannot express, a prompt that does not fit in the context), without running the
  // model: a server checks a streamed request with it before it sends a status line.
  Status check_request(const ChatRequest& request) const;
  std::string_view format_name() const override { return format_->name(); }
  const ChatFormat& format() const { return *format_; }
  Generator& generator() { return generator_; }

 private:
  // The rendered prompt, its tokens and the grammars of one request.
  struct Prepared {
    std::string prompt;
    std::vector<int32_t> prompt_ids;
    bool starts_in_thinking = false;
    std::optional<ToolCallGrammar> tool_grammar;
    Grammar answer_grammar;
  };
  Result<Prepared> prepare(const ChatRequest& request) const;

  NativeEngine(const Model& model, ThreadPool& pool, int64_t n_ctx,
               std::unique_ptr<ChatFormat> format, ServingContext serving);

  const Model& model_;
  std::unique_ptr<ChatFormat> format_;
  Generator generator_;
  TokenIndex token_index_;
  std::vector<int32_t> end_of_generation_ids_;
};

}  // namespace r1
