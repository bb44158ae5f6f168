// The ChatML chat format.
//
// Prompt layout (byte-exact with Qwen2.5-7B-Instruct's template, and with SmolLM2's when it has
// no tools; the default system message is the template's own, "" for none):
//
//   no tools   [<|im_start|>system\n{first system message, or the default}<|im_end|>\n]
//   tools      <|im_start|>system\n[{system or default}\n\n]# Tools\n\nYou may call one or more
//              functions to assist with the user query.\n\nYou are provided with function
//              signatures within <tools></tools> XML tags:\n<tools>("\n"{tool as JSON})*
//              \n</tools>\n\nFor each function call, return a json object with function name and
//              arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name":
//              <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n
//              (each tool as {"type": "function", "function": {...}} with Python's separators)
//   user, system  <|im_start|>ROLE\n{content}<|im_end|>\n
//   assistant  <|im_start|>assistant\n{content after its last </think>}<|im_end|>\n
//   with calls <|im_start|>assistant[\n[<think>\n{reasoning}\n</think>\n\n]{content}]
//              (\n<tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>)*<|im_end|>\n
//   tool       <|im_start|>user(\n<tool_response>\n{result}\n</tool_response>)*<|im_end|>\n
//              for each run of consecutive tool messages (Qwen2.5; Hermes 3 says "tool")
//   generation <|im_start|>assistant\n[<think>\n]
//
// Output: reasoning as in chat_format.cpp; calls are `<tool_call>` JSON `</tool_call>` blocks,
// any number, anywhere in content except inside a ``` code block. The JSON is {"name": NAME,
// "arguments": ARGS} ("parameters" accepted too); ARGS may be a string holding the object; a
// ```json fence inside the block is tolerated.
#include "engine/chat/chatml.h"

#include <cctype>

namespace r1 {

namespace {

using chat_detail::trim;

constexpr std::string_view kCallOpen = "<tool_call>";
constexpr std::string_view kCallClose = "</tool_call>";

class ChatmlParser : public chat_detail::StreamingParser {
 public:
  explicit ChatmlParser(bool starts_in_thinking) : StreamingParser(starts_in_thinking) {}

 private:
  const std::vector<Opener>& openers() const override {
    static const std::vector<Opener> kOpeners = {{std::string(kCallOpen), false}};
    return kOpeners;
  }

  size_t scan_block(int opener, std::string_view text, size_t offset, bool at_end,
                    bool& closed) override {
    static const std::vector<std::string> kClose = {std::string(kCallClose)};
    chat_detail::DelimiterMatch m = chat_detail::find_delimiter(text, kClose, at_end);
    if (m.index < 0 && !at_end) return 0;
    closed = true;
    std::string_view body = m.index < 0 ? text : text.substr(0, m.pos);
    size_t lead = 0;
    while (lead < body.size() && std::isspace(static_cast<unsigned char>(body[lead]))) ++lead;
    // The opener's offset: errors point at the block the model wrote.
    const std::string where = "tool call at byte " + std::to_string(offset - kCallOpen.size());
    if (m.index < 0) {
      ToolCallError error;
      error.raw = std::string(kCallOpen) + std::string(text);
      error.message = where + ": unclosed <tool_call> (the output ended before </tool_call>)";
      add_error(std::move(error));
      return text.size();
    }
    std::string_view json = trim(body);
    if (json.substr(0, 3) == "```") {  // a fenced object inside the block
      size_t nl = json.find('\n');
      json = nl == std::string_view::npos ? json.substr(3) : json.substr(nl + 1);
      if (json.size() >= 3 && json.substr(json.size() - 3) == "```") {
        json = json.substr(0, json.size() - 3);
      }
    }
    chat_detail::CallParse p =
        chat_detail::parse_call_object(json, {"arguments", "parameters"}, where);
    if (p.ok) {
      add_call(std::move(p.call));
    } else {
      p.error.raw = std::string(kCallOpen) + std::string(body) + std::string(kCallClose);
      add_error(std::move(p.error));
    }
    return m.pos + kCallClose.size();
  }
};

class ChatmlFormat : public ChatFormat {
 public:
  explicit ChatmlFormat(std::string default_system) : default_system_(std::move(default_system)) {}

  std::string_view name() const override { return "chatml"; }

  Result<std::string> render(const std::vector<ChatMessage>& messages,
                             const std::vector<ToolSpec>& tools,
                             const RenderOptions& options) const override {
    R1_RETURN_IF_ERROR(chat_detail::check_conversation(messages, false));
    const bool system_first = !messages.empty() && messages[0].role == "system";
    const std::string& system = system_first ? messages[0].content : default_system_;
    std::string out;
    if (chat_detail::render_tools(tools, options)) {
      out += "<|im_start|>system\n";
      if (!system.empty()) out += system + "\n\n";
      out +=
          "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou "
          "are provided with function signatures within <tools></tools> XML tags:\n<tools>";
      for (const ToolSpec& t : tools) {
        out += '\n';
        out += chat_detail::python_json(chat_detail::tool_json(t, true));
      }
      out +=
          "\n</tools>\n\nFor each function call, return a json object with function name and "
          "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
          "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
    } else if (system_first || !system.empty()) {
      out += "<|im_start|>system\n" + system + "<|im_end|>\n";
    }
    for (size_t i = system_first ? 1 : 0; i < messages.size(); ++i) {
      const ChatMessage& m = messages[i];
      if (m.role == "user" || m.role == "system") {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      } else if (m.role == "assistant" && m.tool_calls.empty()) {
        out += "<|im_start|>assistant\n" + chat_detail::content_without_reasoning(m.content) +
               "<|im_end|>\n";
      } else if (m.role == "assistant") {
        std::string content = chat_detail::kept_reasoning(m, options) +
                              chat_detail::content_without_reasoning(m.content);
        out += "<|im_start|>assistant";
        if (!content.empty()) {
          out += '\n';
          out += content;
        }
        out += render_tool_calls(m.tool_calls) + "<|im_end|>\n";
      } else if (m.role == "tool") {
        if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
        out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
        if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
      }
    }
    if (options.add_generation_prompt) {
      out += "<|im_start|>assistant\n";
      if (options.think) out += "<think>\n";
    }
    return out;
  }

  bool prompt_opens_thinking(const RenderOptions& options) const override {
    return options.add_generation_prompt && options.think;
  }

  std::unique_ptr<OutputParser> make_parser(bool starts_in_thinking) const override {
    return std::make_unique<ChatmlParser>(starts_in_thinking);
  }

  std::string render_tool_calls(const std::vector<ToolCall>& calls) const override {
    std::string out;
    for (const ToolCall& c : calls) {
      out += "\n<tool_call>\n{\"name\": \"" + c.name + "\", \"arguments\": " + c.arguments +
             "}\n</tool_call>";
    }
    return out;
  }

  Result<ToolCallGrammar> tool_call_grammar(const std::vector<ToolSpec>& tools,
                                            const ToolChoice& choice) const override {
    Result<std::vector<const ToolSpec*>> selected = chat_detail::grammar_tools(tools, choice);
    if (!selected) return selected.status();
    const JsonGrammarOptions json_options;
    Result<std::vector<Grammar>> objects =
        chat_detail::call_object_grammars(*selected, "arguments", json_options);
    if (!objects) return objects.status();
    Grammar ws = grammar::whitespace(json_options.max_whitespace);
    Grammar one =
        grammar::sequence({grammar::literal(std::string(kCallOpen)), ws, grammar::choice(*objects),
                           ws, grammar::literal(std::string(kCallClose))});
    ToolCallGrammar out;
    out.triggers = {std::string(kCallOpen)};
    out.grammar = grammar::sequence({one, grammar::repeat(grammar::sequence({ws, one}), 0, -1)});
    return out;
  }

 private:
  std::string default_system_;
};

}  // namespace

std::unique_ptr<ChatFormat> make_chatml_format(std::string default_system) {
  return std::make_unique<ChatmlFormat>(std::move(default_system));
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const std::string& default_system) {
  std::string out;
  if (!default_system.empty() && (messages.empty() || messages[0].role != "system")) {
    out += "<|im_start|>system\n" + default_system + "<|im_end|>\n";
  }
  for (const ChatMessage& m : messages) {
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace r1
