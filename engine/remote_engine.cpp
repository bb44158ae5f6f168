// RemoteEngine over the OpenAI chat-completions streaming protocol.
//
// Request: POST {base}/chat/completions, Content-Type application/json,
//   Authorization: Bearer KEY (when set), body:
//   {"model": M, "stream": true, "stream_options": {"include_usage": true},
//    "messages": [{"role": "system"|"user", "content": S}
//                 | {"role": "assistant", "content": S|null, "reasoning_content": S (kept only
//                    with keep_tool_call_reasoning on a turn that made calls),
//                    "tool_calls": [{"id", "type": "function", "function": {"name", "arguments"}}]}
//                 | {"role": "tool", "tool_call_id": ID, "content": S}],
//    "tools": [{"type": "function", "function": {"name", "description", "parameters"}}],
//    "tool_choice": "auto"|"none"|"required"|{"type": "function", "function": {"name": N}},
//    "max_tokens": N, "temperature", "top_p", "top_k", "min_p", "seed",
//    "presence_penalty", "frequency_penalty", "repeat_penalty" (llama.cpp) ,
//    "response_format": see ResponseFormatStyle, ...extra_body}
//
// Response: 2xx with a text/event-stream body (engine/sse.cpp), one JSON chunk per event:
//   {"choices": [{"index": 0, "delta": {"role"?, "content"?, "reasoning_content"? | "reasoning"?,
//     "tool_calls"?: [{"index": I, "id"?, "type"?, "function": {"name"?, "arguments"?}}],
//     "function_call"? (legacy: {"name"?, "arguments"?}, read as call 0 when tool_calls is
//     absent)}, "finish_reason": null|"stop"|"length"|"tool_calls"|...}],
//    "usage"?: {"prompt_tokens", "completion_tokens", "prompt_tokens_details"?: {"cached_tokens"},
//               "completion_tokens_details"?: {"reasoning_tokens"}}}
//   or {"error": {"message": S, ...}} (or "error": S), then `data: [DONE]`. With include_usage the
//   usage arrives on a last chunk whose choices are empty; llama-cpp-python sends none.
//   A non-2xx status carries a JSON body {"error": {"message": S}} (or {"detail": ...}, or text).
#include "engine/remote_engine.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "engine/sse.h"

namespace r1 {

namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "discarded";
    default:
      return "number";
  }
}

Status wrong_type(const std::string& where, const char* expected, const json& v) {
  return Status::invalid("chunk: " + where + ": expected " + expected + ", got " + type_name(v));
}

// The member `key` of `obj` if present and not null.
const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status read_string(const json& obj, const char* key, const std::string& where, std::string& out) {
  const json* v = member(obj, key);
  if (v == nullptr) return Status::ok();
  if (!v->is_string()) return wrong_type(where + key, "a string", *v);
  out = v->get<std::string>();
  return Status::ok();
}

Status read_count(const json& obj, const char* key, const std::string& where, int64_t& out) {
  const json* v = member(obj, key);
  if (v == nullptr) return Status::ok();
  if (!v->is_number_integer() || v->get<int64_t>() < 0) {
    return wrong_type(where + key, "a non-negative integer", *v);
  }
  out = v->get<int64_t>();
  return Status::ok();
}

// Tokens of forced text the server never saw as tokens: about four bytes a token.
int32_t approx_tokens(std::string_view text) {
  return static_cast<int32_t>((text.size() + 3) / 4);
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

// The server's message from an error body: {"error": {"message"}}, {"error": S},
// {"message": S}, {"detail": ...}, else the text itself (cut to 500 bytes).
std::string error_message(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (const json* e = member(j, "error")) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object()) {
        if (const json* m = member(*e, "message"); m && m->is_string())
          return m->get<std::string>();
      }
      return e->dump();
    }
    if (const json* m = member(j, "message"); m && m->is_string()) return m->get<std::string>();
    if (const json* d = member(j, "detail"))
      return d->is_string() ? d->get<std::string>() : d->dump();
  }
  std::string text(body.substr(0, 500));
  if (body.size() > 500) text += "...";
  return text.empty() ? "(empty body)" : text;
}

}  // namespace

// ---- wire format --------------------------------------------------------------------------------

namespace remote_detail {

Result<json> build_request_body(const ChatRequest& req, const RemoteOptions& options) {
  json body = json::object();
  if (!options.model.empty()) body["model"] = options.model;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};

  json messages = json::array();
  int64_t next_call = 0;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const ChatMessage& m = req.messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (m.role == "system" || m.role == "user") {
      messages.push_back({{"role", m.role}, {"content", m.content}});
    } else if (m.role == "assistant") {
      // Earlier reasoning is not sent (the R1 rule), inline `<think>` blocks included.
      json msg = {{"role", "assistant"}};
      std::string content = chat_detail::content_without_reasoning(m.content);
      content.erase(0, std::min(content.find_first_not_of(" \t\r\n"), content.size()));
      if (m.tool_calls.empty()) {
        msg["content"] = content;
      } else {
        msg["content"] = content.empty() ? json(nullptr) : json(content);
        if (req.keep_tool_call_reasoning && !m.reasoning.empty()) {
          msg["reasoning_content"] = m.reasoning;  // DeepSeek API asks for it on such turns
        }
        json calls = json::array();
        for (const ToolCall& c : m.tool_calls) {
          if (c.name.empty()) return Status::invalid(where + ": a tool call without a name");
          std::string id = c.id.empty() ? "call_" + std::to_string(next_call) : c.id;
          ++next_call;
          calls.push_back({{"id", id},
                           {"type", "function"},
                           {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        }
        msg["tool_calls"] = std::move(calls);
      }
      messages.push_back(std::move(msg));
    } else if (m.role == "tool") {
      if (m.tool_call_id.empty()) {
        return Status::invalid(where + ": a tool result without tool_call_id");
      }
      messages.push_back(
          {{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.content}});
    } else {
      return Status::invalid(where + ": role \"" + m.role +
                             "\" has no OpenAI form (system, user, assistant, tool)");
    }
  }
  body["messages"] = std::move(messages);

  if (!req.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : req.tools) {
      json fn = {{"name", t.name}};
      if (!t.description.empty()) fn["description"] = t.description;
      fn["parameters"] = chat_detail::arguments_schema(t);
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  switch (req.tool_choice.mode) {
    case ToolChoice::Mode::kAuto:
      if (!req.tools.empty()) body["tool_choice"] = "auto";
      break;
    case ToolChoice::Mode::kNone:
      if (!req.tools.empty()) body["tool_choice"] = "none";
      break;
    case ToolChoice::Mode::kRequired:
      if (req.tools.empty())
        return Status::invalid("tool_choice required: the request has no tools");
      body["tool_choice"] = "required";
      break;
    case ToolChoice::Mode::kNamed: {
      bool known = std::any_of(req.tools.begin(), req.tools.end(),
                               [&](const ToolSpec& t) { return t.name == req.tool_choice.name; });
      if (!known) {
        return Status::invalid("tool_choice: unknown tool \"" + req.tool_choice.name + "\"");
      }
      body["tool_choice"] = {{"type", "function"}, {"function", {{"name", req.tool_choice.name}}}};
      break;
    }
  }

  body["max_tokens"] = std::max<int32_t>(req.max_tokens, 1);
  const SamplerParams& s = req.sampling;
  body["temperature"] = s.temperature;
  if (s.top_p < 1.0f) body["top_p"] = s.top_p;
  // Not in OpenAI's API; vLLM, SGLang, llama.cpp and llama-cpp-python read them, OpenAI-proper
  // servers ignore unknown members.
  if (s.top_k > 0) body["top_k"] = s.top_k;
  if (s.min_p > 0.0f) body["min_p"] = s.min_p;
  if (s.seed != 0) body["seed"] = s.seed;
  if (s.presence_penalty != 0.0f) body["presence_penalty"] = s.presence_penalty;
  if (s.frequency_penalty != 0.0f) body["frequency_penalty"] = s.frequency_penalty;
  if (s.repeat_penalty != 1.0f) body["repeat_penalty"] = s.repeat_penalty;

  if (req.response_schema) {
    if (options.response_format == ResponseFormatStyle::kJsonSchema) {
      body["response_format"] = {
          {"type", "json_schema"},
          {"json_schema",
           {{"name", "response"}, {"schema", *req.response_schema}, {"strict", true}}}};
    } else {
      body["response_format"] = {{"type", "json_object"}, {"schema", *req.response_schema}};
    }
  }
  return body;
}

Result<ChunkDelta> decode_chunk(std::string_view data) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Name where it broke: nlohmann's message has the byte position.
    try {
      json ignored = json::parse(data);
    } catch (const json::exception& e) {
      return Status::invalid(std::string("chunk: not JSON: ") + e.what());
    }
    return Status::invalid("chunk: not JSON");
  }
  if (!j.is_object())
    return Status::invalid(std::string("chunk: expected an object, got ") + type_name(j));
  ChunkDelta out;
  if (const json* e = member(j, "error")) {
    out.error = error_message(j.dump());
    (void)e;
    return out;
  }
  if (const json* choices = member(j, "choices")) {
    if (!choices->is_array()) return wrong_type("choices", "an array", *choices);
    if (!choices->empty()) {
      const json& c = (*choices)[0];
      if (!c.is_object()) return wrong_type("choices[0]", "an object", c);
      R1_RETURN_IF_ERROR(read_string(c, "finish_reason", "choices[0].", out.finish_reason));
      if (const json* d = member(c, "delta")) {
        if (!d->is_object()) return wrong_type("choices[0].delta", "an object", *d);
        const std::string w = "choices[0].delta.";
        R1_RETURN_IF_ERROR(read_string(*d, "content", w, out.content));
        R1_RETURN_IF_ERROR(read_string(*d, "reasoning_content", w, out.reasoning));
        if (out.reasoning.empty())
          R1_RETURN_IF_ERROR(read_string(*d, "reasoning", w, out.reasoning));
        const json* calls = member(*d, "tool_calls");
        if (calls != nullptr) {
          if (!calls->is_array()) return wrong_type(w + "tool_calls", "an array", *calls);
          for (size_t i = 0; i < calls->size(); ++i) {
            const json& tc = (*calls)[i];
            const std::string tw = w + "tool_calls[" + std::to_string(i) + "].";
            if (!tc.is_object()) return wrong_type(tw.substr(0, tw.size() - 1), "an object", tc);
            ToolCallDelta td;
            td.index = static_cast<int64_t>(i);
            R1_RETURN_IF_ERROR(read_count(tc, "index", tw, td.index));
            R1_RETURN_IF_ERROR(read_string(tc, "id", tw, td.id));
            if (const json* fn = member(tc, "function")) {
              if (!fn->is_object()) return wrong_type(tw + "function", "an object", *fn);
              R1_RETURN_IF_ERROR(read_string(*fn, "name", tw + "function.", td.name));
              R1_RETURN_IF_ERROR(read_string(*fn, "arguments", tw + "function.", td.arguments));
            }
            out.tool_calls.push_back(std::move(td));
          }
        } else if (const json* fc = member(*d, "function_call")) {
          if (!fc->is_object()) return wrong_type(w + "function_call", "an object", *fc);
          ToolCallDelta td;
          R1_RETURN_IF_ERROR(read_string(*fc, "name", w + "function_call.", td.name));
          R1_RETURN_IF_ERROR(read_string(*fc, "arguments", w + "function_call.", td.arguments));
          out.tool_calls.push_back(std::move(td));
        }
      }
    }
  }
  if (const json* u = member(j, "usage")) {
    if (!u->is_object()) return wrong_type("usage", "an object", *u);
    out.has_usage = true;
    R1_RETURN_IF_ERROR(read_count(*u, "prompt_tokens", "usage.", out.prompt_tokens));
    R1_RETURN_IF_ERROR(read_count(*u, "completion_tokens", "usage.", out.completion_tokens));
    if (const json* pd = member(*u, "prompt_tokens_details")) {
      if (!pd->is_object()) return wrong_type("usage.prompt_tokens_details", "an object", *pd);
      R1_RETURN_IF_ERROR(
          read_count(*pd, "cached_tokens", "usage.prompt_tokens_details.", out.cached_tokens));
    }
    if (const json* cd = member(*u, "completion_tokens_details")) {
      if (!cd->is_object()) return wrong_type("usage.completion_tokens_details", "an object", *cd);
      R1_RETURN_IF_ERROR(read_count(*cd, "reasoning_tokens", "usage.completion_tokens_details.",
                                    out.reasoning_tokens));
    }
  }
  return out;
}

Status ToolCallAccumulator::add(const ToolCallDelta& delta) {
  constexpr size_t kMaxCalls = 128;
  constexpr size_t kMaxArgumentBytes = size_t{16} << 20;
  auto it = calls_.find(delta.index);
  if (it == calls_.end()) {
    if (calls_.size() >= kMaxCalls) {
      return Status::invalid("tool_calls: more than " + std::to_string(kMaxCalls) + " calls");
    }
    it = calls_.emplace(delta.index, ToolCall{}).first;
  }
  ToolCall& c = it->second;
  if (c.id.empty()) c.id = delta.id;
  // OpenAI sends the name once; llama-cpp-python repeats it whole in every delta. A name never
  // arrives in pieces on any server seen, so the first one stands.
  if (c.name.empty()) c.name = delta.name;
  argument_bytes_ += delta.arguments.size();
  if (argument_bytes_ > kMaxArgumentBytes) {
    return Status::invalid("tool_calls: arguments longer than " +
                           std::to_string(kMaxArgumentBytes) + " bytes");
  }
  c.arguments += delta.arguments;
  return Status::ok();
}

std::vector<ToolCall> ToolCallAccumulator::calls() const {
  std::vector<ToolCall> out;
  for (const auto& [index, call] : calls_) {
    ToolCall c = call;
    if (c.id.empty()) c.id = "call_" + std::to_string(out.size());
    if (blank(c.arguments))
      c.arguments = "{}";  // some servers send "" for a call without arguments
    out.push_back(std::move(c));
  }
  return out;
}

std::string map_finish_reason(std::string_view r) {
  if (r == "stop" || r == "eos" || r == "end_turn" || r == "stop_sequence") return "stop";
  if (r == "length" || r == "max_tokens") return "length";
  if (r == "tool_calls" || r == "function_call" || r == "tool_use") return "tool_calls";
  return std::string(r);
}

}  // namespace remote_detail

// ---- the engine ---------------------------------------------------------------------------------

RemoteEngine::RemoteEngine(RemoteOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<RemoteEngine>> RemoteEngine::create(RemoteOptions options) {
  const std::string& u = options.base_url;
  const size_t sep = u.find("://");
  if (sep == std::string::npos) {
    return Status::invalid("remote engine: base_url \"" + u +
                           "\" has no scheme (http:// or https://)");
  }
  const std::string scheme = u.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    return Status::invalid("remote engine: base_url \"" + u + "\": scheme must be http or https");
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    return Status::unsupported("remote engine: base_url \"" + u +
                               "\": this build's cpp-httplib has no TLS support");
  }
#endif
  const size_t host_from = sep + 3;
  size_t path_from = u.find('/', host_from);
  if (path_from == std::string::npos) path_from = u.size();
  const std::string host = u.substr(host_from, path_from - host_from);
  if (host.empty() || host.find_first_of("?# @") != std::string::npos) {
    return Status::invalid("remote engine: base_url \"" + u + "\" has no valid host");
  }
  std::string path = u.substr(path_from);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.find_first_of("?#") != std::string::npos) {
    return Status::invalid("remote engine: base_url \"" + u + "\": no query or fragment allowed");
  }
  if (options.connect_timeout_s <= 0 || options.read_timeout_s <= 0) {
    return Status::invalid("remote engine: connect_timeout_s and read_timeout_s must be positive");
  }
  if (!options.extra_body.is_object()) {
    return Status::invalid("remote engine: extra_body must be a JSON object");
  }
  std::unique_ptr<RemoteEngine> engine(new RemoteEngine(std::move(options)));
  engine->url_.scheme_host_port = scheme + "://" + host;
  engine->url_.path_prefix = path;
  return engine;
}

namespace {

// One streamed request: its deltas go to `on_chunk`, which returns false to stop reading.
struct StreamOutcome {
  Status status;                   // transport, HTTP, server or format error
  bool stopped = false;            // on_chunk asked to stop
  bool done = false;               // `data: [DONE]` seen
  bool ended_in_thinking = false;  // the output ended inside thinking, with no answer
  std::string finish_reason;
};

}  // namespace

Result<ChatResult> RemoteEngine::chat(const ChatRequest& req, const ChatEventCallback& on_event) {
  using remote_detail::ChunkDelta;
  Result<json> first_body = remote_detail::build_request_body(req, options_);
  if (!first_body) return first_body.status();

  const auto t0 = std::chrono::steady_clock::now();
  ChatResult res;
  const ThinkingParams& tp = req.thinking;
  const int32_t max_tokens = std::max<int32_t>(req.max_tokens, 1);
  const int32_t reserve =
      tp.answer_reserve >= 0 ? tp.answer_reserve : std::min<int32_t>(max_tokens / 4, 512);
  const std::string close_text = "\n</think>\n\n";
  const int32_t wrap_len = approx_tokens("\n\n" + tp.wrap_up + close_text);
  // The cap, as the native engine computes it: the budget, and never more than leaves room for
  // the wrap-up and the answer.
  int64_t cap = tp.budget >= 0 ? tp.budget : std::numeric_limits<int32_t>::max();
  cap = std::min<int64_t>(
      cap, std::max<int64_t>(0, int64_t{max_tokens} - reserve - wrap_len - std::max(tp.grace, 0)));
  res.thinking.effective_budget = static_cast<int32_t>(cap);

  const bool prefill_mode = options_.continuation != ContinuationMode::kRestate;
  // With a prefill mode, `think` opens thinking the way the R1 template does.
  const bool opens_thinking = req.think && prefill_mode;

  auto finish_body = [&](json body, const json& extra_messages, bool continue_final) {
    for (const json& m : extra_messages) body["messages"].push_back(m);
    if (continue_final && options_.continuation == ContinuationMode::kContinueFinalMessage) {
      body["continue_final_message"] = true;
      body["add_generation_prompt"] = false;
    }
    for (auto it = options_.extra_body.begin(); it != options_.extra_body.end(); ++it) {
      body[it.key()] = it.value();
    }
    return body;
  };

  Result<std::unique_ptr<ChatFormat>> fmt = make_chat_format("deepseek-r1");
  if (!fmt) return fmt.status();

  bool cancelled = false;
  auto emit = [&](const ChatEvent& ev) {
    if (on_event && !cancelled && !on_event(ev)) cancelled = true;
  };

  std::vector<ToolCall> parsed_calls;       // from every pass, before validation
  std::vector<ToolCallError> parse_errors;  // from the content parsers
  int32_t generated = 0;                    // deltas with text: ≈ tokens
  int64_t server_completion = 0;
  int64_t server_reasoning = -1;

  // Streams one request. `budget_on`: enforce the cap (first pass); otherwise reasoning past
  // `grace` tokens ends the pass (the model started thinking again after the cut).
  auto run_pass = [&](const json& body, bool starts_in_thinking, bool budget_on, bool& cut,
                      std::string& pass_reasoning) -> Result<StreamOutcome> {
    StreamOutcome out;
    std::unique_ptr<OutputParser> parser = (*fmt)->make_parser(starts_in_thinking);
    remote_detail::ToolCallAccumulator calls;
    SseParser sse(SseLimits{options_.max_line_bytes, options_.max_response_bytes});
    std::vector<SseEvent> sse_events;
    std::vector<ChatEvent> parser_events;
    bool field_reasoning_open = false;  // raw_output has "<think>\n" open for reasoning fields
    int32_t pass_generated = 0;
    int32_t pass_reasoning_tokens = 0;  // this pass's reasoning deltas
    int32_t grace_used = 0;
    int64_t received = 0;  // bytes
    bool usage_seen = false;
    int64_t usage_completion = 0;
    int status = 0;
    std::string error_body;

    // Handles one decoded chunk; false stops the read.
    auto on_chunk = [&](const ChunkDelta& d) -> bool {
      if (d.error) {
        out.status =
            Status::io_error("server error in the stream of POST " + url_.scheme_host_port +
                             url_.path_prefix + "/chat/completions: " + *d.error);
        return false;
      }
      if (d.has_usage) {
        usage_seen = true;
        usage_completion = d.completion_tokens;
        res.usage.prompt_tokens += d.prompt_tokens;
        res.usage.cached_tokens += d.cached_tokens;
        if (d.reasoning_tokens >= 0)
          server_reasoning = std::max<int64_t>(server_reasoning, 0) + d.reasoning_tokens;
      }
      if (!d.finish_reason.empty()) out.finish_reason = d.finish_reason;
      const bool has_text = !d.reasoning.empty() || !d.content.empty() || !d.tool_calls.empty();
      if (!has_text) return true;
      ++pass_generated;
      std::string reasoning_piece;
      if (!d.reasoning.empty()) {
        if (!field_reasoning_open) res.raw_output += "<think>\n";
        field_reasoning_open = true;
        res.raw_output += d.reasoning;
        reasoning_piece += d.reasoning;
        ChatEvent ev{ChatEvent::Kind::kReasoning, d.reasoning, {}, {}};
        emit(ev);
      }
      if (!d.content.empty()) {
        if (field_reasoning_open) {
          res.raw_output += close_text;
          field_reasoning_open = false;
        }
        res.raw_output += d.content;
        parser->push(d.content, parser_events);
        for (const ChatEvent& ev : parser_events) {
          if (ev.kind == ChatEvent::Kind::kReasoning) {
            reasoning_piece += ev.text;
            emit(ev);
          } else if (ev.kind == ChatEvent::Kind::kContent) {
            emit(ev);
          }  // calls and call errors are validated and sent when the stream ends
        }
        parser_events.clear();
      }
      for (const remote_detail::ToolCallDelta& td : d.tool_calls) {
        Status s = calls.add(td);
        if (!s.is_ok()) {
          out.status = s;
          return false;
        }
      }
      pass_reasoning += reasoning_piece;
      const bool thinking_now =
          !reasoning_piece.empty() && (d.content.empty() ? true : parser->in_reasoning());
      if (!reasoning_piece.empty()) {
        ++pass_reasoning_tokens;
        ++res.usage.reasoning_tokens;
        if (budget_on) {
          ++res.thinking.sampled_tokens;
          if (res.thinking.sampled_tokens > cap) ++res.thinking.grace_tokens;
        }
      }
      if (cancelled) return false;
      if (thinking_now) {
        if (budget_on) {
          const bool over = res.thinking.sampled_tokens >= cap;
          if (over && (cap == 0 || grace_used >= tp.grace || ends_sentence(reasoning_piece))) {
            cut = true;
            return false;
          }
          if (over) ++grace_used;
        } else if (pass_reasoning_tokens > std::max(tp.grace, 0)) {
          cut = true;
          return false;
        }
      }
      return true;
    };

    httplib::Client client(url_.scheme_host_port);
    client.set_connection_timeout(options_.connect_timeout_s, 0);
    client.set_read_timeout(options_.read_timeout_s, 0);
    client.set_write_timeout(options_.read_timeout_s, 0);
    client.set_keep_alive(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    client.enable_server_certificate_verification(options_.verify_tls);
    if (!options_.ca_cert_path.empty()) client.set_ca_cert_path(options_.ca_cert_path);
#endif
    const std::string path = url_.path_prefix + "/chat/completions";
    const std::string where = "POST " + url_.scheme_host_port + path;
    httplib::Request hreq;
    hreq.method = "POST";
    hreq.path = path;
    hreq.headers = {{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}};
    if (!options_.api_key.empty()) {
      hreq.headers.emplace("Authorization", "Bearer " + options_.api_key);
    }
    hreq.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    hreq.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    hreq.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      received += static_cast<int64_t>(n);
      if (received > static_cast<int64_t>(options_.max_response_bytes)) {
        out.status = Status::invalid(where + ": response longer than " +
                                     std::to_string(options_.max_response_bytes) + " bytes");
        return false;
      }
      if (status < 200 || status >= 300) {
        if (error_body.size() < 65536) error_body.append(data, std::min<size_t>(n, 65536));
        return true;
      }
      Status s = sse.push(std::string_view(data, n), sse_events);
      if (!s.is_ok()) {
        out.status = Status::invalid(where + ": " + s.message());
        return false;
      }
      for (const SseEvent& e : sse_events) {
        if (out.done) break;
        if (e.data == "[DONE]") {
          out.done = true;
          break;
        }
        Result<ChunkDelta> d = remote_detail::decode_chunk(e.data);
        if (!d) {
          out.status = Status::invalid(where + ": " + d.status().message() + " (stream byte " +
                                       std::to_string(sse.bytes_consumed()) + ")");
          return false;
        }
        if (!on_chunk(*d)) {
          out.stopped = out.status.is_ok();
          sse_events.clear();
          return false;
        }
      }
      sse_events.clear();
      return true;
    };
    httplib::Response hres;
    httplib::Error err = httplib::Error::Success;
    const bool sent = client.send(hreq, hres, err);
    if (!out.status.is_ok()) return out.status;
    if (status != 0 && (status < 200 || status >= 300)) {
      if (error_body.empty()) error_body = hres.body;
      return Status::io_error("HTTP " + std::to_string(status) + " from " + where + ": " +
                              error_message(error_body));
    }
    if (!sent && !out.stopped) {
      return Status::io_error(where + ": " + httplib::to_string(err));
    }
    if (!out.stopped && !out.done) {
      // A last event without its blank line (or without [DONE]).
      Status s = sse.finish(sse_events);
      if (!s.is_ok()) return Status::invalid(where + ": " + s.message());
      for (const SseEvent& e : sse_events) {
        if (e.data == "[DONE]") {
          out.done = true;
          break;
        }
        Result<ChunkDelta> d = remote_detail::decode_chunk(e.data);
        if (!d) return Status::invalid(where + ": " + d.status().message());
        if (!on_chunk(*d)) {
          out.stopped = out.status.is_ok();
          break;
        }
      }
      if (!out.status.is_ok()) return out.status;
      if (!out.stopped && !out.done && out.finish_reason.empty()) {
        return Status::io_error(where + ": the stream ended after " + std::to_string(received) +
                                " bytes without a finish_reason or [DONE] (truncated response)");
      }
    }
    const bool field_open_at_end = field_reasoning_open;
    if (field_reasoning_open && !cut) res.raw_output += close_text;
    generated += pass_generated;
    if (usage_seen && !out.stopped) {
      server_completion += usage_completion;
    } else {
      server_completion += pass_generated;
    }
    // Reasoning and content of this pass; calls only from a pass that was not cut in thinking.
    const ParsedOutput& p = parser->parsed();
    if (!cut) {
      std::vector<ChatEvent> tail;
      parser->finish(tail);
      for (const ChatEvent& ev : tail) {
        if (ev.kind == ChatEvent::Kind::kReasoning) pass_reasoning += ev.text;
        if (ev.kind == ChatEvent::Kind::kReasoning || ev.kind == ChatEvent::Kind::kContent)
          emit(ev);
      }
      out.ended_in_thinking =
          p.content.empty() && calls.empty() && p.tool_calls.empty() &&
          (p.reasoning_truncated || (field_open_at_end && !pass_reasoning.empty()));
      for (const ToolCall& c : p.tool_calls) parsed_calls.push_back(c);
      for (const ToolCallError& e : p.errors) parse_errors.push_back(e);
      for (ToolCall& c : calls.calls()) parsed_calls.push_back(std::move(c));
    }
    res.content += p.content;
    return out;
  };

  // ---- pass 1 ---------------------------------------------------------------------------------
  json prefill_open = json::array();
  if (opens_thinking) prefill_open.push_back({{"role", "assistant"}, {"content", "<think>\n"}});
  json body1 = finish_body(*first_body, prefill_open, opens_thinking);
  if (req.think && !prefill_mode && options_.think_with_grammar && !req.response_schema &&
      (req.tools.empty() || req.tool_choice.mode == ToolChoice::Mode::kAuto ||
       req.tool_choice.mode == ToolChoice::Mode::kNone) &&
      !options_.extra_body.contains("grammar")) {
    body1["grammar"] = "root ::= \"<think>\\n\" [^\\x00]*";
  }
  res.prompt = body1.dump();
  bool cut = false;
  std::string reasoning1;
  Result<StreamOutcome> pass1 =
      run_pass(body1, opens_thinking, /*budget_on=*/true, cut, reasoning1);
  if (!pass1) return pass1.status();
  res.reasoning = reasoning1;
  std::string finish = pass1->finish_reason;

  // ---- the cut: close the reasoning and ask for the answer -------------------------------------
  // Also when the model stopped inside thinking without answering (require_answer): the native
  // engine would not let it end there; here the reasoning is closed and the answer requested.
  const bool stopped_in_thinking = !cut && req.require_answer && pass1->ended_in_thinking &&
                                   remote_detail::map_finish_reason(finish) == "stop";
  if ((cut || stopped_in_thinking) && !cancelled) {
    res.thinking.capped = cut;
    std::string forced;
    if (cut && cap > 0 && !tp.wrap_up.empty()) forced = "\n\n" + tp.wrap_up;
    if (!forced.empty()) {
      res.reasoning += forced;
      emit(ChatEvent{ChatEvent::Kind::kReasoning, forced, {}, {}});
    }
    res.raw_output += forced + close_text;
    const int32_t forced_tokens = approx_tokens(forced + close_text);
    res.thinking.forced_tokens += forced_tokens;
    res.usage.reasoning_tokens += forced_tokens;
    const int32_t left = max_tokens - generated - forced_tokens;
    if (left <= 0) {
      finish = "length";
    } else if (!cancelled) {
      json extra = json::array();
      const std::string thought = reasoning1 + forced;
      if (prefill_mode) {
        extra.push_back({{"role", "assistant"}, {"content", "<think>\n" + thought + close_text}});
      } else {
        extra.push_back({{"role", "assistant"}, {"content", thought}});
        extra.push_back({{"role", "user"},
                         {"content",
                          "Give your final answer now, based on the reasoning above, without "
                          "thinking any further."}});
      }
      json base = *first_body;
      base["max_tokens"] = left;
      if (!prefill_mode) base["chat_template_kwargs"] = {{"enable_thinking", false}};
      json body2 = finish_body(std::move(base), extra, prefill_mode);
      bool cut2 = false;
      std::string reasoning2;
      Result<StreamOutcome> pass2 = run_pass(body2, false, /*budget_on=*/false, cut2, reasoning2);
      if (!pass2) return pass2.status();
      res.reasoning += reasoning2;
      finish = cut2 ? "length" : pass2->finish_reason;
    }
  }

  // ---- tool calls, validated once the stream is over ------------------------------------------
  for (const ToolCallError& e : parse_errors) {
    res.tool_call_errors.push_back(e);
    emit(ChatEvent{ChatEvent::Kind::kToolCallError, "", {}, e});
  }
  for (const ToolCall& c : parsed_calls) {
    if (std::optional<ToolCallError> err = validate_tool_call(c, req.tools)) {
      res.tool_call_errors.push_back(*err);
      emit(ChatEvent{ChatEvent::Kind::kToolCallError, "", {}, *err});
    } else {
      res.tool_calls.push_back(c);
      emit(ChatEvent{ChatEvent::Kind::kToolCall, "", c, {}});
    }
  }

  finish = remote_detail::map_finish_reason(finish);
  if (finish.empty()) finish = "stop";
  if (finish == "stop" && !res.tool_calls.empty()) finish = "tool_calls";
  if (cancelled) finish = "cancelled";
  res.finish_reason = finish;
  res.usage.completion_tokens = server_completion + res.thinking.forced_tokens;
  if (server_reasoning >= 0 && !res.thinking.capped) res.usage.reasoning_tokens = server_reasoning;
  res.timings.generated_tokens = res.usage.completion_tokens;
  res.timings.prompt_tokens = res.usage.prompt_tokens;
  // The server's prefill and decode cannot be told apart from here: the whole exchange, ms.
  res.timings.decode_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace r1
