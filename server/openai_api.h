// The OpenAI-compatible request and response shapes of `r1 serve`, apart from any socket.
//
// parse_*() turn a request body into engine requests and reject what cannot run with an
// OpenAI-style error (HTTP status, type, message, the parameter at fault). Nothing here
// throws on input: every field is type-checked before use, so a fuzzer can feed any bytes.
// The *_json() builders write responses and stream chunks the way the official clients read
// them (reasoning in `reasoning_content`, before `content`; tool calls by `index`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace r1::server {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // the request field at fault ("" when none)
  std::string code;   // e.g. "model_not_found", "invalid_api_key" ("" when none)
  nlohmann::json to_json() const;
};

ApiError bad_request(std::string message, std::string param = "");

// Bounds a request must stay within; the server fills them from its configuration.
struct RequestLimits {
  int64_t max_tokens = 4096;     // generated tokens per request at most (and the default)
  int64_t max_messages = 1024;   // messages per chat request
  int64_t max_stop = 4;          // stop strings
  int64_t max_stop_bytes = 256;  // per stop string
  int64_t max_embedding_inputs = 2048;
};

struct ChatCompletionRequest {
  std::string model;
  ChatRequest chat;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool parallel_tool_calls = true;
  std::vector<std::string> stop;  // on the answer (content)
};

struct CompletionRequest {
  std::string model;
  std::string prompt;
  int32_t max_tokens = 16;
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> input;
  bool base64 = false;  // encoding_format "base64": little-endian f32, base64
  std::optional<int64_t> dimensions;
};

// Each returns nullopt and fills `out`, or the error to send.
std::optional<ApiError> parse_chat_completion(std::string_view body, const RequestLimits& limits,
                                              ChatCompletionRequest* out);
std::optional<ApiError> parse_completion(std::string_view body, const RequestLimits& limits,
                                         CompletionRequest* out);
std::optional<ApiError> parse_embedding(std::string_view body, const RequestLimits& limits,
                                        EmbeddingRequest* out);

// The budget `reasoning_effort` stands for: "minimal"/"none" 0, "low" 256, "medium" 1024,
// "high" 4096 thinking tokens; nullopt for anything else.
std::optional<int32_t> reasoning_effort_budget(std::string_view effort);

// OpenAI finish_reason for an engine's ("cancelled" by a stop string reads as "stop").
std::string finish_reason_for(const std::string& engine_reason, bool stopped_by_string);

nlohmann::json usage_json(const ChatUsage& usage);
nlohmann::json tool_call_json(const ToolCall& call);
// A whole (non-streamed) chat.completion.
nlohmann::json chat_completion_json(const std::string& id, int64_t created,
                                    const std::string& model, const ChatResult& result,
                                    const std::string& finish_reason);
// One chat.completion.chunk with the given delta (and finish_reason when non-empty).
nlohmann::json chat_chunk_json(const std::string& id, int64_t created, const std::string& model,
                               nlohmann::json delta, const std::string& finish_reason = "");

// Holds back answer text that could still grow into a stop string, and cuts the answer where
// one begins. push() returns the text that is safe to send now; stopped() once a stop string
// was seen (everything after it is dropped); finish() returns what was held back.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops);
  std::string push(std::string_view text);
  std::string finish();
  bool stopped() const { return stopped_; }
  const std::string& text() const { return text_; }  // the answer so far, cut at a stop

 private:
  std::vector<std::string> stops_;
  size_t max_len_ = 0;
  std::string text_;
  size_t sent_ = 0;
  bool stopped_ = false;
};

// Rewrites ids such as "call_0" into ones unique across requests ("call_<prefix>_0").
std::string unique_call_id(const std::string& request_id, const std::string& call_id);

// Standard base64 of bytes (embeddings with encoding_format "base64").
std::string base64_encode(const void* data, size_t n);

}  // namespace r1::server
