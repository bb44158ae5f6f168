// RemoteEngine: the Engine interface over an OpenAI-compatible chat-completions server (vLLM,
// SGLang, llama.cpp server, llama-cpp-python, Ollama, DeepSeek API).
//
// Each chat() streams POST {base_url}/chat/completions (stream=true) and turns the server's
// deltas into the same events and ChatResult the native engine produces: `reasoning_content` /
// `reasoning` deltas and `<think>`...`</think>` inside content are reasoning; `tool_calls`
// deltas are accumulated by index and validated against the request's tools when the stream
// ends. The thinking budget is enforced here, client-side: reasoning is counted as it arrives,
// and at the cap the stream is cut and a second request asks for the answer with the reasoning
// closed (see ContinuationMode). Token counts are approximate where the server does not report
// them: one streamed delta is one token (true of vLLM, SGLang, llama.cpp and llama-cpp-python,
// which send a delta per sampled token).
//
// A RemoteEngine owns its options and no connection between calls; like every Engine it runs
// one request at a time (calls must not overlap). It does not render prompts: the server applies
// the model's chat template.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace r1 {

// How the answer is requested after the thinking budget cut the reasoning short.
enum class ContinuationMode {
  // Portable, works on every server (and the one that works on llama-cpp-python's server, which
  // renders a trailing assistant message as a closed turn): the conversation gets an assistant
  // message holding the reasoning so far plus the wrap-up, then a user message asking for the
  // final answer without more thinking; `chat_template_kwargs: {enable_thinking: false}` is
  // sent for templates that honour it (Qwen3-style). The answer is a fresh turn, not the same
  // one continued.
  kRestate,
  // vLLM and SGLang: the messages end with an assistant message "<think>\nREASONING\n\nWRAP_UP
  // \n</think>\n\n" and the request carries `continue_final_message: true,
  // add_generation_prompt: false`, so the model continues its own turn after `</think>`.
  kContinueFinalMessage,
  // llama.cpp's own server (llama-server) and Ollama: a trailing assistant message is a prefill
  // the model continues; same message as above, no extra flags.
  kTrailingAssistant,
};

// How ChatRequest::response_schema is sent.
enum class ResponseFormatStyle {
  // OpenAI, vLLM, SGLang, llama-server:
  // {"type": "json_schema", "json_schema": {"name": "response", "schema": S, "strict": true}}.
  kJsonSchema,
  // llama-cpp-python: {"type": "json_object", "schema": S}.
  kJsonObjectSchema,
};

struct RemoteOptions {
  std::string base_url;  // "http://127.0.0.1:8000/v1"; https needs the TLS-enabled cpp-httplib
  std::string model;     // sent as "model" unless empty (single-model servers ignore it)
  std::string api_key;   // sent as "Authorization: Bearer KEY" unless empty
  int32_t connect_timeout_s = 10;  // s
  int32_t read_timeout_s = 600;    // s: the longest silence between two reads of the stream
  ContinuationMode continuation = ContinuationMode::kRestate;
  ResponseFormatStyle response_format = ResponseFormatStyle::kJsonSchema;
  // Top-level keys merged into every request body last (they win), e.g. chat_template_kwargs,
  // repetition_penalty, a server's grammar field.
  nlohmann::json extra_body = nlohmann::json::object();
  // ChatRequest::think under kRestate, where no prefill exists: send a GBNF `grammar` member
  // (llama-server, llama-cpp-python) that makes the output start with "<think>\n", so any model
  // opens thinking and the budget applies. Not sent when tools or a response schema already
  // constrain the output. Prefill modes open thinking with a "<think>\n" prefill instead.
  bool think_with_grammar = false;
  size_t max_line_bytes = size_t{1} << 20;       // bytes of one SSE line
  size_t max_response_bytes = size_t{64} << 20;  // bytes of one response body
  bool verify_tls = true;                        // https: check the server certificate
  std::string ca_cert_path;                      // https: a CA bundle; "" = the system store
};

class RemoteEngine : public Engine {
 public:
  // Checks the options (scheme http or https, a host, positive timeouts); contacts nothing.
  // kInvalidArgument naming the option at fault; kUnsupported for https when cpp-httplib was
  // built without TLS.
  static Result<std::unique_ptr<RemoteEngine>> create(RemoteOptions options);

  // One assistant turn. Errors: kInvalidArgument for a request that cannot be sent (a named
  // tool that is not in the list, a role the API has no form for); kIoError when the server
  // cannot be reached, times out, answers a non-2xx status ("HTTP 500 from POST
  // http://.../chat/completions: MESSAGE") or sends an `error` object in the stream;
  // kInvalidArgument when the stream is malformed (a line over the limit, a chunk that is not
  // JSON or has a wrong type in a known field), naming the byte offset or the field.
  // A callback returning false aborts the read: the result so far, finish_reason "cancelled".
  // Result fields: `prompt` is the first request's JSON body (the server renders the prompt);
  // usage.prompt_tokens sums the passes' server-reported prompts (0 when never reported);
  // completion_tokens is the server's count per pass when it reports usage, else one per delta,
  // plus the forced close (≈ 4 bytes a token); reasoning_tokens is the server's
  // completion_tokens_details.reasoning_tokens on an uncut single pass, else counted here (one
  // reasoning delta = one token, plus the forced wrap-up and close); timings.decode_ms is the
  // whole exchange.
  Result<ChatResult> chat(const ChatRequest& request,
                          const ChatEventCallback& on_event = {}) override;
  std::string_view format_name() const override { return "openai-remote"; }

  const RemoteOptions& options() const { return options_; }

 private:
  explicit RemoteEngine(RemoteOptions options);
  struct Url {
    std::string scheme_host_port;  // "http://127.0.0.1:8000"
    std::string path_prefix;       // "/v1" (no trailing slash)
  };
  RemoteOptions options_;
  Url url_;
};

// ---- the wire format, exposed for tests and the fuzzer ----------------------------------------
namespace remote_detail {

// The request body for one pass (stream=true), without continuation messages or extra_body.
// kInvalidArgument as chat() describes.
Result<nlohmann::json> build_request_body(const ChatRequest& request, const RemoteOptions& options);

struct ToolCallDelta {
  int64_t index = 0;  // which call this piece belongs to
  std::string id;
  std::string name;
  std::string arguments;  // a piece of the arguments JSON text
};

// What one `data:` chunk of the stream says (the first choice; n=1 is always requested).
struct ChunkDelta {
  std::string reasoning;  // delta.reasoning_content, else delta.reasoning
  std::string content;    // delta.content
  std::vector<ToolCallDelta> tool_calls;
  std::string finish_reason;  // "" when the chunk has none
  bool has_usage = false;
  int64_t prompt_tokens = 0;         // usage.prompt_tokens
  int64_t completion_tokens = 0;     // usage.completion_tokens
  int64_t cached_tokens = 0;         // usage.prompt_tokens_details.cached_tokens
  int64_t reasoning_tokens = -1;     // usage.completion_tokens_details.reasoning_tokens; -1 absent
  std::optional<std::string> error;  // the server's message from an `error` member
};

// Decodes one chunk's JSON text. null is the same as absent and unknown members are ignored;
// text that is not a JSON object, or a known member of the wrong type, is kInvalidArgument
// naming the member ("choices[0].delta.content: expected a string, got number").
Result<ChunkDelta> decode_chunk(std::string_view data);

// Tool calls assembled from deltas by index: the first non-empty id and name win (servers that
// repeat them in every delta, as llama-cpp-python does, are not concatenated), arguments are
// concatenated. At most 128 calls and 16 MiB of arguments per stream.
class ToolCallAccumulator {
 public:
  Status add(const ToolCallDelta& delta);
  // The calls in index order; a call without an id gets "call_N" (N its position).
  std::vector<ToolCall> calls() const;
  bool empty() const { return calls_.empty(); }

 private:
  std::map<int64_t, ToolCall> calls_;
  size_t argument_bytes_ = 0;
};

// The finish_reason the Engine contract uses: "stop", "length", "tool_calls", or the server's
// own word for anything else ("content_filter").
std::string map_finish_reason(std::string_view server_reason);

}  // namespace remote_detail

}  // namespace r1
