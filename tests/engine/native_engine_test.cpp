// NativeEngine end to end on real model files: the thinking budget, reasoning separation,
// grammar-constrained tool calls and answers.
//
// Two models: SmolLM2-135M-Instruct (the default model: ChatML, never thinks unless --think opens
// it) and tiny-r1-qwen (random weights, but the real R1-Distill-Qwen tokenizer and chat template,
// so `</think>` and the tool-call delimiters are single special tokens; a random model is an
// adversarial sampler for budgets and grammars).
#include "engine/native_engine.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>

#include "core/json_schema.h"
#include "core/thread_pool.h"
#include "engine/model.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<NativeEngine> engine;
};

ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

// One engine per model file for the whole test binary (a chat re-uses its cached prefix).
NativeEngine& engine_for(const std::string& file) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    const std::string path = test::model_path(file);
    Result<std::unique_ptr<Model>> m = load_model(path);
    REQUIRE_MESSAGE(m.is_ok(), m.status().message() << " (run scripts/setup.sh)");
    Loaded l;
    l.model = std::move(m.value());
    Result<std::unique_ptr<NativeEngine>> e = NativeEngine::create(*l.model, pool(), 4096);
    REQUIRE_MESSAGE(e.is_ok(), e.status().message());
    l.engine = std::move(e.value());
    it = cache.emplace(file, std::move(l)).first;
  }
  return *it->second.engine;
}

NativeEngine& smollm2() {
  return engine_for("SmolLM2-135M-Instruct.Q4_1.gguf");
}
NativeEngine& tiny_r1() {
  return engine_for("tiny-r1-qwen.f16.gguf");
}

bool has_visible_text(const std::string& s) {
  return s.find_first_not_of(" \n\t\r") != std::string::npos;
}

ChatRequest greedy_request(const std::string& user) {
  ChatRequest req;
  req.messages.push_back({"user", user});
  req.sampling.temperature = 0.0f;
  return req;
}

std::vector<ToolSpec> three_tools() {
  const char* list = R"([
    {"type": "function", "function": {
      "name": "get_weather", "description": "Current weather in a city",
      "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"]}}},
    {"type": "function", "function": {
      "name": "search_documents", "description": "Search the user's documents",
      "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": 60},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 20}},
        "required": ["query", "top_k"]}}},
    {"type": "function", "function": {
      "name": "create_event", "description": "Put an event in the calendar",
      "parameters": {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 40},
        "day": {"type": "integer", "minimum": 1, "maximum": 31},
        "month": {"type": "string", "enum": ["jan", "feb", "mar", "apr", "may", "jun", "jul",
                                             "aug", "sep", "oct", "nov", "dec"]},
        "all_day": {"type": "boolean"}},
        "required": ["title", "day", "month"]}}}
  ])";
  Result<nlohmann::json> j = parse_json(list);
  REQUIRE(j.is_ok());
  Result<std::vector<ToolSpec>> tools = parse_tool_list(*j);
  REQUIRE_MESSAGE(tools.is_ok(), tools.status().message());
  return *tools;
}

// Every call parses, names a tool, and validates under its schema (checked here again,
// independently of the engine's own validation).
int count_valid_calls(const ChatResult& r, const std::vector<ToolSpec>& tools) {
  int valid = 0;
  for (const ToolCall& c : r.tool_calls) {
    const ToolSpec* spec = nullptr;
    for (const ToolSpec& t : tools) spec = t.name == c.name ? &t : spec;
    if (!spec) continue;
    Result<nlohmann::json> args = parse_json(c.arguments);
    if (!args) continue;
    if (validate_json(spec->parameters, *args).empty()) ++valid;
  }
  return valid;
}

}  // namespace

TEST_CASE("native engine: the chat format comes from the model's template") {
  CHECK(smollm2().format_name() == "chatml");
  CHECK(tiny_r1().format_name() == "deepseek-r1");
}

TEST_CASE("thinking budget: R1 thinking stops at budget plus grace and the answer follows") {
  NativeEngine& e = tiny_r1();
  for (int32_t budget : {0, 16, 64}) {
    CAPTURE(budget);
    ChatRequest req = greedy_request("What is 17 times 23?");
    req.max_tokens = 200;
    req.thinking.budget = budget;
    std::string streamed_reasoning;
    std::string streamed_content;
    Result<ChatResult> r = e.chat(req, [&](const ChatEvent& ev) {
      if (ev.kind == ChatEvent::Kind::kReasoning) streamed_reasoning += ev.text;
      if (ev.kind == ChatEvent::Kind::kContent) streamed_content += ev.text;
      return true;
    });
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    const ThinkingStats& t = r->thinking;
    MESSAGE("budget " << budget << ": sampled " << t.sampled_tokens << ", grace " << t.grace_tokens
                      << ", forced " << t.forced_tokens << ", reasoning tokens "
                      << r->usage.reasoning_tokens << ", finish " << r->finish_reason);
    CHECK(t.capped);
    CHECK(t.sampled_tokens <= budget + req.thinking.grace);
    CHECK(r->usage.reasoning_tokens <= budget + req.thinking.grace + t.forced_tokens);
    CHECK(r->content.find("</think>") == std::string::npos);
    CHECK(has_visible_text(r->content));
    CHECK(r->raw_output.find("</think>") != std::string::npos);
    if (budget > 0) CHECK(r->reasoning.find(req.thinking.wrap_up) != std::string::npos);
    CHECK(streamed_reasoning == r->reasoning);
    CHECK(streamed_content == r->content);
  }
}

TEST_CASE("thinking budget: max_tokens keeps a reserve for the answer") {
  ChatRequest req = greedy_request("Explain why the sky is blue.");
  req.max_tokens = 160;  // unlimited budget, but thinking may not eat the answer's share
  Result<ChatResult> r = tiny_r1().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  CHECK(r->thinking.capped);
  CHECK(r->thinking.effective_budget < 160 - 160 / 4);
  CHECK(r->usage.completion_tokens <= 160);
  CHECK(has_visible_text(r->content));
}

TEST_CASE("thinking budget: SmolLM2 thinks under --think and budgets 0 16 64 256 hold") {
  NativeEngine& e = smollm2();
  const char* prompts[] = {"A farmer has 17 sheep and buys 5 more. How many sheep does he have?",
                           "What is the capital of Japan, and why is it famous?",
                           "Write one sentence about the sea."};
  for (int32_t budget : {0, 16, 64, 256}) {
    for (const char* p : prompts) {
      CAPTURE(budget);
      CAPTURE(p);
      ChatRequest req = greedy_request(p);
      req.think = true;
      req.max_tokens = budget + 200;
      req.thinking.budget = budget;
      Result<ChatResult> r = e.chat(req);
      REQUIRE_MESSAGE(r.is_ok(), r.status().message());
      const ThinkingStats& t = r->thinking;
      MESSAGE("budget " << budget << ": sampled " << t.sampled_tokens << " (grace "
                        << t.grace_tokens << "), reasoning tokens " << r->usage.reasoning_tokens
                        << ", content " << r->content.size() << " bytes, " << r->finish_reason);
      CHECK(t.sampled_tokens <= budget + req.thinking.grace);
      CHECK(has_visible_text(r->content));
      CHECK(r->content.find("</think>") == std::string::npos);
      CHECK(r->content.find("<think>") == std::string::npos);
      if (budget == 0) CHECK(t.sampled_tokens == 0);
    }
  }
}

TEST_CASE("thinking budget: min_thinking turns an early end of thinking into Wait") {
  ChatRequest req = greedy_request("What is 2 + 2?");
  req.think = true;
  req.max_tokens = 300;
  req.thinking.min_thinking = 120;
  req.thinking.max_waits = 2;
  Result<ChatResult> r = smollm2().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  MESSAGE("sampled " << r->thinking.sampled_tokens << ", waits " << r->thinking.waits);
  // The model either thought long enough on its own or was told to wait, at most max_waits times.
  CHECK((r->thinking.sampled_tokens >= 120 || r->thinking.waits == 2));
  CHECK(r->thinking.waits <= 2);
  if (r->thinking.waits > 0) CHECK(r->reasoning.find(req.thinking.wait_text) != std::string::npos);
  CHECK(has_visible_text(r->content));
}

TEST_CASE("thinking: a model that does not think is unchanged without --think") {
  ChatRequest req = greedy_request("Say hello.");
  req.max_tokens = 40;
  Result<ChatResult> r = smollm2().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  CHECK(r->reasoning.empty());
  CHECK(r->usage.reasoning_tokens == 0);
  CHECK(has_visible_text(r->content));
}

TEST_CASE("constrained tool calls: 30 prompts over 3 tools with tool_choice required are valid") {
  NativeEngine& e = smollm2();
  const std::vector<ToolSpec> tools = three_tools();
  const char* prompts[] = {
      "What's the weather like in Paris right now?",
      "Is it raining in Tokyo? Use fahrenheit.",
      "How cold is it in Oslo today?",
      "Tell me the temperature in Buenos Aires in celsius.",
      "Weather report for Nairobi please.",
      "Should I bring an umbrella in London?",
      "Find my notes about the quarterly budget.",
      "Search my documents for the contract with Acme Corp.",
      "Look up anything I wrote about machine learning, top 3 results.",
      "Do I have documents mentioning the Berlin office?",
      "Find the five most relevant papers on protein folding in my files.",
      "Where did I put the onboarding checklist?",
      "Schedule a dentist appointment on the 14th of March.",
      "Add my mother's birthday on June 2nd, all day.",
      "Create an event called Team offsite on 21 September.",
      "Put 'Submit taxes' in my calendar for April 15.",
      "Book the conference call for the 3rd of November.",
      "Remind me about the piano recital on December 12.",
      "What is the weather in Cairo? Celsius please.",
      "Search for 'invoice 2024' in my documents.",
      "New calendar entry: project kickoff, January 8.",
      "Is it sunny in Madrid?",
      "Find documents about the hiring plan, just the top result.",
      "Add a lunch with Sam on the 30th of August.",
      "Give me the forecast for Sydney.",
      "Look for the security audit report in my files.",
      "Create an all-day event 'Holiday' on July 4.",
      "Temperature in Reykjavik in fahrenheit?",
      "Search my papers for 'transformer attention'.",
      "Put a 'Dentist' event on February 9 in my calendar.",
  };
  int valid_turns = 0;
  int n = 0;
  for (const char* p : prompts) {
    ChatRequest req = greedy_request(p);
    req.tools = tools;
    req.tool_choice.mode = ToolChoice::Mode::kRequired;
    req.max_tokens = 160;
    Result<ChatResult> r = e.chat(req);
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    ++n;
    const bool ok = !r->tool_calls.empty() && r->tool_call_errors.empty() &&
                    count_valid_calls(*r, tools) == static_cast<int>(r->tool_calls.size());
    if (ok) {
      ++valid_turns;
    } else {
      MESSAGE("invalid turn for \"" << p << "\": " << r->raw_output);
    }
  }
  MESSAGE(valid_turns << "/" << n << " turns gave only schema-valid calls");
  CHECK(valid_turns == n);
}

TEST_CASE("constrained tool calls: a named tool_choice calls that tool") {
  ChatRequest req = greedy_request("I need to know about Rome.");
  req.tools = three_tools();
  req.tool_choice.mode = ToolChoice::Mode::kNamed;
  req.tool_choice.name = "create_event";
  req.max_tokens = 160;
  Result<ChatResult> r = smollm2().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  REQUIRE(r->tool_calls.size() >= 1);
  for (const ToolCall& c : r->tool_calls) CHECK(c.name == "create_event");
  CHECK(count_valid_calls(*r, req.tools) == static_cast<int>(r->tool_calls.size()));
  CHECK(r->finish_reason == "tool_calls");
}

TEST_CASE("constrained tool calls: R1 delimiters from a random model still make valid calls") {
  ChatRequest req = greedy_request("Weather in Lima?");
  req.tools = three_tools();
  req.tool_choice.mode = ToolChoice::Mode::kRequired;
  req.thinking.budget = 0;
  req.max_tokens = 400;
  Result<ChatResult> r = tiny_r1().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  MESSAGE(r->raw_output);
  CHECK(r->raw_output.find("tool▁call▁begin｜>function") != std::string::npos);
  REQUIRE(r->tool_calls.size() >= 1);
  CHECK(r->tool_call_errors.empty());
  CHECK(count_valid_calls(*r, req.tools) == static_cast<int>(r->tool_calls.size()));
}

TEST_CASE("constrained answers: a response schema makes the answer valid JSON under it") {
  ChatRequest req = greedy_request("Name a fruit and how sure you are.");
  Result<nlohmann::json> schema = parse_json(R"({"type": "object", "properties": {
      "fruit": {"type": "string", "maxLength": 20},
      "confidence": {"type": "integer", "minimum": 0, "maximum": 100}},
      "required": ["fruit", "confidence"]})");
  REQUIRE(schema.is_ok());
  req.response_schema = *schema;
  req.max_tokens = 80;
  Result<ChatResult> r = smollm2().chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  Result<nlohmann::json> answer = parse_json(r->content);
  REQUIRE_MESSAGE(answer.is_ok(), r->content);
  CHECK(validate_json(*schema, *answer).empty());
}

TEST_CASE("tool choice: none renders no tools, and bad choices are clear errors") {
  NativeEngine& e = smollm2();
  ChatRequest req = greedy_request("What's the weather in Paris?");
  req.tools = three_tools();
  req.tool_choice.mode = ToolChoice::Mode::kNone;
  req.max_tokens = 30;
  Result<ChatResult> r = e.chat(req);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  CHECK(r->prompt.find("get_weather") == std::string::npos);
  CHECK(r->tool_calls.empty());

  req.tool_choice.mode = ToolChoice::Mode::kNamed;
  req.tool_choice.name = "launch_rocket";
  Result<ChatResult> bad = e.chat(req);
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("launch_rocket") != std::string::npos);

  req.tools.clear();
  req.tool_choice.mode = ToolChoice::Mode::kRequired;
  CHECK_FALSE(e.chat(req).is_ok());
}

}  // namespace r1
