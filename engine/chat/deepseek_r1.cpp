// The DeepSeek-R1 chat format.
//
// Prompt layout (byte-exact with the R1-Distill-Qwen/-Llama templates for system, user and
// assistant turns; the templates' tool parts only work for one tool round, so tool turns follow
// the same tokens with the bugs fixed, and the tool list is llama.cpp's R1 system preamble):
//
//   <｜begin▁of▁sentence｜>
//   [tools] "You can call any of the following function tools to satisfy the user's requests: "
//           + [function objects] as JSON, indent 2 + "\n\nExample function tool call syntax:\n\n"
//           + the example call + "\n\n"
//   {content of the last system message}
//   user       <｜User｜>{content}
//   assistant  <｜Assistant｜>[<think>\n{reasoning}\n</think>\n\n]{content after its last
//              </think>}[CALLS]<｜end▁of▁sentence｜>     (reasoning only when kept, see options)
//   CALLS      <｜tool▁calls▁begin｜>CALL("\n"CALL)*<｜tool▁calls▁end｜>
//   CALL       <｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{arguments}\n```
//              <｜tool▁call▁end｜>                          (arguments as their text, unquoted)
//   tools      <｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{result}<｜tool▁output▁end｜>
//              ("\n"<｜tool▁output▁begin｜>{result}<｜tool▁output▁end｜>)*<｜tool▁outputs▁end｜>
//              for each run of consecutive tool messages
//   generation <｜Assistant｜><think>\n   (always: the prompt opens thinking, also after tool
//              results, where the official template would let the model continue bare)
//
// Output: reasoning as in chat_format.cpp; then CALLS as above, with these tolerances, since the
// distills garble the special tokens they were never trained to emit:
//   - every delimiter <｜tool▁X▁Y｜> is also accepted with '_', ' ' or '\_' for each '▁' and with
//     ASCII '|' for both '｜'; the block opener also as <｜tool▁calls｜>;
//   - a block may start at a call opener without the block opener;
//   - the type word "function" may be missing; the ```json fence may be plain ``` or missing;
//   - <｜tool▁calls▁end｜> may be missing: after a call, text that opens neither another call
//     nor the block end closes the block, and that text is content again;
//   - an empty arguments body means {}.
// Only the canonical opener is recognised inside a ``` code block in content (a special token
// cannot be quoted by accident; the garbled spellings can).
#include "engine/chat/deepseek_r1.h"

#include <cctype>

#include "core/json_schema.h"

namespace r1 {

namespace {

using chat_detail::trim;

constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kOutputsBegin = "<｜tool▁outputs▁begin｜>";
constexpr std::string_view kOutputsEnd = "<｜tool▁outputs▁end｜>";
constexpr std::string_view kOutputBegin = "<｜tool▁output▁begin｜>";
constexpr std::string_view kOutputEnd = "<｜tool▁output▁end｜>";

// "<" BAR word (SEP word)* BAR ">" for every BAR and every SEP at each position.
void add_spellings(std::vector<std::string>& out, const std::vector<std::string>& words) {
  static const char* kBars[] = {"｜", "|"};
  static const char* kSeps[] = {"▁", "_", " ", "\\_"};
  const size_t n_gaps = words.size() - 1;
  size_t combos = 1;
  for (size_t i = 0; i < n_gaps; ++i) combos *= 4;
  for (const char* bar : kBars) {
    for (size_t c = 0; c < combos; ++c) {
      std::string s = std::string("<") + bar + words[0];
      size_t code = c;
      for (size_t i = 1; i < words.size(); ++i) {
        s += kSeps[code % 4];
        code /= 4;
        s += words[i];
      }
      out.push_back(s + bar + ">");
    }
  }
}

bool starts_with_any(std::string_view s, const std::vector<std::string>& options, size_t& len) {
  for (const std::string& o : options) {
    if (s.substr(0, o.size()) == o) {
      len = o.size();
      return true;
    }
  }
  return false;
}

class DeepseekR1Parser : public chat_detail::StreamingParser {
 public:
  explicit DeepseekR1Parser(bool starts_in_thinking) : StreamingParser(starts_in_thinking) {}

 private:
  enum class Expect { kSegment, kBetween };

  const std::vector<Opener>& openers() const override {
    static const std::vector<Opener> kOpeners = [] {
      const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
      std::vector<Opener> out;
      for (size_t i = 0; i < d.calls_begin.size(); ++i) out.push_back({d.calls_begin[i], i == 0});
      for (size_t i = 0; i < d.call_begin.size(); ++i) out.push_back({d.call_begin[i], i == 0});
      return out;
    }();
    return kOpeners;
  }

  size_t scan_block(int opener, std::string_view text, size_t offset, bool at_end,
                    bool& closed) override {
    const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
    static const std::vector<std::string> kSegmentEnds = [] {
      const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
      std::vector<std::string> out = d.call_end;
      out.insert(out.end(), d.calls_end.begin(), d.calls_end.end());
      return out;
    }();
    size_t pos = 0;
    for (;;) {
      std::string_view rest = text.substr(pos);
      if (expect_ == Expect::kBetween) {
        size_t i = 0;
        while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
        if (i == rest.size()) {
          if (at_end) close(closed);
          return pos + i;
        }
        std::string_view next = rest.substr(i);
        size_t len = 0;
        if (starts_with_any(next, d.calls_end, len)) {
          close(closed);
          return pos + i + len;
        }
        if (starts_with_any(next, d.call_begin, len)) {
          pos += i + len;
          expect_ = Expect::kSegment;
          continue;
        }
        if (!at_end && could_start(next, d)) return pos + i;
        close(closed);  // no <｜tool▁calls▁end｜>: what follows is content
        return pos + i;
      }
      chat_detail::DelimiterMatch m = chat_detail::find_delimiter(rest, kSegmentEnds, at_end);
      if (m.index >= 0) {
        std::string_view segment = rest.substr(0, m.pos);
        const bool call_end = static_cast<size_t>(m.index) < d.call_end.size();
        if (call_end || !trim(segment).empty()) parse_segment(segment, offset + pos);
        pos += m.pos + kSegmentEnds[m.index].size();
        if (call_end) {
          expect_ = Expect::kBetween;
          continue;
        }
        close(closed);
        return pos;
      }
      if (!at_end) return pos;
      if (!trim(rest).empty()) {
        ToolCallError error;
        Parts parts = split(rest);
        error.name = parts.name;
        error.raw = std::string(rest);
        error.message = where(parts.name, offset + pos + leading_space(rest)) +
                        ": unclosed (the output ended before <｜tool▁call▁end｜>)";
        add_error(std::move(error));
      }
      close(closed);
      return text.size();
    }
  }

  void close(bool& closed) {
    closed = true;
    expect_ = Expect::kSegment;
  }

  static bool could_start(std::string_view s, const DeepseekR1Delimiters& d) {
    for (const auto* list : {&d.calls_end, &d.call_begin}) {
      for (const std::string& o : *list) {
        if (s.size() < o.size() && o.compare(0, s.size(), s) == 0) return true;
      }
    }
    return false;
  }

  static size_t leading_space(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return i;
  }

  static std::string where(const std::string& name, size_t at) {
    return "tool call " + (name.empty() ? std::string() : "\"" + name + "\" ") + "at byte " +
           std::to_string(at);
  }

  struct Parts {
    std::string error;  // what is missing, when the call cannot be split
    std::string name;
    std::string_view body;
  };

  // [call opener] [type] SEP NAME [\n] [```[json]\n] ARGS [\n```]
  static Parts split(std::string_view segment) {
    const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
    Parts parts;
    std::string_view s = trim(segment);
    size_t len = 0;
    if (starts_with_any(s, d.call_begin, len)) s = trim(s.substr(len));
    size_t sep_at = std::string_view::npos, sep_len = 0;
    for (const std::string& v : d.sep) {
      size_t p = s.find(v);
      if (p < sep_at) {
        sep_at = p;
        sep_len = v.size();
      }
    }
    if (sep_at == std::string_view::npos) {
      parts.error = "missing <｜tool▁sep｜> before the tool name";
      return parts;
    }
    std::string_view type = trim(s.substr(0, sep_at));
    std::string_view after = s.substr(sep_at + sep_len);
    size_t b = 0;
    while (b < after.size() && (after[b] == ' ' || after[b] == '\t')) ++b;
    size_t e = after.find_first_of(" \t\r\n`{", b);
    if (e == std::string_view::npos) e = after.size();
    parts.name = std::string(after.substr(b, e - b));
    if (!type.empty() && type != "function") {
      parts.error =
          "expected \"function\" before <｜tool▁sep｜>, got \"" + std::string(type) + "\"";
      return parts;
    }
    if (parts.name.empty()) {
      parts.error = "missing the tool name after <｜tool▁sep｜>";
      return parts;
    }
    std::string_view body = trim(after.substr(e));
    if (body.substr(0, 3) == "```") {
      body.remove_prefix(3);
      size_t word = 0;  // the fence's language tag ("json")
      while (word < body.size() && body[word] != '\n' && body[word] != '{' && body[word] != '[' &&
             body[word] != '"')
        ++word;
      body = trim(body.substr(word));
    }
    if (body.size() >= 3 && body.substr(body.size() - 3) == "```") {
      body = trim(body.substr(0, body.size() - 3));
    }
    parts.body = body;
    return parts;
  }

  void parse_segment(std::string_view segment, size_t offset) {
    Parts parts = split(segment);
    const std::string at = where(parts.name, offset + leading_space(segment));
    ToolCallError error;
    error.name = parts.name;
    error.raw = std::string(segment);
    if (!parts.error.empty()) {
      error.message = at + ": " + parts.error;
      add_error(std::move(error));
      return;
    }
    ToolCall call;
    call.name = parts.name;
    std::string_view body = parts.body.empty() ? std::string_view("{}") : parts.body;
    if (auto e = chat_detail::normalize_arguments(body, call.arguments)) {
      error.message = at + ": " + *e;
      add_error(std::move(error));
      return;
    }
    add_call(std::move(call));
  }

  Expect expect_ = Expect::kSegment;
};

class DeepseekR1Format : public ChatFormat {
 public:
  std::string_view name() const override { return "deepseek-r1"; }

  Result<std::string> render(const std::vector<ChatMessage>& messages,
                             const std::vector<ToolSpec>& tools,
                             const RenderOptions& options) const override {
    R1_RETURN_IF_ERROR(chat_detail::check_conversation(messages, false));
    std::string out(kBos);
    if (chat_detail::render_tools(tools, options)) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const ToolSpec& t : tools) list.push_back(chat_detail::tool_json(t, false));
      out += "You can call any of the following function tools to satisfy the user's requests: ";
      out += list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
      out += "\n\nExample function tool call syntax:\n\n";
      out += std::string(kCallsBegin) + std::string(kCallBegin) + "function" + std::string(kSep) +
             "example_function_name\n```json\n{\n  \"arg1\": \"some_value\"\n  ...\n}\n```\n" +
             std::string(kCallEnd) + std::string(kCallsEnd) + "\n\n";
    }
    const ChatMessage* system = nullptr;  // the template keeps the last one
    for (const ChatMessage& m : messages) {
      if (m.role == "system") system = &m;
    }
    if (system) out += system->content;
    bool in_outputs = false;
    for (const ChatMessage& m : messages) {
      if (m.role != "tool" && in_outputs) {
        out += kOutputsEnd;
        in_outputs = false;
      }
      if (m.role == "user") {
        out += std::string(kUser) + m.content;
      } else if (m.role == "assistant") {
        out += std::string(kAssistant) + chat_detail::kept_reasoning(m, options) +
               chat_detail::content_without_reasoning(m.content) + render_tool_calls(m.tool_calls) +
               std::string(kEos);
      } else if (m.role == "tool") {
        out += in_outputs ? "\n" : std::string(kOutputsBegin);
        out += std::string(kOutputBegin) + m.content + std::string(kOutputEnd);
        in_outputs = true;
      }
    }
    if (in_outputs) out += kOutputsEnd;
    if (options.add_generation_prompt) out += std::string(kAssistant) + "<think>\n";
    return out;
  }

  bool prompt_opens_thinking(const RenderOptions& options) const override {
    return options.add_generation_prompt;
  }

  std::unique_ptr<OutputParser> make_parser(bool starts_in_thinking) const override {
    return std::make_unique<DeepseekR1Parser>(starts_in_thinking);
  }

  std::string render_tool_calls(const std::vector<ToolCall>& calls) const override {
    if (calls.empty()) return "";
    std::string out(kCallsBegin);
    for (size_t i = 0; i < calls.size(); ++i) {
      if (i) out += "\n";
      out += std::string(kCallBegin) + "function" + std::string(kSep) + calls[i].name +
             "\n```json\n" + calls[i].arguments + "\n```" + std::string(kCallEnd);
    }
    return out + std::string(kCallsEnd);
  }

  Result<ToolCallGrammar> tool_call_grammar(const std::vector<ToolSpec>& tools,
                                            const ToolChoice& choice) const override {
    Result<std::vector<const ToolSpec*>> selected = chat_detail::grammar_tools(tools, choice);
    if (!selected) return selected.status();
    std::vector<Grammar> alternatives;
    for (const ToolSpec* t : *selected) {
      Result<Grammar> args = grammar::json_schema(chat_detail::arguments_schema(*t));
      if (!args) {
        return Status(
            args.status().code() == StatusCode::kUnsupported
                ? Status::unsupported("tool \"" + t->name + "\": " + args.status().message())
                : Status::invalid("tool \"" + t->name + "\": " + args.status().message()));
      }
      alternatives.push_back(
          grammar::sequence({grammar::literal(std::string(kCallBegin) + "function" +
                                              std::string(kSep) + t->name + "\n```json\n"),
                             *args, grammar::literal("\n```" + std::string(kCallEnd))}));
    }
    Grammar call = grammar::choice(alternatives);
    ToolCallGrammar out;
    const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
    std::vector<Grammar> openers;
    for (const std::string& v : d.calls_begin) {
      out.triggers.push_back(v);
      openers.push_back(grammar::literal(v));
    }
    out.grammar = grammar::sequence(
        {grammar::choice(openers), call,
         grammar::repeat(grammar::sequence({grammar::repeat(grammar::literal("\n"), 0, 1), call}),
                         0, -1),
         grammar::literal(std::string(kCallsEnd))});
    return out;
  }
};

}  // namespace

const DeepseekR1Delimiters& deepseek_r1_delimiters() {
  static const DeepseekR1Delimiters kDelimiters = [] {
    DeepseekR1Delimiters d;
    add_spellings(d.calls_begin, {"tool", "calls", "begin"});
    add_spellings(d.calls_begin, {"tool", "calls"});
    add_spellings(d.call_begin, {"tool", "call", "begin"});
    add_spellings(d.sep, {"tool", "sep"});
    add_spellings(d.call_end, {"tool", "call", "end"});
    add_spellings(d.calls_end, {"tool", "calls", "end"});
    return d;
  }();
  return kDelimiters;
}

std::unique_ptr<ChatFormat> make_deepseek_r1_format() {
  return std::make_unique<DeepseekR1Format>();
}

}  // namespace r1
