#include "server/openai_api.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/json_schema.h"
#include "tools/tool_registry.h"

namespace r1::server {

using nlohmann::json;

json ApiError::to_json() const {
  json e = {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}};
  return json{{"error", e}};
}

ApiError bad_request(std::string message, std::string param) {
  ApiError e;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

namespace {

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

ApiError wrong_type(const std::string& param, const char* expected, const json& got) {
  return bad_request(param + " must be " + expected + ", not " + type_name(got), param);
}

// Reads the body as one JSON object.
std::optional<ApiError> parse_body(std::string_view body, json* out) {
  // JSON text is UTF-8 (RFC 8259); anything else would reach prompts and responses.
  const size_t valid = valid_utf8_prefix(body);
  if (valid != body.size()) {
    return bad_request("the request body is not valid UTF-8 (byte " + std::to_string(valid) + ")");
  }
  Result<json> j = parse_json(body);
  if (!j) return bad_request("the request body is not valid JSON: " + j.status().message());
  if (!j->is_object()) return bad_request("the request body must be a JSON object");
  *out = std::move(j.value());
  return std::nullopt;
}

// A field present and not null.
const json* field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> get_bool(const json& obj, const char* name, bool* out) {
  const json* v = field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return wrong_type(name, "a boolean", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> get_number(const json& obj, const char* name, double lo, double hi,
                                   float* out) {
  const json* v = field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) return wrong_type(name, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    return bad_request(std::string(name) + " must be between " + json(lo).dump() + " and " +
                           json(hi).dump() + ", not " + v->dump(),
                       name);
  }
  *out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<ApiError> get_int(const json& obj, const char* name, int64_t lo, int64_t hi,
                                int64_t* out) {
  const json* v = field(obj, name);
  if (!v) return std::nullopt;
  // 3.0 is an integer to JSON; 3.5 is not.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) {
      return wrong_type(name, "an integer", *v);
    }
  } else if (!v->is_number_integer()) {
    return wrong_type(name, "an integer", *v);
  }
  int64_t i = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    i = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  } else if (v->is_number_float()) {
    i = static_cast<int64_t>(v->get<double>());
  } else {
    i = v->get<int64_t>();
  }
  if (i < lo || i > hi) {
    return bad_request(std::string(name) + " must be between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + ", not " + std::to_string(i),
                       name);
  }
  *out = i;
  return std::nullopt;
}

std::optional<ApiError> get_string(const json& obj, const char* name, std::string* out) {
  const json* v = field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) return wrong_type(name, "a string", *v);
  *out = v->get<std::string>();
  return std::nullopt;
}

// "model": required, a non-empty string.
std::optional<ApiError> get_model(const json& obj, std::string* out) {
  const json* v = field(obj, "model");
  if (!v) return bad_request("model is required", "model");
  if (!v->is_string()) return wrong_type("model", "a string", *v);
  *out = v->get<std::string>();
  if (out->empty()) return bad_request("model must not be empty", "model");
  return std::nullopt;
}

std::optional<ApiError> get_stop(const json& obj, const RequestLimits& limits,
                                 std::vector<std::string>* out) {
  const json* v = field(obj, "stop");
  if (!v) return std::nullopt;
  std::vector<std::string> stops;
  if (v->is_string()) {
    stops.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const json& s : *v) {
      if (!s.is_string()) return wrong_type("stop", "a string or an array of strings", s);
      stops.push_back(s.get<std::string>());
    }
  } else {
    return wrong_type("stop", "a string or an array of strings", *v);
  }
  if (static_cast<int64_t>(stops.size()) > limits.max_stop) {
    return bad_request("stop takes at most " + std::to_string(limits.max_stop) + " strings",
                       "stop");
  }
  for (const std::string& s : stops) {
    if (static_cast<int64_t>(s.size()) > limits.max_stop_bytes) {
      return bad_request(
          "each stop string may be at most " + std::to_string(limits.max_stop_bytes) + " bytes",
          "stop");
    }
    if (!s.empty()) out->push_back(s);
  }
  return std::nullopt;
}

std::optional<ApiError> get_stream(const json& obj, bool* stream, bool* include_usage) {
  if (auto e = get_bool(obj, "stream", stream)) return e;
  const json* so = field(obj, "stream_options");
  if (!so) return std::nullopt;
  if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
  if (!*stream) return bad_request("stream_options needs stream: true", "stream_options");
  if (auto e = get_bool(*so, "include_usage", include_usage)) {
    e->param = "stream_options.include_usage";
    return e;
  }
  return std::nullopt;
}

// temperature, top_p, top_k, min_p, penalties, seed. OpenAI's ranges where it has them.
std::optional<ApiError> get_sampling(const json& obj, SamplerParams* s) {
  if (auto e = get_number(obj, "temperature", 0.0, 2.0, &s->temperature)) return e;
  if (auto e = get_number(obj, "top_p", 0.0, 1.0, &s->top_p)) return e;
  if (auto e = get_number(obj, "min_p", 0.0, 1.0, &s->min_p)) return e;
  if (auto e = get_number(obj, "presence_penalty", -2.0, 2.0, &s->presence_penalty)) return e;
  if (auto e = get_number(obj, "frequency_penalty", -2.0, 2.0, &s->frequency_penalty)) return e;
  if (auto e = get_number(obj, "repetition_penalty", 0.0, 10.0, &s->repeat_penalty)) return e;
  if (s->repeat_penalty <= 0.0f)
    return bad_request("repetition_penalty must be > 0", "repetition_penalty");
  int64_t top_k = s->top_k;
  if (auto e = get_int(obj, "top_k", 0, 1 << 20, &top_k)) return e;
  s->top_k = static_cast<int32_t>(top_k);
  const json* seed = field(obj, "seed");
  if (seed) {
    int64_t v = 0;
    if (auto e = get_int(obj, "seed", INT64_MIN, INT64_MAX, &v)) return e;
    s->seed = static_cast<uint64_t>(v);
  } else {
    s->seed = std::random_device{}();
  }
  return std::nullopt;
}

std::optional<ApiError> get_n(const json& obj) {
  int64_t n = 1;
  if (auto e = get_int(obj, "n", 1, 128, &n)) return e;
  if (n != 1) return bad_request("n must be 1: this server returns one choice per request", "n");
  bool logprobs = false;
  if (auto e = get_bool(obj, "logprobs", &logprobs)) return e;
  if (logprobs) return bad_request("logprobs are not supported", "logprobs");
  return std::nullopt;
}

// max_completion_tokens (or the older max_tokens): 1 .. limit; the limit when absent.
std::optional<ApiError> get_max_tokens(const json& obj, const RequestLimits& limits,
                                       int64_t fallback, int32_t* out) {
  int64_t v = fallback;
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (auto e = get_int(obj, name, 1, limits.max_tokens, &v)) {
      if (e->message.find("between") != std::string::npos) {
        e->message = std::string(name) + " must be between 1 and " +
                     std::to_string(limits.max_tokens) + " (this server's limit)";
      }
      return e;
    }
  }
  *out = static_cast<int32_t>(v);
  return std::nullopt;
}

// A message's content: a string, null, or an array of text parts.
std::optional<ApiError> get_content(const json& m, const std::string& where, std::string* out) {
  const json* c = field(m, "content");
  if (!c) return std::nullopt;
  if (c->is_string()) {
    *out = c->get<std::string>();
    return std::nullopt;
  }
  if (!c->is_array()) return wrong_type(where + ".content", "a string or an array of parts", *c);
  for (size_t i = 0; i < c->size(); ++i) {
    const json& part = (*c)[i];
    const std::string pw = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) return wrong_type(pw, "an object", part);
    std::string type;
    if (auto e = get_string(part, "type", &type)) {
      e->param = pw + ".type";
      return e;
    }
    if (type != "text") {
      return bad_request(
          pw + ": content parts of type \"" + type + "\" are not supported (text only)",
          pw + ".type");
    }
    const json* t = field(part, "text");
    if (!t || !t->is_string()) return bad_request(pw + ".text must be a string", pw + ".text");
    *out += t->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> get_message(const json& m, size_t index, ChatMessage* out) {
  const std::string where = "messages[" + std::to_string(index) + "]";
  if (!m.is_object()) return wrong_type(where, "an object", m);
  const json* role = field(m, "role");
  if (!role || !role->is_string())
    return bad_request(where + ".role must be a string", where + ".role");
  out->role = role->get<std::string>();
  if (out->role == "developer") out->role = "system";
  if (out->role != "system" && out->role != "user" && out->role != "assistant" &&
      out->role != "tool") {
    return bad_request(where + ".role must be system, developer, user, assistant or tool, not \"" +
                           out->role + "\"",
                       where + ".role");
  }
  if (auto e = get_content(m, where, &out->content)) return e;
  if (out->role == "assistant") {
    if (auto e = get_string(m, "reasoning_content", &out->reasoning)) {
      e->param = where + ".reasoning_content";
      return e;
    }
    const json* calls = field(m, "tool_calls");
    if (calls) {
      if (!calls->is_array()) return wrong_type(where + ".tool_calls", "an array", *calls);
      for (size_t i = 0; i < calls->size(); ++i) {
        const json& c = (*calls)[i];
        const std::string cw = where + ".tool_calls[" + std::to_string(i) + "]";
        if (!c.is_object()) return wrong_type(cw, "an object", c);
        ToolCall call;
        if (auto e = get_string(c, "id", &call.id)) {
          e->param = cw + ".id";
          return e;
        }
        const json* fn = field(c, "function");
        if (!fn || !fn->is_object())
          return bad_request(cw + ".function must be an object", cw + ".function");
        const json* name = field(*fn, "name");
        if (!name || !name->is_string() || name->get<std::string>().empty()) {
          return bad_request(cw + ".function.name must be a non-empty string",
                             cw + ".function.name");
        }
        call.name = name->get<std::string>();
        const json* args = field(*fn, "arguments");
        if (args && args->is_string()) {
          call.arguments = args->get<std::string>();
        } else if (args && args->is_object()) {
          call.arguments = args->dump();
        } else if (args) {
          return wrong_type(cw + ".function.arguments", "a string", *args);
        } else {
          call.arguments = "{}";
        }
        out->tool_calls.push_back(std::move(call));
      }
    }
  } else if (out->role == "tool") {
    const json* id = field(m, "tool_call_id");
    if (!id || !id->is_string()) {
      return bad_request(where + ".tool_call_id must be a string", where + ".tool_call_id");
    }
    out->tool_call_id = id->get<std::string>();
    if (auto e = get_string(m, "name", &out->name)) {
      e->param = where + ".name";
      return e;
    }
  }
  return std::nullopt;
}

// response_format: text | json_object | json_schema {schema}.
std::optional<ApiError> get_response_format(const json& obj, ChatRequest* chat) {
  const json* rf = field(obj, "response_format");
  if (!rf) return std::nullopt;
  if (!rf->is_object()) return wrong_type("response_format", "an object", *rf);
  std::string type;
  if (auto e = get_string(*rf, "type", &type)) {
    e->param = "response_format.type";
    return e;
  }
  if (type == "text" || type.empty()) return std::nullopt;
  if (type == "json_object") {
    chat->response_schema = json{{"type", "object"}};
    return std::nullopt;
  }
  if (type != "json_schema") {
    return bad_request(
        "response_format.type must be text, json_object or json_schema, not \"" + type + "\"",
        "response_format.type");
  }
  const json* js = field(*rf, "json_schema");
  if (!js || !js->is_object()) {
    return bad_request("response_format.json_schema must be an object",
                       "response_format.json_schema");
  }
  const json* schema = field(*js, "schema");
  if (!schema) {
    chat->response_schema = json{{"type", "object"}};
    return std::nullopt;
  }
  if (!schema->is_object() && !schema->is_boolean()) {
    return wrong_type("response_format.json_schema.schema", "an object", *schema);
  }
  Status st = check_json_schema(*schema);
  if (!st) {
    return bad_request("response_format.json_schema.schema: " + st.message(),
                       "response_format.json_schema.schema");
  }
  chat->response_schema = *schema;
  return std::nullopt;
}

// thinking_budget, reasoning_effort, chat_template_kwargs.enable_thinking.
std::optional<ApiError> get_thinking(const json& obj, ChatRequest* chat) {
  std::string effort;
  if (auto e = get_string(obj, "reasoning_effort", &effort)) return e;
  if (!effort.empty()) {
    std::optional<int32_t> b = reasoning_effort_budget(effort);
    if (!b) {
      return bad_request(
          "reasoning_effort must be minimal, low, medium or high, not \"" + effort + "\"",
          "reasoning_effort");
    }
    chat->thinking.budget = *b;
  }
  int64_t budget = chat->thinking.budget;
  if (auto e = get_int(obj, "thinking_budget", -1, 1 << 20, &budget)) return e;
  chat->thinking.budget = static_cast<int32_t>(budget);
  const json* kw = field(obj, "chat_template_kwargs");
  if (kw) {
    if (!kw->is_object()) return wrong_type("chat_template_kwargs", "an object", *kw);
    const json* et = field(*kw, "enable_thinking");
    if (et) {
      if (!et->is_boolean())
        return wrong_type("chat_template_kwargs.enable_thinking", "a boolean", *et);
      if (et->get<bool>()) {
        chat->think = true;
      } else {
        chat->thinking.budget = 0;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<int32_t> reasoning_effort_budget(std::string_view effort) {
  if (effort == "minimal" || effort == "none") return 0;
  if (effort == "low") return 256;
  if (effort == "medium") return 1024;
  if (effort == "high") return 4096;
  return std::nullopt;
}

std::optional<ApiError> parse_chat_completion(std::string_view body, const RequestLimits& limits,
                                              ChatCompletionRequest* out) {
  json obj;
  if (auto e = parse_body(body, &obj)) return e;
  if (auto e = get_model(obj, &out->model)) return e;
  const json* messages = field(obj, "messages");
  if (!messages) return bad_request("messages is required", "messages");
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  if (messages->empty()) return bad_request("messages must not be empty", "messages");
  if (static_cast<int64_t>(messages->size()) > limits.max_messages) {
    return bad_request("at most " + std::to_string(limits.max_messages) + " messages", "messages");
  }
  ChatRequest& chat = out->chat;
  for (size_t i = 0; i < messages->size(); ++i) {
    ChatMessage m;
    if (auto e = get_message((*messages)[i], i, &m)) return e;
    chat.messages.push_back(std::move(m));
  }
  const json* tools = field(obj, "tools");
  if (tools) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    Result<std::vector<ToolSpec>> specs = parse_tool_list(*tools);
    if (!specs) return bad_request("tools: " + specs.status().message(), "tools");
    chat.tools = std::move(specs.value());
  }
  const json* choice = field(obj, "tool_choice");
  if (choice) {
    Result<ToolChoice> tc = parse_tool_choice(*choice);
    if (!tc) return bad_request("tool_choice: " + tc.status().message(), "tool_choice");
    if (tc->mode == ToolChoice::Mode::kNamed) {
      const bool known = std::any_of(chat.tools.begin(), chat.tools.end(),
                                     [&](const ToolSpec& t) { return t.name == tc->name; });
      if (!known) {
        return bad_request("tool_choice names \"" + tc->name + "\", which is not in tools",
                           "tool_choice");
      }
    }
    if ((tc->mode == ToolChoice::Mode::kRequired) && chat.tools.empty()) {
      return bad_request("tool_choice \"required\" needs tools", "tool_choice");
    }
    chat.tool_choice = *tc;
  }
  if (auto e = get_bool(obj, "parallel_tool_calls", &out->parallel_tool_calls)) return e;
  if (auto e = get_response_format(obj, &chat)) return e;
  if (auto e = get_thinking(obj, &chat)) return e;
  if (auto e = get_sampling(obj, &chat.sampling)) return e;
  if (auto e = get_n(obj)) return e;
  if (auto e = get_max_tokens(obj, limits, limits.max_tokens, &chat.max_tokens)) return e;
  if (auto e = get_stop(obj, limits, &out->stop)) return e;
  if (auto e = get_stream(obj, &out->stream, &out->include_usage)) return e;
  return std::nullopt;
}

std::optional<ApiError> parse_completion(std::string_view body, const RequestLimits& limits,
                                         CompletionRequest* out) {
  json obj;
  if (auto e = parse_body(body, &obj)) return e;
  if (auto e = get_model(obj, &out->model)) return e;
  const json* prompt = field(obj, "prompt");
  if (!prompt) return bad_request("prompt is required", "prompt");
  if (prompt->is_string()) {
    out->prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    out->prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_array()) {
    return bad_request("prompt must be one string (batches of prompts are not supported)",
                       "prompt");
  } else {
    return wrong_type("prompt", "a string", *prompt);
  }
  if (out->prompt.empty()) return bad_request("prompt must not be empty", "prompt");
  if (auto e = get_sampling(obj, &out->sampling)) return e;
  if (auto e = get_n(obj)) return e;
  if (auto e =
          get_max_tokens(obj, limits, std::min<int64_t>(16, limits.max_tokens), &out->max_tokens)) {
    return e;
  }
  if (auto e = get_stop(obj, limits, &out->stop)) return e;
  if (auto e = get_bool(obj, "echo", &out->echo)) return e;
  if (auto e = get_stream(obj, &out->stream, &out->include_usage)) return e;
  return std::nullopt;
}

std::optional<ApiError> parse_embedding(std::string_view body, const RequestLimits& limits,
                                        EmbeddingRequest* out) {
  json obj;
  if (auto e = parse_body(body, &obj)) return e;
  if (auto e = get_model(obj, &out->model)) return e;
  const json* input = field(obj, "input");
  if (!input) return bad_request("input is required", "input");
  if (input->is_string()) {
    out->input.push_back(input->get<std::string>());
  } else if (input->is_array()) {
    for (const json& s : *input) {
      if (!s.is_string()) {
        return bad_request(
            "input must be a string or an array of strings (token arrays are not "
            "supported)",
            "input");
      }
      out->input.push_back(s.get<std::string>());
    }
  } else {
    return wrong_type("input", "a string or an array of strings", *input);
  }
  if (out->input.empty()) return bad_request("input must not be empty", "input");
  if (static_cast<int64_t>(out->input.size()) > limits.max_embedding_inputs) {
    return bad_request("at most " + std::to_string(limits.max_embedding_inputs) + " inputs",
                       "input");
  }
  std::string format = "float";
  if (auto e = get_string(obj, "encoding_format", &format)) return e;
  if (format != "float" && format != "base64") {
    return bad_request("encoding_format must be float or base64", "encoding_format");
  }
  out->base64 = format == "base64";
  if (field(obj, "dimensions")) {
    int64_t d = 0;
    if (auto e = get_int(obj, "dimensions", 1, 1 << 16, &d)) return e;
    out->dimensions = d;
  }
  return std::nullopt;
}

std::string finish_reason_for(const std::string& engine_reason, bool stopped_by_string) {
  if (stopped_by_string) return "stop";
  if (engine_reason == "tool_calls" || engine_reason == "length") return engine_reason;
  return "stop";
}

json usage_json(const ChatUsage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", u.reasoning_tokens}}}};
}

json tool_call_json(const ToolCall& call) {
  return {{"id", call.id},
          {"type", "function"},
          {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

json chat_completion_json(const std::string& id, int64_t created, const std::string& model,
                          const ChatResult& result, const std::string& finish_reason) {
  json message = {{"role", "assistant"}};
  message["content"] =
      result.content.empty() && !result.tool_calls.empty() ? json(nullptr) : json(result.content);
  if (!result.reasoning.empty()) message["reasoning_content"] = result.reasoning;
  if (!result.tool_calls.empty()) {
    json calls = json::array();
    for (const ToolCall& c : result.tool_calls) calls.push_back(tool_call_json(c));
    message["tool_calls"] = calls;
  }
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", "r1"},
          {"choices", json::array({{{"index", 0},
                                    {"message", message},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason}}})},
          {"usage", usage_json(result.usage)}};
}

json chat_chunk_json(const std::string& id, int64_t created, const std::string& model, json delta,
                     const std::string& finish_reason) {
  return {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"system_fingerprint", "r1"},
      {"choices", json::array({{{"index", 0},
                                {"delta", std::move(delta)},
                                {"logprobs", nullptr},
                                {"finish_reason",
                                 finish_reason.empty() ? json(nullptr) : json(finish_reason)}}})}};
}

StopFilter::StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const std::string& s : stops_) max_len_ = std::max(max_len_, s.size());
}

std::string StopFilter::push(std::string_view text) {
  if (stopped_) return "";
  const size_t before = text_.size();
  text_ += text;
  for (const std::string& s : stops_) {
    const size_t from = before >= s.size() ? before - s.size() + 1 : 0;
    const size_t at = text_.find(s, from);
    if (at != std::string::npos) {
      text_.resize(at);
      stopped_ = true;
    }
  }
  size_t safe = text_.size();
  if (!stopped_ && max_len_ > 0)
    safe = text_.size() > max_len_ - 1 ? text_.size() - (max_len_ - 1) : 0;
  if (safe <= sent_) return "";
  std::string out = text_.substr(sent_, safe - sent_);
  sent_ = safe;
  return out;
}

std::string StopFilter::finish() {
  if (sent_ >= text_.size()) return "";
  std::string out = text_.substr(sent_);
  sent_ = text_.size();
  return out;
}

std::string unique_call_id(const std::string& request_id, const std::string& call_id) {
  std::string tail = request_id.size() > 8 ? request_id.substr(request_id.size() - 8) : request_id;
  return "call_" + tail + "_" + (call_id.rfind("call_", 0) == 0 ? call_id.substr(5) : call_id);
}

std::string base64_encode(const void* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  static_cast<const unsigned char*>(data), static_cast<int>(n));
  out.resize(static_cast<size_t>(std::max(len, 0)));
  return out;
}

}  // namespace r1::server
