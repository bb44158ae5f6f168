// Engine: a chat-level model. Messages and tools in; reasoning, answer and tool calls out, as
// events while they stream and as one ChatResult at the end.
//
// Two kinds sit behind this interface: NativeEngine (this repo's kernels on a local GGUF) and,
// later, RemoteEngine (an OpenAI-compatible server). The agent loop cannot tell them apart:
// thinking budgets, tool-call parsing and validation behave the same on both. An Engine runs one
// request at a time (calls must not overlap); make one per concurrent sequence.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/chat/chat_format.h"
#include "engine/generator.h"
#include "engine/sampler.h"

namespace r1 {

// The thinking budget: how many tokens the model may think before it must answer.
struct ThinkingParams {
  int32_t budget = -1;  // tokens of thinking per turn: -1 unlimited, 0 none (closed at once)
  int32_t grace = 24;   // tokens past the cap to wait for the end of a sentence
  // Injected at the cap, before the end-of-thinking delimiter; may be empty.
  std::string wrap_up = "Time is up, so I will answer now with what I have worked out so far.";
  int32_t min_thinking = 0;  // tokens: below this, an attempt to stop thinking becomes `wait_text`
  int32_t max_waits = 2;     // how many times `wait_text` may be injected per turn
  std::string wait_text = "Wait";
  // Tokens of max_tokens kept for the answer, which thinking cannot use; -1: a quarter of
  // max_tokens, at most 512.
  int32_t answer_reserve = -1;
};

// A piece of thinking that ends a sentence (trailing spaces ignored): where a thought capped by
// the budget may stop within its grace window. Both engines use this rule.
bool ends_sentence(std::string_view text);

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  ToolChoice tool_choice;
  int32_t max_tokens = 1024;  // generated tokens at most, thinking and forced tokens included
  SamplerParams sampling;
  ThinkingParams thinking;
  bool think = false;  // open thinking in the prompt even if the format does not (any model)
  bool keep_tool_call_reasoning = false;
  bool constrain_tool_calls = true;  // grammar-constrained arguments once a call opens
  // When set, the answer is constrained to a JSON value valid under this schema.
  std::optional<nlohmann::json> response_schema;
  bool require_answer = true;  // after thinking, the model cannot end before answering
};

struct ChatUsage {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;      // prompt tokens reused from the cache
  int64_t completion_tokens = 0;  // every generated token, forced ones included
  int64_t reasoning_tokens = 0;   // tokens inside thinking, delimiters and wrap-up included
};

struct ThinkingStats {
  int32_t effective_budget = -1;  // tokens: the cap after the answer reserve (-1: none)
  int32_t sampled_tokens = 0;     // thinking tokens the model chose (≤ budget + grace)
  int32_t forced_tokens = 0;      // wrap-up, delimiters and waits injected
  int32_t grace_tokens = 0;       // of sampled_tokens, those past the cap
  int32_t waits = 0;              // wait_text injections
  bool capped = false;            // thinking was ended by the budget
};

struct ChatResult {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;             // parsed and valid under the tools' schemas
  std::vector<ToolCallError> tool_call_errors;  // parsed or validated with an error
  std::string finish_reason;                    // "stop", "tool_calls", "length", "cancelled"
  ChatUsage usage;
  ThinkingStats thinking;
  GenerateTimings timings;
  std::string raw_output;  // everything generated, delimiters included
  std::string prompt;      // the rendered prompt
};

// Receives events as they happen; return false to cancel.
using ChatEventCallback = std::function<bool(const ChatEvent&)>;

class Engine {
 public:
  virtual ~Engine() = default;
  // Runs one assistant turn. kInvalidArgument for a request that cannot run (unknown named
  // tool, a schema the grammar cannot express, a prompt longer than the context).
  virtual Result<ChatResult> chat(const ChatRequest& request,
                                  const ChatEventCallback& on_event = {}) = 0;
  virtual std::string_view format_name() const = 0;
};

}  // namespace r1
