// Chat formats: tool lists, tool choice, call validation, format lookup and detection, and the
// streaming parser every family shares.
//
// The streaming parser (chat_detail::StreamingParser) is a small state machine over the
// undecided tail of the output (buffer_):
//
//   kReasoning  inside `<think>` ... `</think>`. One '\n' right after `<think>` and one right
//               before `</think>` are dropped (they belong to the delimiters: R1 writes
//               "<think>\nTEXT\n</think>\n\n"), so re-rendering "<think>\n" + reasoning +
//               "\n</think>\n\n" gives the model's bytes back. A nested `<think>` is dropped.
//   kContent    answer text. Recognised: `<think>` (a later thinking block: reasoning again),
//               a stray `</think>` (dropped), ``` (toggles a code fence; inside a fence only the
//               openers a format marks in_fence count, so calls quoted in a code block stay
//               content), and the format's tool-block openers. Whitespace at the start of the
//               content, after `</think>` and after a tool block is dropped; whitespace right
//               before a tool block or thinking block is dropped too (it is held back until
//               the next byte decides it, and released at the end).
//   kToolBlock  the format's scan_block() consumes the block and reports calls as each closes.
//   kWholeContentCalls  Llama 3: content that began like a call object is held back until it
//               is known to be calls only (end of output) or not (any other text).
//
// Every decision waits until the bytes that decide it are present (a possible delimiter prefix
// at the end of the buffer is held back), so the events' concatenated text, the calls and the
// errors are the same under any chunking of the output.
#include "engine/chat/chat_format.h"

#include <algorithm>
#include <cctype>

#include "core/json_schema.h"
#include "engine/chat/chatml.h"
#include "engine/chat/deepseek_r1.h"
#include "engine/chat/llama3.h"
#include "engine/tokenizer.h"

namespace r1 {

// ---- tool lists, tool choice, validation -------------------------------------------------------

namespace {

// OpenAI's rule for function names, plus '.', which some tool sets use for namespaces.
bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

const char* json_type_name(const nlohmann::json& j) {
  return j.type_name();
}

}  // namespace

Result<std::vector<ToolSpec>> parse_tool_list(const nlohmann::json& list) {
  if (!list.is_array()) {
    return Status::invalid(std::string("tools: expected an array, got ") + json_type_name(list));
  }
  std::vector<ToolSpec> tools;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& entry = list[i];
    std::string where = "tools[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      return Status::invalid(where + ": expected an object, got " + json_type_name(entry));
    }
    const nlohmann::json* fn = &entry;
    if (auto t = entry.find("type"); t != entry.end()) {
      if (!t->is_string() || t->get<std::string>() != "function") {
        return Status::invalid(where + ".type: only \"function\" tools are supported, got " +
                               t->dump());
      }
    }
    if (auto f = entry.find("function"); f != entry.end()) {
      if (!f->is_object()) {
        return Status::invalid(where + ".function: expected an object, got " + json_type_name(*f));
      }
      fn = &*f;
      where += ".function";
    }
    ToolSpec spec;
    auto name = fn->find("name");
    if (name == fn->end()) return Status::invalid(where + ".name: missing");
    if (!name->is_string()) {
      return Status::invalid(where + ".name: expected a string, got " + json_type_name(*name));
    }
    spec.name = name->get<std::string>();
    if (!valid_tool_name(spec.name)) {
      return Status::invalid(where + ".name: \"" + spec.name +
                             "\" is not a tool name (1 to 64 of a-z A-Z 0-9 _ - .)");
    }
    for (const ToolSpec& t : tools) {
      if (t.name == spec.name) {
        return Status::invalid(where + ".name: duplicate tool name \"" + spec.name + "\"");
      }
    }
    if (auto d = fn->find("description"); d != fn->end() && !d->is_null()) {
      if (!d->is_string()) {
        return Status::invalid(where + ".description: expected a string, got " +
                               json_type_name(*d));
      }
      spec.description = d->get<std::string>();
    }
    if (auto p = fn->find("parameters"); p != fn->end() && !p->is_null()) {
      if (!p->is_object()) {
        return Status::invalid(where + ".parameters: expected a JSON Schema object, got " +
                               json_type_name(*p));
      }
      Status s = check_json_schema(*p);
      if (!s) return Status::invalid(where + ".parameters: " + s.message());
      spec.parameters = *p;
    }
    tools.push_back(std::move(spec));
  }
  return tools;
}

Result<ToolChoice> parse_tool_choice(const nlohmann::json& value) {
  ToolChoice choice;
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    if (s == "auto") return choice;
    if (s == "none") {
      choice.mode = ToolChoice::Mode::kNone;
      return choice;
    }
    if (s == "required") {
      choice.mode = ToolChoice::Mode::kRequired;
      return choice;
    }
    if (s.empty()) return Status::invalid("tool_choice: empty string");
    choice.mode = ToolChoice::Mode::kNamed;
    choice.name = s;
    return choice;
  }
  if (value.is_object()) {
    auto fn = value.find("function");
    auto type = value.find("type");
    if (type != value.end() && (!type->is_string() || type->get<std::string>() != "function")) {
      return Status::invalid("tool_choice.type: expected \"function\", got " + type->dump());
    }
    if (fn == value.end() || !fn->is_object()) {
      return Status::invalid(
          "tool_choice: expected {\"type\": \"function\", \"function\": "
          "{\"name\": NAME}}");
    }
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty()) {
      return Status::invalid("tool_choice.function.name: expected a non-empty string");
    }
    choice.mode = ToolChoice::Mode::kNamed;
    choice.name = name->get<std::string>();
    return choice;
  }
  return Status::invalid(std::string("tool_choice: expected \"auto\", \"none\", \"required\", a "
                                     "tool name or a function object, got ") +
                         json_type_name(value));
}

std::optional<ToolCallError> validate_tool_call(const ToolCall& call,
                                                const std::vector<ToolSpec>& tools) {
  ToolCallError error;
  error.name = call.name;
  error.raw = call.arguments;
  const ToolSpec* spec = nullptr;
  for (const ToolSpec& t : tools) {
    if (t.name == call.name) spec = &t;
  }
  if (spec == nullptr) {
    error.message = "unknown tool \"" + call.name + "\"";
    if (!tools.empty()) {
      error.message += " (known:";
      for (size_t i = 0; i < tools.size(); ++i) {
        error.message += (i ? ", \"" : " \"") + tools[i].name + "\"";
      }
      error.message += ")";
    }
    return error;
  }
  Result<nlohmann::json> args = parse_json(call.arguments);
  if (!args) {
    error.message = "arguments: " + args.status().message();
    return error;
  }
  if (!args->is_object()) {
    error.message = std::string("arguments: expected a JSON object, got ") + args->type_name();
    return error;
  }
  std::vector<SchemaViolation> violations = validate_json(spec->parameters, *args);
  if (!violations.empty()) {
    error.message = describe_violations(violations);
    return error;
  }
  return std::nullopt;
}

// ---- lookup and detection
// -------------------------------------------------------------------------

Result<std::unique_ptr<ChatFormat>> make_chat_format(std::string_view name) {
  if (name == "deepseek-r1") return make_deepseek_r1_format();
  if (name == "chatml") return make_chatml_format();
  if (name == "llama3") return make_llama3_format();
  return Status::invalid("chat format \"" + std::string(name) +
                         "\": unknown (known: deepseek-r1, chatml, llama3)");
}

std::string chatml_default_system(std::string_view tmpl) {
  static constexpr std::string_view kMarker = "<|im_start|>system";
  size_t at = 0;
  while ((at = tmpl.find(kMarker, at)) != std::string_view::npos) {
    at += kMarker.size();
    size_t start = at;
    if (tmpl.substr(start, 1) == "\n") {
      start += 1;
    } else if (tmpl.substr(start, 2) == "\\n") {
      start += 2;
    } else {
      continue;
    }
    size_t end = tmpl.find("<|im_end|>", start);
    if (end == std::string_view::npos) break;
    std::string_view literal = tmpl.substr(start, end - start);
    // A literal only: an expression ("' + message['content'] + '") is not a default.
    if (literal.empty() || literal.find_first_of("'\"{}+") != std::string_view::npos) continue;
    std::string out;
    for (size_t i = 0; i < literal.size(); ++i) {
      if (literal[i] == '\\' && i + 1 < literal.size() && literal[i + 1] == 'n') {
        out += '\n';
        ++i;
      } else {
        out += literal[i];
      }
    }
    return out;
  }
  return "";
}

Result<std::unique_ptr<ChatFormat>> detect_chat_format(const std::string& chat_template,
                                                       const Tokenizer& tokenizer) {
  // R1 first: R1-Distill-Qwen's vocabulary also holds Qwen's <|im_start|>.
  if (chat_template.find("<｜Assistant｜>") != std::string::npos ||
      chat_template.find("<｜User｜>") != std::string::npos) {
    return make_deepseek_r1_format();
  }
  if (chat_template.find("<|start_header_id|>") != std::string::npos) return make_llama3_format();
  if (chat_template.find("<|im_start|>") != std::string::npos) {
    return make_chatml_format(chatml_default_system(chat_template));
  }
  if (tokenizer.find_token("<｜User｜>") || tokenizer.find_token("<｜Assistant｜>")) {
    return make_deepseek_r1_format();
  }
  if (tokenizer.find_token("<|start_header_id|>")) return make_llama3_format();
  if (tokenizer.find_token("<|im_start|>")) return make_chatml_format();
  return Status::unsupported(
      "chat format: neither tokenizer.chat_template nor the vocabulary names a known format "
      "(deepseek-r1: <｜User｜>, chatml: <|im_start|>, llama3: <|start_header_id|>)");
}

// ---- shared helpers
// ------------------------------------------------------------------------------

namespace chat_detail {

namespace {

constexpr std::string_view kThinkClose = "</think>";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// End (one past) of the JSON value starting at text[i], for text already known to be valid JSON.
size_t skip_json_value(std::string_view text, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // the end of the enclosing container
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',' || is_space(c))) {
      return i;
    }
  }
  return i;
}

size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

// The raw text of the top-level member `key` of the object `text` (valid JSON); empty if none.
std::string_view member_text(std::string_view text, const std::string& key) {
  size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return {};
  ++i;
  while (true) {
    i = skip_space(text, i);
    if (i >= text.size() || text[i] != '"') return {};
    size_t key_end = skip_json_value(text, i);
    Result<nlohmann::json> k = parse_json(text.substr(i, key_end - i));
    i = skip_space(text, key_end);
    if (i >= text.size() || text[i] != ':') return {};
    i = skip_space(text, i + 1);
    size_t value_end = skip_json_value(text, i);
    if (k && k->is_string() && k->get<std::string>() == key) {
      return text.substr(i, value_end - i);
    }
    i = skip_space(text, value_end);
    if (i >= text.size() || text[i] != ',') return {};
    ++i;
  }
}

}  // namespace

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

DelimiterMatch find_delimiter(std::string_view text, const std::vector<std::string>& delimiters,
                              bool at_end) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const size_t rest = text.size() - i;
    int best = -1;
    size_t best_len = 0;
    bool pending = false;
    for (size_t k = 0; k < delimiters.size(); ++k) {
      const std::string& d = delimiters[k];
      if (d.empty() || d[0] != c) continue;
      if (rest >= d.size()) {
        if (d.size() > best_len && text.compare(i, d.size(), d) == 0) {
          best = static_cast<int>(k);
          best_len = d.size();
        }
      } else if (!at_end && d.compare(0, rest, text.substr(i)) == 0) {
        pending = true;
      }
    }
    if (pending) return {i, -1};
    if (best >= 0) return {i, best};
  }
  return {};
}

std::optional<std::string> normalize_arguments(std::string_view args_text, std::string& out) {
  std::string_view text = trim(args_text);
  Result<nlohmann::json> args = parse_json(text);
  if (!args) return "arguments: " + args.status().message();
  if (args->is_object()) {
    out = std::string(text);
    return std::nullopt;
  }
  if (args->is_string()) {
    // Some models quote the arguments object: {"arguments": "{\"city\": \"Paris\"}"}.
    std::string inner(trim(args->get<std::string>()));
    Result<nlohmann::json> parsed = parse_json(inner);
    if (!parsed) return "arguments (a string holding JSON): " + parsed.status().message();
    if (!parsed->is_object()) {
      return std::string("arguments (a string holding JSON): expected a JSON object, got ") +
             parsed->type_name();
    }
    out = std::move(inner);
    return std::nullopt;
  }
  return std::string("arguments: expected a JSON object, got ") + args->type_name();
}

Result<std::vector<const ToolSpec*>> grammar_tools(const std::vector<ToolSpec>& tools,
                                                   const ToolChoice& choice) {
  if (choice.mode == ToolChoice::Mode::kNone) {
    return Status::invalid("tool_choice \"none\": no tool call is allowed, so there is no grammar");
  }
  if (tools.empty()) return Status::invalid("tool-call grammar: no tools");
  std::vector<const ToolSpec*> out;
  for (const ToolSpec& t : tools) {
    if (choice.mode != ToolChoice::Mode::kNamed || t.name == choice.name) out.push_back(&t);
  }
  if (out.empty()) {
    return Status::invalid("tool_choice: no tool named \"" + choice.name + "\"");
  }
  return out;
}

nlohmann::json arguments_schema(const ToolSpec& tool) {
  nlohmann::json schema = tool.parameters;
  if (!schema.is_object()) schema = nlohmann::json::object();
  if (!schema.contains("type") && !schema.contains("anyOf") && !schema.contains("oneOf") &&
      !schema.contains("$ref") && !schema.contains("allOf")) {
    schema["type"] = "object";
  }
  return schema;
}

Result<std::vector<Grammar>> call_object_grammars(const std::vector<const ToolSpec*>& selected,
                                                  const std::string& args_key,
                                                  const JsonGrammarOptions& options) {
  std::vector<Grammar> objects;
  for (const ToolSpec* t : selected) {
    nlohmann::json schema = {
        {"type", "object"},
        {"properties", {{"name", {{"const", t->name}}}, {args_key, arguments_schema(*t)}}},
        {"required", {"name", args_key}},
        {"additionalProperties", false}};
    Result<Grammar> g = grammar::json_schema(schema, options);
    if (!g) {
      const Status& st = g.status();
      return st.code() == StatusCode::kUnsupported
                 ? Status::unsupported("tool \"" + t->name + "\": " + st.message())
                 : Status::invalid("tool \"" + t->name + "\": " + st.message());
    }
    objects.push_back(*g);
  }
  return objects;
}

CallParse parse_call_object(std::string_view json_text,
                            const std::vector<std::string>& argument_keys,
                            const std::string& where) {
  CallParse out;
  std::string_view text = trim(json_text);
  out.error.raw = std::string(json_text);
  Result<nlohmann::json> obj = parse_json(text);
  if (!obj) {
    out.error.message = where + ": " + obj.status().message();
    return out;
  }
  if (!obj->is_object()) {
    out.error.message = where + ": expected a JSON object, got " + obj->type_name();
    return out;
  }
  auto name = obj->find("name");
  if (name == obj->end() || !name->is_string() || name->get<std::string>().empty()) {
    out.error.message = where + ": missing \"name\" (a non-empty string)";
    return out;
  }
  out.error.name = out.call.name = name->get<std::string>();
  std::string key;
  for (const std::string& k : argument_keys) {
    if (obj->contains(k)) {
      key = k;
      break;
    }
  }
  if (key.empty()) {
    out.error.message = where + ": missing \"" + argument_keys.front() + "\"";
    return out;
  }
  std::string_view raw_args = trim(member_text(text, key));
  if (auto e = normalize_arguments(raw_args, out.call.arguments)) {
    // The message names the key the model used ("parameters: ..." for Llama 3).
    out.error.message = where + ": " + key + e->substr(std::string_view("arguments").size());
    return out;
  }
  out.ok = true;
  return out;
}

std::string content_without_reasoning(std::string_view content) {
  size_t p = content.rfind(kThinkClose);
  if (p == std::string_view::npos) return std::string(content);
  return std::string(content.substr(p + kThinkClose.size()));
}

std::string kept_reasoning(const ChatMessage& message, const RenderOptions& options) {
  if (!options.keep_tool_call_reasoning || message.tool_calls.empty() ||
      message.reasoning.empty()) {
    return "";
  }
  return "<think>\n" + message.reasoning + "\n</think>\n\n";
}

nlohmann::ordered_json tool_json(const ToolSpec& tool, bool wrapped) {
  nlohmann::ordered_json fn = nlohmann::ordered_json::object();
  fn["name"] = tool.name;
  if (!tool.description.empty()) fn["description"] = tool.description;
  fn["parameters"] = nlohmann::ordered_json::parse(tool.parameters.dump());
  if (!wrapped) return fn;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["type"] = "function";
  out["function"] = std::move(fn);
  return out;
}

std::string python_json(const nlohmann::ordered_json& value) {
  if (value.is_object()) {
    if (value.empty()) return "{}";
    std::string out = "{";
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!first) out += ", ";
      first = false;
      out += nlohmann::ordered_json(it.key()).dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
      out += ": " + python_json(it.value());
    }
    return out + "}";
  }
  if (value.is_array()) {
    if (value.empty()) return "[]";
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + python_json(value[i]);
    return out + "]";
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status check_conversation(const std::vector<ChatMessage>& messages, bool allow_ipython) {
  bool calls_open = false;  // the latest non-tool turn was an assistant turn with calls
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (m.role == "tool" || (allow_ipython && m.role == "ipython")) {
      if (!calls_open) {
        return Status::invalid(where +
                               ": a tool result without a preceding assistant turn "
                               "that made tool calls");
      }
    } else if (m.role == "assistant") {
      calls_open = !m.tool_calls.empty();
    } else if (m.role == "system" || m.role == "user") {
      calls_open = false;
    } else {
      return Status::invalid(where + ".role: unknown role \"" + m.role +
                             "\" (known: system, user, assistant, tool)");
    }
  }
  return Status::ok();
}

bool render_tools(const std::vector<ToolSpec>& tools, const RenderOptions& options) {
  return !tools.empty() && options.tool_choice.mode != ToolChoice::Mode::kNone;
}

// ---- StreamingParser
// -------------------------------------------------------------------------------

namespace {
enum DelimiterKind {
  kKindThinkOpen = -1,
  kKindThinkClose = -2,
  kKindFence = -3
};  // >= 0: opener index
constexpr std::string_view kThinkOpenText = "<think>";
constexpr std::string_view kThinkCloseText = "</think>";
}  // namespace

StreamingParser::StreamingParser(bool starts_in_thinking)
    : state_(starts_in_thinking ? State::kReasoning : State::kContent), strip_space_(true) {}

const std::vector<std::string>& StreamingParser::whole_content_starts() const {
  static const std::vector<std::string> kNone;
  return kNone;
}

void StreamingParser::add_call(ToolCall call) {
  if (call.id.empty()) call.id = "call_" + std::to_string(next_call_++);
  parsed_.tool_calls.push_back(call);
  ChatEvent e{ChatEvent::Kind::kToolCall, "", std::move(call), {}};
  if (events_) events_->push_back(std::move(e));
}

void StreamingParser::add_error(ToolCallError error) {
  parsed_.errors.push_back(error);
  ChatEvent e{ChatEvent::Kind::kToolCallError, "", {}, std::move(error)};
  if (events_) events_->push_back(std::move(e));
}

void StreamingParser::push(std::string_view text, std::vector<ChatEvent>& events) {
  events_ = &events;
  buffer_.append(text);
  run(false);
  events_ = nullptr;
}

void StreamingParser::finish(std::vector<ChatEvent>& events) {
  events_ = &events;
  run(true);
  if (state_ == State::kReasoning) parsed_.reasoning_truncated = true;
  if (!held_space_.empty()) {
    std::string space = std::move(held_space_);
    held_space_.clear();
    emit_content_now(space);
  }
  events_ = nullptr;
}

void StreamingParser::run(bool at_end) {
  for (;;) {
    bool progressed = false;
    switch (state_) {
      case State::kReasoning:
        progressed = step_reasoning(at_end);
        break;
      case State::kContent:
        progressed = step_content(at_end);
        break;
      case State::kToolBlock:
        progressed = step_block(at_end);
        break;
      case State::kWholeContentCalls:
        progressed = step_whole_content(at_end);
        break;
    }
    if (!progressed) break;
  }
}

void StreamingParser::consume(size_t n) {
  buffer_.erase(0, n);
  offset_ += n;
}

bool StreamingParser::step_reasoning(bool at_end) {
  if (buffer_.empty()) return false;
  if (strip_newline_) {
    strip_newline_ = false;
    if (buffer_[0] == '\n') consume(1);
    return true;
  }
  static const std::vector<std::string> kDelims = {"\n</think>", "</think>", "<think>"};
  DelimiterMatch m = find_delimiter(buffer_, kDelims, at_end);
  if (m.pos == std::string::npos) {
    emit_reasoning(buffer_);
    consume(buffer_.size());
    return false;
  }
  emit_reasoning(std::string_view(buffer_).substr(0, m.pos));
  consume(m.pos);
  if (m.index < 0) return false;  // a possible delimiter: wait for more
  consume(kDelims[m.index].size());
  if (m.index == 2) {
    strip_newline_ = true;
  } else {
    state_ = State::kContent;
    strip_space_ = true;
  }
  return true;
}

bool StreamingParser::step_content(bool at_end) {
  if (buffer_.empty()) return false;
  if (strip_space_) {
    size_t n = 0;
    while (n < buffer_.size() && is_space(buffer_[n])) ++n;
    // Only whitespace so far: drop it and keep stripping.
    if (n == buffer_.size() && !at_end) {
      consume(n);
      return false;
    }
    consume(n);
    strip_space_ = false;
    if (buffer_.empty()) return false;
  }
  if (!whole_content_done_) {
    const std::vector<std::string>& starts = whole_content_starts();
    if (starts.empty()) {
      whole_content_done_ = true;
    } else {
      size_t i = 0;
      while (i < buffer_.size() && is_space(buffer_[i])) ++i;
      if (i == buffer_.size() && !at_end) return false;
      std::string_view rest = std::string_view(buffer_).substr(i);
      // A thinking block may come first: the delimiter scan below takes it, and the check
      // runs again on the content after it.
      bool wait = false, think_first = false;
      for (size_t k = 0; k <= starts.size(); ++k) {
        std::string_view s = k < starts.size() ? std::string_view(starts[k]) : kThinkOpenText;
        if (rest.size() >= s.size() && rest.compare(0, s.size(), s) == 0) {
          if (k == starts.size()) {
            think_first = true;
            continue;
          }
          state_ = State::kWholeContentCalls;
          return true;
        }
        if (rest.size() < s.size() && !at_end && s.compare(0, rest.size(), rest) == 0) {
          wait = true;
        }
      }
      if (wait) return false;
      if (!think_first) whole_content_done_ = true;
    }
  }
  if (content_delimiters_.empty()) {
    content_delimiters_ = {std::string(kThinkOpenText), std::string(kThinkCloseText), "```"};
    delimiter_kind_ = {kKindThinkOpen, kKindThinkClose, kKindFence};
    const std::vector<Opener>& ops = openers();
    for (size_t i = 0; i < ops.size(); ++i) {
      content_delimiters_.push_back(ops[i].text);
      delimiter_kind_.push_back(static_cast<int>(i));
    }
    for (size_t i = 0; i < content_delimiters_.size(); ++i) {
      if (delimiter_kind_[i] < 0 || ops[delimiter_kind_[i]].in_fence) {
        fenced_delimiters_.push_back(content_delimiters_[i]);
        fenced_kind_.push_back(delimiter_kind_[i]);
      }
    }
  }
  const std::vector<std::string>& delims = in_fence_ ? fenced_delimiters_ : content_delimiters_;
  const std::vector<int>& kinds = in_fence_ ? fenced_kind_ : delimiter_kind_;
  DelimiterMatch m = find_delimiter(buffer_, delims, at_end);
  if (m.pos == std::string::npos) {
    emit_content(buffer_);
    consume(buffer_.size());
    return false;
  }
  emit_content(std::string_view(buffer_).substr(0, m.pos));
  consume(m.pos);
  if (m.index < 0) return false;
  consume(delims[m.index].size());
  const int kind = kinds[m.index];
  if (kind == kKindThinkOpen) {
    held_space_.clear();
    state_ = State::kReasoning;
    strip_newline_ = true;
  } else if (kind == kKindThinkClose) {
    held_space_.clear();
    strip_space_ = true;
  } else if (kind == kKindFence) {
    emit_content("```");
    in_fence_ = !in_fence_;
  } else {
    held_space_.clear();
    whole_content_done_ = true;
    state_ = State::kToolBlock;
    block_opener_ = kind;
  }
  return true;
}

bool StreamingParser::step_block(bool at_end) {
  bool closed = false;
  size_t n = scan_block(block_opener_, buffer_, offset_, at_end, closed);
  n = std::min(n, buffer_.size());
  consume(n);
  if (at_end && !closed) {  // a scan_block that broke its promise: never loop
    consume(buffer_.size());
    closed = true;
  }
  if (closed) {
    state_ = State::kContent;
    strip_space_ = true;
    block_opener_ = -1;
    return true;
  }
  return n > 0;
}

bool StreamingParser::step_whole_content(bool at_end) {
  Verdict v = scan_whole_content(buffer_, offset_, at_end);
  if (v == Verdict::kNeedMore && at_end) v = Verdict::kNotCalls;
  if (v == Verdict::kNeedMore) return false;
  whole_content_done_ = true;
  state_ = State::kContent;
  if (v == Verdict::kCalls) consume(buffer_.size());
  return true;
}

void StreamingParser::emit_reasoning(std::string_view text) {
  if (text.empty()) return;
  parsed_.reasoning.append(text);
  if (events_) events_->push_back({ChatEvent::Kind::kReasoning, std::string(text), {}, {}});
}

void StreamingParser::emit_content(std::string_view text) {
  if (text.empty()) return;
  size_t body_end = text.size();
  while (body_end > 0 && is_space(text[body_end - 1])) --body_end;
  if (body_end == 0) {
    held_space_.append(text);
    return;
  }
  whole_content_done_ = true;
  std::string out = std::move(held_space_);
  held_space_.assign(text.substr(body_end));
  out.append(text.substr(0, body_end));
  emit_content_now(out);
}

void StreamingParser::emit_content_now(std::string_view text) {
  // `</think>` never reaches content, not even when text removed between two pieces (a tool
  // block, a stray tag) joins "</thi" and "nk>": the '>' that would complete it is dropped. Byte
  // by byte, so the result does not depend on how the text was split.
  std::string s;
  s.reserve(text.size());
  const std::string& c = parsed_.content;
  auto ends_with_open_tag = [&] {
    constexpr std::string_view kStem = "</think";
    if (s.size() >= kStem.size())
      return std::string_view(s).substr(s.size() - kStem.size()) == kStem;
    size_t from_c = kStem.size() - s.size();
    if (c.size() < from_c) return false;
    return std::string_view(c).substr(c.size() - from_c) == kStem.substr(0, from_c) &&
           std::string_view(s) == kStem.substr(from_c);
  };
  for (char ch : text) {
    if (ch == '>' && ends_with_open_tag()) continue;
    s.push_back(ch);
  }
  if (s.empty()) return;
  parsed_.content.append(s);
  if (events_) events_->push_back({ChatEvent::Kind::kContent, std::move(s), {}, {}});
}

}  // namespace chat_detail
}  // namespace r1
