// The Llama 3.1 chat format.
//
// Prompt layout (byte-exact with Llama-3.1-8B-Instruct's template with its defaults: tools in
// the first user message, date_string "26 Jul 2024", no builtin tools):
//
//   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
//   [tools: "Environment: ipython\n"]"Cutting Knowledge Date: December 2023\nToday Date: "
//   {date}"\n\n"{first system message, trimmed}<|eot_id|>
//   [tools: <|start_header_id|>user<|end_header_id|>\n\n"Given the following functions, please
//    respond with a JSON for a function call with its proper arguments that best answers the
//    given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of
//    argument name and its value}.Do not use variables.\n\n"({tool as JSON, indent 4}"\n\n")*
//    {first user message, trimmed}<|eot_id|>]
//   turn       <|start_header_id|>ROLE<|end_header_id|>\n\n{content, trimmed}<|eot_id|>
//              (assistant content after its last </think>)
//   calls      <|start_header_id|>assistant<|end_header_id|>\n\n[<think>\n{reasoning}\n</think>
//              \n\n]{"name": "NAME", "parameters": ARGS}("; "{...})*<|eot_id|>   (the template
//              allows one call; several are written as Llama 3.2+ writes them, "; " apart)
//   tool       <|start_header_id|>ipython<|end_header_id|>\n\n{result as a JSON string}<|eot_id|>
//              (Jinja's `is iterable` is true for strings, so the template quotes them)
//   generation <|start_header_id|>assistant<|end_header_id|>\n\n[<think>\n]
//
// Output: reasoning as in chat_format.cpp; the answer is calls only when the whole content is
// call objects {"name": NAME, "parameters" | "arguments": ARGS}, each optionally after
// <|python_tag|>, separated by whitespace or ';'. Any other text anywhere makes all of it
// content, so JSON inside prose (or in a ``` block) is never a call. Calls are therefore
// reported at finish(), when the content is known to be complete.
#include "engine/chat/llama3.h"

#include "core/json_schema.h"

namespace r1 {

namespace {

using chat_detail::trim;

constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kDefaultDate = "26 Jul 2024";

// One past the '}' that closes the object at text[i] ('{'); npos when the text ends first.
size_t object_end(std::string_view text, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

bool is_space_or_semicolon(char c) {
  return c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class Llama3Parser : public chat_detail::StreamingParser {
 public:
  explicit Llama3Parser(bool starts_in_thinking) : StreamingParser(starts_in_thinking) {}

 private:
  const std::vector<Opener>& openers() const override {
    static const std::vector<Opener> kNone;
    return kNone;
  }
  size_t scan_block(int, std::string_view text, size_t, bool, bool& closed) override {
    closed = true;  // never opened: no openers
    return text.size();
  }

  const std::vector<std::string>& whole_content_starts() const override {
    static const std::vector<std::string> kStarts = {"{", std::string(kPythonTag)};
    return kStarts;
  }

  Verdict scan_whole_content(std::string_view text, size_t offset, bool at_end) override {
    struct Item {
      bool ok;
      ToolCall call;
      ToolCallError error;
    };
    std::vector<Item> items;
    bool saw_tag = false;
    size_t i = 0;
    for (;;) {
      while (i < text.size() && is_space_or_semicolon(text[i])) ++i;
      if (i == text.size()) break;
      std::string_view rest = text.substr(i);
      if (rest.substr(0, kPythonTag.size()) == kPythonTag) {
        i += kPythonTag.size();
        saw_tag = true;
        continue;
      }
      if (rest.size() < kPythonTag.size() && kPythonTag.substr(0, rest.size()) == rest) {
        if (at_end) return Verdict::kNotCalls;
        return Verdict::kNeedMore;
      }
      if (rest[0] != '{') return Verdict::kNotCalls;
      const std::string where = "tool call at byte " + std::to_string(offset + i);
      size_t end = object_end(text, i);
      if (end == std::string_view::npos) {
        if (!at_end) return Verdict::kNeedMore;
        if (!saw_tag && !starts_like_call(rest)) return Verdict::kNotCalls;
        ToolCallError error;
        error.raw = std::string(rest);
        error.message = where + ": unclosed JSON object (the output ended inside the call)";
        items.push_back({false, {}, std::move(error)});
        break;
      }
      std::string_view object = text.substr(i, end - i);
      chat_detail::CallParse p =
          chat_detail::parse_call_object(object, {"parameters", "arguments"}, where);
      if (!p.ok) {
        bool attempt = saw_tag;
        if (Result<nlohmann::json> j = parse_json(object); j) {
          attempt = attempt || (j->is_object() && j->contains("name") &&
                                (j->contains("parameters") || j->contains("arguments")));
        } else {
          attempt = attempt || starts_like_call(object);
        }
        if (!attempt) return Verdict::kNotCalls;
      }
      items.push_back({p.ok, std::move(p.call), std::move(p.error)});
      i = end;
    }
    if (!at_end) return Verdict::kNeedMore;
    for (Item& item : items) {
      if (item.ok) {
        add_call(std::move(item.call));
      } else {
        add_error(std::move(item.error));
      }
    }
    return Verdict::kCalls;
  }

  // `{` then `"name"`: the model began a call even if what follows is broken.
  static bool starts_like_call(std::string_view s) {
    s.remove_prefix(1);
    return trim(s).substr(0, 6) == "\"name\"";
  }
};

class Llama3Format : public ChatFormat {
 public:
  std::string_view name() const override { return "llama3"; }

  Result<std::string> render(const std::vector<ChatMessage>& messages,
                             const std::vector<ToolSpec>& tools,
                             const RenderOptions& options) const override {
    R1_RETURN_IF_ERROR(chat_detail::check_conversation(messages, true));
    const bool with_tools = chat_detail::render_tools(tools, options);
    std::string out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n";
    if (with_tools) out += "Environment: ipython\n";
    out += "Cutting Knowledge Date: December 2023\nToday Date: ";
    out += options.date_string.empty() ? std::string(kDefaultDate) : options.date_string;
    out += "\n\n";
    size_t i = 0;
    if (!messages.empty() && messages[0].role == "system") {
      out += trim(messages[0].content);
      i = 1;
    }
    out += "<|eot_id|>";
    if (with_tools) {
      if (i >= messages.size() || messages[i].role != "user") {
        return Status::invalid(
            "messages: llama3 puts the tools in the first user message, and "
            "the conversation has none after the system message");
      }
      out += "<|start_header_id|>user<|end_header_id|>\n\n";
      out +=
          "Given the following functions, please respond with a JSON for a function call with "
          "its proper arguments that best answers the given prompt.\n\n";
      out +=
          "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
          "argument name and its value}.Do not use variables.\n\n";
      for (const ToolSpec& t : tools) {
        out += chat_detail::tool_json(t, true).dump(4, ' ', false,
                                                    nlohmann::json::error_handler_t::replace);
        out += "\n\n";
      }
      out += std::string(trim(messages[i].content)) + "<|eot_id|>";
      ++i;
    }
    for (; i < messages.size(); ++i) {
      const ChatMessage& m = messages[i];
      if (m.role == "assistant" && !m.tool_calls.empty()) {
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n" +
               chat_detail::kept_reasoning(m, options) + render_tool_calls(m.tool_calls) +
               "<|eot_id|>";
      } else if (m.role == "tool" || m.role == "ipython") {
        // The template's `content is iterable` holds for strings too, so it writes them tojson.
        out += "<|start_header_id|>ipython<|end_header_id|>\n\n" +
               nlohmann::json(m.content).dump(-1, ' ', false,
                                              nlohmann::json::error_handler_t::replace) +
               "<|eot_id|>";
      } else {
        std::string content =
            m.role == "assistant" ? chat_detail::content_without_reasoning(m.content) : m.content;
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" +
               std::string(trim(content)) + "<|eot_id|>";
      }
    }
    if (options.add_generation_prompt) {
      out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      if (options.think) out += "<think>\n";
    }
    return out;
  }

  bool prompt_opens_thinking(const RenderOptions& options) const override {
    return options.add_generation_prompt && options.think;
  }

  std::unique_ptr<OutputParser> make_parser(bool starts_in_thinking) const override {
    return std::make_unique<Llama3Parser>(starts_in_thinking);
  }

  std::string render_tool_calls(const std::vector<ToolCall>& calls) const override {
    std::string out;
    for (size_t i = 0; i < calls.size(); ++i) {
      if (i) out += "; ";
      out += "{\"name\": \"" + calls[i].name + "\", \"parameters\": " + calls[i].arguments + "}";
    }
    return out;
  }

  Result<ToolCallGrammar> tool_call_grammar(const std::vector<ToolSpec>& tools,
                                            const ToolChoice& choice) const override {
    Result<std::vector<const ToolSpec*>> selected = chat_detail::grammar_tools(tools, choice);
    if (!selected) return selected.status();
    const JsonGrammarOptions json_options;
    Result<std::vector<Grammar>> objects =
        chat_detail::call_object_grammars(*selected, "parameters", json_options);
    if (!objects) return objects.status();
    Grammar ws = grammar::whitespace(json_options.max_whitespace);
    Grammar call = grammar::choice(*objects);
    Grammar separator = grammar::sequence({ws, grammar::repeat(grammar::literal(";"), 0, 1), ws});
    ToolCallGrammar out;
    out.triggers = {std::string(kPythonTag), "{\"name\"", "{ \"name\""};
    out.grammar =
        grammar::sequence({grammar::repeat(grammar::literal(std::string(kPythonTag)), 0, 1), ws,
                           call, grammar::repeat(grammar::sequence({separator, call}), 0, -1)});
    return out;
  }
};

}  // namespace

std::unique_ptr<ChatFormat> make_llama3_format() {
  return std::make_unique<Llama3Format>();
}

}  // namespace r1
