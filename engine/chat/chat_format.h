// Chat formats: each model family's chat template in both directions.
//
// A ChatFormat renders a conversation (system, user, assistant turns with tool calls, tool
// results) plus tool schemas into the exact prompt text the model was trained on, and makes
// OutputParsers that split the model's streamed output into reasoning, content and tool calls.
// One file per family (deepseek_r1.cpp, chatml.cpp, llama3.cpp); no Jinja. Formats are immutable
// and thread-safe; an OutputParser belongs to one stream.
//
// Reasoning: every format knows the `<think>` ... `</think>` block. Earlier assistant turns are
// rendered without their reasoning (the R1 rule) unless keep_tool_call_reasoning asks to keep it
// on turns that made tool calls. The parser handles output that starts inside thinking (the
// prompt opened it), an explicit `<think>`, no thinking, an empty block and output that ends
// inside thinking; `</think>` never reaches content.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/grammar.h"

namespace r1 {

class Tokenizer;

struct ToolCall {
  std::string id;  // the format's id, or "call_N" (N from 0 per parser) when it has none
  std::string name;
  std::string arguments;  // the arguments object as JSON text, as the model wrote it
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::string reasoning;             // assistant: its thinking, without the delimiters
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;          // tool: which call this result answers
  std::string name;                  // tool: the tool's name
};

struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters = nlohmann::json::object();  // JSON Schema of the arguments object
};

// Reads an OpenAI-style tool list: [{"type": "function", "function": {"name", "description",
// "parameters"}}, ...] (a bare {"name", ...} entry is accepted too). kInvalidArgument naming the
// entry and key for anything malformed (missing name, duplicate name, bad schema).
Result<std::vector<ToolSpec>> parse_tool_list(const nlohmann::json& list);

struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kNamed };
  Mode mode = Mode::kAuto;
  std::string name;  // kNamed: the tool that must be called
};
// "auto", "none", "required", or a tool name; also the OpenAI object form
// {"type": "function", "function": {"name": NAME}}. kInvalidArgument otherwise.
Result<ToolChoice> parse_tool_choice(const nlohmann::json& value);

// A call the parser or the validator rejected: enough for the agent loop to tell the model what
// to fix.
struct ToolCallError {
  std::string name;     // the tool's name when it could be read
  std::string message;  // what was wrong and where: "arguments: line 1, column 9: ..." or
                        // "at /units: must be one of [\"c\",\"f\"]" or "unknown tool \"x\""
  std::string raw;      // the call text as the model wrote it
};

// Checks a parsed call against the tools: known name, arguments are a JSON object, valid under
// the tool's schema. nullopt when the call is fine.
std::optional<ToolCallError> validate_tool_call(const ToolCall& call,
                                                const std::vector<ToolSpec>& tools);

struct ChatEvent {
  enum class Kind { kReasoning, kContent, kToolCall, kToolCallError };
  Kind kind;
  std::string text;     // kReasoning, kContent: the new text
  ToolCall call;        // kToolCall
  ToolCallError error;  // kToolCallError: a call whose text could not be parsed
};

struct ParsedOutput {
  std::string reasoning;  // all thinking, delimiters removed
  std::string content;    // the answer, tool-call text removed
  std::vector<ToolCall> tool_calls;
  std::vector<ToolCallError> errors;
  bool reasoning_truncated = false;  // the output ended inside thinking
};

// Incremental parser of one assistant output. Text that may be the start of a delimiter
// ("</thi") is held back until it is decided; finish() releases it.
class OutputParser {
 public:
  virtual ~OutputParser() = default;
  // Feeds the next piece of output (special tokens as their text, end-of-generation excluded)
  // and appends the events it completes. Never fails: text that is not a well-formed call is
  // content, or a kToolCallError when a call opener was seen.
  virtual void push(std::string_view text, std::vector<ChatEvent>& events) = 0;
  // End of output: releases held-back text; an unclosed thinking block ends as reasoning
  // (reasoning_truncated), an unclosed tool call becomes a kToolCallError.
  virtual void finish(std::vector<ChatEvent>& events) = 0;
  virtual bool in_reasoning() const = 0;           // the last byte pushed was inside thinking
  virtual bool in_tool_call() const = 0;           // inside a tool-call block
  virtual const ParsedOutput& parsed() const = 0;  // everything so far
};

struct RenderOptions {
  bool add_generation_prompt = true;
  // Open a thinking block in the generation prompt ("<think>\n"), as the R1 template always
  // does; lets models that never think (SmolLM2) run under a thinking budget.
  bool think = false;
  bool keep_tool_call_reasoning = false;  // keep reasoning on earlier turns that made tool calls
  ToolChoice tool_choice;                 // kNone: tools are not rendered
  // llama3 only: the "Today Date:" line; empty means the template's default, "26 Jul 2024".
  std::string date_string;
};

// The text that constrains tool calls: when one of `triggers` appears in content (lazy mode),
// a GrammarMatcher over `grammar` is fed the output from the trigger's first byte on. For
// tool_choice required or named, `grammar` applies from the first byte of content instead.
struct ToolCallGrammar {
  std::vector<std::string> triggers;
  Grammar grammar;
};

class ChatFormat {
 public:
  virtual ~ChatFormat() = default;
  virtual std::string_view name() const = 0;  // "deepseek-r1", "chatml", "llama3"

  // The prompt for `messages` (and `tools` unless tool_choice is kNone). kInvalidArgument for a
  // conversation the format cannot express (unknown role, tool result without a call).
  virtual Result<std::string> render(const std::vector<ChatMessage>& messages,
                                     const std::vector<ToolSpec>& tools,
                                     const RenderOptions& options) const = 0;
  // Whether render() with these options leaves the model inside a thinking block.
  virtual bool prompt_opens_thinking(const RenderOptions& options) const = 0;
  virtual std::unique_ptr<OutputParser> make_parser(bool starts_in_thinking) const = 0;

  virtual std::string think_open() const { return "<think>"; }
  virtual std::string think_close() const { return "</think>"; }

  // The grammar of this format's tool-call block for `tools` under `choice` (kAuto: any tool,
  // kRequired: at least one call, kNamed: only that tool). kInvalidArgument naming the tool for
  // a schema the grammar cannot express.
  virtual Result<ToolCallGrammar> tool_call_grammar(const std::vector<ToolSpec>& tools,
                                                    const ToolChoice& choice) const = 0;

  // The tool-call text of an assistant turn that makes `calls`, exactly as render() writes it
  // after the assistant header (and as the grammar accepts it): what a model is expected to
  // produce. "" for no calls.
  virtual std::string render_tool_calls(const std::vector<ToolCall>& calls) const { return ""; }
};

// By name: "deepseek-r1", "chatml", "llama3". kInvalidArgument listing the names otherwise.
Result<std::unique_ptr<ChatFormat>> make_chat_format(std::string_view name);

// From a GGUF's tokenizer.chat_template (may be empty), falling back on the vocabulary's special
// tokens (<｜User｜>, <|im_start|>, <|start_header_id|>). kUnsupported when neither says.
// A ChatML template's built-in default system message (SmolLM2 has one) is kept and rendered
// when the conversation has no system message.
Result<std::unique_ptr<ChatFormat>> detect_chat_format(const std::string& chat_template,
                                                       const Tokenizer& tokenizer);

// The literal default system message a ChatML template renders when the conversation has none
// (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"); "" when the
// template has no such literal. Jinja "\n" escapes in the literal are decoded.
std::string chatml_default_system(std::string_view chat_template);

// ---- for format implementations (engine/chat/*.cpp) -------------------------------------------
// The streaming machinery every family shares. Not part of the public contract.
namespace chat_detail {

// Where in `text` the first of `delimiters` occurs. A delimiter is taken at the first position
// where one matches in full, preferring the longest; a position where the remaining text is a
// proper prefix of some delimiter stops the search there (the caller holds that text back until
// more arrives), unless at_end.
struct DelimiterMatch {
  size_t pos = std::string_view::npos;  // npos: no delimiter and nothing to hold back
  int index = -1;                       // into delimiters; -1 with pos set: hold back from pos
};
DelimiterMatch find_delimiter(std::string_view text, const std::vector<std::string>& delimiters,
                              bool at_end);

std::string_view trim(std::string_view s);  // ASCII whitespace off both ends

// Parses `json_text` as one call object {"name": NAME, KEY: ARGS} where KEY is the first of
// `argument_keys` present. ARGS must be an object, or a JSON string holding an object (some
// models quote it); the call's arguments are the object text exactly as written (trimmed).
// `where` prefixes messages ("tool call at byte 12"). On failure, the error says what and where.
struct CallParse {
  bool ok = false;
  ToolCall call;
  ToolCallError error;
};
CallParse parse_call_object(std::string_view json_text,
                            const std::vector<std::string>& argument_keys,
                            const std::string& where);
// The arguments object text of `args_text`: the object as written (trimmed), or, when the model
// wrote a JSON string holding an object, that string's content (trimmed). nullopt on success;
// otherwise the error ("arguments: line 1, column 9 (byte 8): ...").
std::optional<std::string> normalize_arguments(std::string_view args_text, std::string& out);

// The tools a tool-call grammar allows under `choice`; kInvalidArgument for kNone, no tools, or
// a named tool that is not in the list.
Result<std::vector<const ToolSpec*>> grammar_tools(const std::vector<ToolSpec>& tools,
                                                   const ToolChoice& choice);
// The tool's parameters schema, with "type": "object" added when it names no type.
nlohmann::json arguments_schema(const ToolSpec& tool);
// One grammar per tool of `selected`: the JSON object {"name": NAME, ARGS_KEY: arguments},
// both keys required, nothing else (Hermes uses "arguments", Llama 3 "parameters"). Errors name
// the tool (kUnsupported for a schema outside the grammar's subset, else kInvalidArgument).
Result<std::vector<Grammar>> call_object_grammars(const std::vector<const ToolSpec*>& selected,
                                                  const std::string& args_key,
                                                  const JsonGrammarOptions& options);

// Rendering helpers.
// An assistant content without reasoning: the text after its last `</think>`, if any.
std::string content_without_reasoning(std::string_view content);
// "<think>\nREASONING\n</think>\n\n" when options keep reasoning on this turn (it made tool
// calls and has reasoning), else "".
std::string kept_reasoning(const ChatMessage& message, const RenderOptions& options);
// {"type": "function", "function": {"name", "description" (when set), "parameters"}}, or the
// inner function object alone; keys in that order (parameters' own keys sorted).
nlohmann::ordered_json tool_json(const ToolSpec& tool, bool wrapped);
// Python json.dumps with its default separators (", ", ": "), as Jinja's tojson writes it.
std::string python_json(const nlohmann::ordered_json& value);
// Roles are system/user/assistant/tool (llama3 also ipython), and each tool result follows an
// assistant turn with tool calls. kInvalidArgument naming the message otherwise.
Status check_conversation(const std::vector<ChatMessage>& messages, bool allow_ipython);
// The tools rendered unless tool_choice is kNone.
bool render_tools(const std::vector<ToolSpec>& tools, const RenderOptions& options);

// A fully general incremental parser: reasoning (`<think>`...`</think>`), content with ```
// fences, and tool-call blocks whose grammar a subclass supplies. Output is identical under any
// chunking of the input: every decision waits until the bytes that decide it have arrived.
class StreamingParser : public OutputParser {
 public:
  void push(std::string_view text, std::vector<ChatEvent>& events) final;
  void finish(std::vector<ChatEvent>& events) final;
  bool in_reasoning() const final { return state_ == State::kReasoning; }
  bool in_tool_call() const final {
    return state_ == State::kToolBlock || state_ == State::kWholeContentCalls;
  }
  const ParsedOutput& parsed() const final { return parsed_; }

 protected:
  explicit StreamingParser(bool starts_in_thinking);

  struct Opener {
    std::string text;
    bool in_fence = false;  // also recognised inside a ``` code block in content
  };
  // Content-level text that opens a tool-call block (may be empty).
  virtual const std::vector<Opener>& openers() const = 0;
  // Inside a block that openers()[opener] opened (its text consumed). `text` is the unconsumed
  // output, starting `offset` bytes into it. Reports calls and errors with add_call/add_error,
  // returns the bytes consumed (what it cannot decide yet stays), and sets `closed` when the
  // block ended. With at_end it must consume everything and close.
  virtual size_t scan_block(int opener, std::string_view text, size_t offset, bool at_end,
                            bool& closed) = 0;

  // Llama 3 style: content that is nothing but call objects is calls. When on, content whose
  // first non-space byte is one of whole_content_starts()' first bytes (or a prefix of one of
  // them) is held back and judged by scan_whole_content.
  virtual const std::vector<std::string>& whole_content_starts() const;
  enum class Verdict { kNeedMore, kNotCalls, kCalls };
  // kNotCalls as soon as `text` (all content so far) cannot be calls only; kCalls (with at_end
  // only) after reporting the calls and errors with add_call/add_error.
  virtual Verdict scan_whole_content(std::string_view text, size_t offset, bool at_end) {
    return Verdict::kNotCalls;
  }

  void add_call(ToolCall call);  // assigns "call_N" when call.id is empty
  void add_error(ToolCallError error);

 private:
  enum class State { kContent, kReasoning, kToolBlock, kWholeContentCalls };
  void run(bool at_end);
  bool step_reasoning(bool at_end);
  bool step_content(bool at_end);
  bool step_block(bool at_end);
  bool step_whole_content(bool at_end);
  void consume(size_t n);
  void emit_reasoning(std::string_view text);
  void emit_content(std::string_view text);  // with whitespace hold-back
  void emit_content_now(std::string_view text);

  State state_;
  std::string buffer_;               // output not yet decided
  size_t offset_ = 0;                // bytes of output before buffer_
  bool strip_newline_ = false;       // drop one '\n' right after `<think>`
  bool strip_space_ = false;         // drop whitespace after `</think>` or a tool-call block
  bool in_fence_ = false;            // inside a ``` code block in content
  bool content_started_ = false;     // some content byte (or call) has been decided
  bool whole_content_done_ = false;  // Llama 3 style detection is over for this output
  int block_opener_ = -1;
  std::string held_space_;                       // trailing content whitespace, not yet emitted
  std::vector<std::string> content_delimiters_;  // built on first use
  std::vector<int> delimiter_kind_;              // per delimiter: < 0 think/fence, else opener
  std::vector<std::string> fenced_delimiters_;   // those recognised inside a ``` fence
  std::vector<int> fenced_kind_;
  std::vector<ChatEvent>* events_ = nullptr;
  ParsedOutput parsed_;
  int32_t next_call_ = 0;
};

}  // namespace chat_detail

}  // namespace r1
