// `r1 chat` and `r1 generate --chat`: chat turns through the NativeEngine, with the thinking
// budget, tools and tool choice. Printing only; the turn itself runs in engine/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/json_schema.h"
#include "engine/native_engine.h"

namespace r1::cli {

void add_chat_request_options(CLI::App* app, ChatRequestOptions& o) {
  app->add_option("--format", o.format,
                  "Chat format: deepseek-r1, chatml, llama3 (default: from the model)");
  app->add_option("-s,--system", o.system, "System prompt");
  app->add_option("--thinking-budget", o.thinking_budget,
                  "Tokens the model may think per turn (-1 unlimited, 0 no thinking)")
      ->check(CLI::Range(-1, 1 << 24));
  app->add_option("--thinking-grace", o.grace,
                  "Tokens past the budget to wait for the end of a sentence")
      ->check(CLI::Range(0, 4096));
  app->add_option("--min-thinking", o.min_thinking,
                  "Think at least this many tokens (an early end becomes \"Wait\")")
      ->check(CLI::Range(0, 1 << 24));
  app->add_option("--wrap-up", o.wrap_up,
                  "Text injected when the budget ends thinking (may be empty)");
  app->add_flag("--think", o.think,
                "Open a thinking block in the prompt, for models whose format does not");
  app->add_option("--tools", o.tools_file, "JSON file with an OpenAI-style tool list");
  app->add_option("--tool-choice", o.tool_choice,
                  "auto, none, required, or the name of the tool to call");
  app->add_option("--response-schema", o.response_schema_file,
                  "JSON Schema file: the answer must be a JSON value valid under it");
  app->add_flag("--unconstrained", o.unconstrained,
                "Do not constrain tool-call arguments with a grammar");
}

namespace {

Result<nlohmann::json> read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid(path + ": cannot read the " + what + " file");
  std::stringstream ss;
  ss << in.rdbuf();
  Result<nlohmann::json> j = parse_json(ss.str());
  if (!j) return Status::invalid(path + ": " + j.status().message());
  return j;
}

// The parts of a ChatRequest the options decide (not the messages).
Result<ChatRequest> make_request(const ChatRequestOptions& o, const SamplerParams& sampling,
                                 int32_t max_tokens) {
  ChatRequest req;
  req.sampling = sampling;
  req.max_tokens = max_tokens;
  req.think = o.think;
  req.thinking.budget = o.thinking_budget;
  req.thinking.grace = o.grace;
  req.thinking.min_thinking = o.min_thinking;
  if (o.wrap_up) req.thinking.wrap_up = *o.wrap_up;
  req.constrain_tool_calls = !o.unconstrained;
  if (!o.tools_file.empty()) {
    Result<nlohmann::json> j = read_json_file(o.tools_file, "tools");
    if (!j) return j.status();
    Result<std::vector<ToolSpec>> tools = parse_tool_list(*j);
    if (!tools) return Status::invalid(o.tools_file + ": " + tools.status().message());
    req.tools = std::move(tools.value());
  }
  Result<ToolChoice> choice = parse_tool_choice(nlohmann::json(o.tool_choice));
  if (!choice) return Status::invalid("--tool-choice: " + choice.status().message());
  req.tool_choice = *choice;
  if (!o.response_schema_file.empty()) {
    Result<nlohmann::json> j = read_json_file(o.response_schema_file, "schema");
    if (!j) return j.status();
    R1_RETURN_IF_ERROR(check_json_schema(*j));
    req.response_schema = *j;
  }
  if (!o.system.empty()) req.messages.push_back({"system", o.system});
  return req;
}

nlohmann::json tool_call_json(const ToolCall& c) {
  return {{"id", c.id},
          {"type", "function"},
          {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

nlohmann::json result_json(const ChatResult& r, const Engine& engine, const Model& model) {
  nlohmann::json calls = nlohmann::json::array();
  for (const ToolCall& c : r.tool_calls) calls.push_back(tool_call_json(c));
  nlohmann::json errors = nlohmann::json::array();
  for (const ToolCallError& e : r.tool_call_errors) {
    errors.push_back({{"name", e.name}, {"message", e.message}, {"raw", e.raw}});
  }
  const ThinkingStats& t = r.thinking;
  return {{"model", model.config().name},
          {"format", std::string(engine.format_name())},
          {"reasoning", r.reasoning},
          {"content", r.content},
          {"tool_calls", calls},
          {"tool_call_errors", errors},
          {"finish_reason", r.finish_reason},
          {"usage",
           {{"prompt_tokens", r.usage.prompt_tokens},
            {"completion_tokens", r.usage.completion_tokens},
            {"total_tokens", r.usage.prompt_tokens + r.usage.completion_tokens},
            {"reasoning_tokens", r.usage.reasoning_tokens},
            {"cached_tokens", r.usage.cached_tokens}}},
          {"thinking",
           {{"effective_budget", t.effective_budget},
            {"sampled_tokens", t.sampled_tokens},
            {"forced_tokens", t.forced_tokens},
            {"grace_tokens", t.grace_tokens},
            {"waits", t.waits},
            {"capped", t.capped}}},
          {"raw_output", r.raw_output},
          {"timings", timings_json(r.timings)}};
}

// Streams a turn to the terminal: reasoning dimmed (on a terminal) or on stderr (otherwise),
// the answer on stdout, tool calls as one line each.
class TurnPrinter {
 public:
  explicit TurnPrinter(bool hide_reasoning)
      : tty_(isatty(STDOUT_FILENO) != 0), hide_reasoning_(hide_reasoning) {}
  bool operator()(const ChatEvent& ev) {
    switch (ev.kind) {
      case ChatEvent::Kind::kReasoning:
        if (hide_reasoning_) break;
        if (tty_) {
          std::fputs("\x1b[2m", stdout);
          std::fputs(ev.text.c_str(), stdout);
          std::fputs("\x1b[0m", stdout);
          in_reasoning_ = true;
        } else {
          std::fputs(ev.text.c_str(), stderr);
        }
        break;
      case ChatEvent::Kind::kContent:
        end_reasoning();
        std::fputs(ev.text.c_str(), stdout);
        break;
      case ChatEvent::Kind::kToolCall:
        end_reasoning();
        std::printf("\n[tool call] %s(%s)\n", ev.call.name.c_str(), ev.call.arguments.c_str());
        break;
      case ChatEvent::Kind::kToolCallError:
        end_reasoning();
        std::printf("\n[tool call error] %s: %s\n", ev.error.name.c_str(),
                    ev.error.message.c_str());
        break;
    }
    std::fflush(stdout);
    return true;
  }
  void end_reasoning() {
    if (in_reasoning_) std::fputs("\n\n", stdout);
    in_reasoning_ = false;
  }

 private:
  bool tty_;
  bool hide_reasoning_;
  bool in_reasoning_ = false;
};

}  // namespace

int run_generate_chat(const GenerateOptions& o, const std::string& prompt) {
  Result<ChatRequest> req = make_request(o.request, o.sampling, o.n_predict);
  if (!req) return fail(req.status());
  Result<Loaded> l = load(o.model);
  if (!l) return fail(l.status());
  Result<std::unique_ptr<NativeEngine>> engine =
      NativeEngine::create(*l->model, *l->pool, o.model.ctx, o.request.format);
  if (!engine) return fail(engine.status());
  req->messages.push_back({"user", prompt});
  TurnPrinter printer(/*hide_reasoning=*/false);
  ChatEventCallback stream;
  if (!o.json) stream = [&](const ChatEvent& ev) { return printer(ev); };
  Result<ChatResult> r = (*engine)->chat(*req, stream);
  if (!r) return fail(r.status());
  if (o.json) {
    std::cout << result_json(*r, **engine, *l->model)
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::fputs("\n", stdout);
    std::fprintf(stderr, "\nr1: %lld prompt tokens, %lld generated (%lld thinking), %s\n",
                 static_cast<long long>(r->usage.prompt_tokens),
                 static_cast<long long>(r->usage.completion_tokens),
                 static_cast<long long>(r->usage.reasoning_tokens), r->finish_reason.c_str());
  }
  return 0;
}

int run_chat(const ChatOptions& o) {
  Result<ChatRequest> base = make_request(o.request, o.sampling, o.n_predict);
  if (!base) return fail(base.status());
  Result<Loaded> l = load(o.model);
  if (!l) return fail(l.status());
  Result<std::unique_ptr<NativeEngine>> engine =
      NativeEngine::create(*l->model, *l->pool, o.model.ctx, o.request.format);
  if (!engine) return fail(engine.status());
  std::vector<ChatMessage> messages = base->messages;
  const bool interactive = o.prompt.empty() && isatty(STDIN_FILENO);
  auto turn = [&](const std::string& user) -> int {
    messages.push_back({"user", user});
    ChatRequest req = *base;
    req.messages = messages;
    TurnPrinter printer(o.hide_reasoning);
    Result<ChatResult> r = (*engine)->chat(req, [&](const ChatEvent& ev) { return printer(ev); });
    printer.end_reasoning();
    std::fputs("\n", stdout);
    if (!r) return fail(r.status());
    ChatMessage reply{"assistant", r->content};
    reply.reasoning = r->reasoning;
    reply.tool_calls = r->tool_calls;
    messages.push_back(std::move(reply));
    return 0;
  };
  if (!o.prompt.empty()) return turn(o.prompt);
  std::string line;
  for (;;) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (int rc = turn(line); rc != 0) return rc;
  }
  return 0;
}

}  // namespace r1::cli
