// The ChatML format: prompts byte-exact with Qwen2.5-7B-Instruct's template (expected strings
// derived by reading Qwen-Qwen2.5-7B-Instruct.jinja; with the Qwen default system message the
// detector extracts from it), SmolLM2's plain layout, and Hermes <tool_call> parsing.
#include "engine/chat/chatml.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

const std::string kQwenSystem =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

ToolSpec weather_tool() {
  ToolSpec t;
  t.name = "get_weather";
  t.description = "Get the weather";
  t.parameters = nlohmann::json::parse(
      R"({"properties": {"location": {"type": "string"}}, "required": ["location"], "type": "object"})");
  return t;
}

ChatMessage tool_result(std::string content) {
  ChatMessage m;
  m.role = "tool";
  m.content = std::move(content);
  return m;
}

ParsedOutput parse(const std::string& text, bool starts_in_thinking = false) {
  auto parser = make_chatml_format()->make_parser(starts_in_thinking);
  std::vector<ChatEvent> events;
  for (char c : text) parser->push(std::string_view(&c, 1), events);
  parser->finish(events);
  return parser->parsed();
}

TEST_CASE("chat/chatml: plain turns, with and without a default system message") {
  auto qwen = make_chatml_format(kQwenSystem);
  auto p = qwen->render({{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "2+2?"}}, {}, {});
  REQUIRE(p.is_ok());
  CHECK(*p == "<|im_start|>system\n" + kQwenSystem +
                  "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!"
                  "<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  auto own = qwen->render({{"system", "Be terse."}, {"user", "Hi"}}, {}, {});
  CHECK(*own ==
        "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n");
  auto bare = make_chatml_format();
  CHECK(*bare->render({{"user", "Hi"}}, {}, {}) ==
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(*bare->render({{"user", "Hi"}}, {}, {}) == render_chatml({{"user", "Hi"}}, true));
}

TEST_CASE("chat/chatml: think opens a thinking block; earlier reasoning is dropped") {
  auto f = make_chatml_format();
  RenderOptions think;
  think.think = true;
  ChatMessage a{"assistant", "<think>\nr\n</think>\n\nFour."};
  auto p = f->render({{"user", "2+2?"}, a, {"user", "3+3?"}}, {}, think);
  CHECK(*p ==
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n\n\nFour.<|im_end|>\n"
        "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\n");
  CHECK(f->prompt_opens_thinking(think));
  CHECK_FALSE(f->prompt_opens_thinking({}));
}

TEST_CASE("chat/chatml: tools, calls and results render as Qwen2.5's template does") {
  auto f = make_chatml_format(kQwenSystem);
  ChatMessage call;
  call.role = "assistant";
  call.tool_calls = {{"call_0", "get_weather", "{\"location\": \"Paris\"}"},
                     {"call_1", "get_weather", "{\"location\": \"Rome\"}"}};
  auto p = f->render({{"user", "Paris and Rome?"}, call, tool_result("18"), tool_result("24")},
                     {weather_tool()}, {});
  REQUIRE(p.is_ok());
  CHECK(*p ==
        "<|im_start|>system\n" + kQwenSystem +
            "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
            "\"Get the weather\", \"parameters\": {\"properties\": {\"location\": {\"type\": "
            "\"string\"}}, \"required\": [\"location\"], \"type\": \"object\"}}}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
            "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\nParis and Rome?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
            "{\"location\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", "
            "\"arguments\": {\"location\": \"Rome\"}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\n18\n</tool_response>\n<tool_response>\n24\n"
            "</tool_response><|im_end|>\n<|im_start|>assistant\n");
  // Content and kept reasoning go before the calls.
  call.content = "Checking.";
  call.reasoning = "Two cities.";
  RenderOptions keep;
  keep.keep_tool_call_reasoning = true;
  auto q = f->render({{"user", "x"}, call, tool_result("18"), tool_result("24")}, {}, keep);
  CHECK(
      q->find("<|im_start|>assistant\n<think>\nTwo cities.\n</think>\n\nChecking.\n<tool_call>") !=
      std::string::npos);
}

TEST_CASE("chat/chatml: Hermes calls parse; a call quoted in a code block does not") {
  ParsedOutput p = parse(
      "Sure.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}\n"
      "</tool_call>\n\n<tool_call>{\"arguments\": {}, \"name\": \"b\"}</tool_call>\nThen ```"
      "<tool_call>{\"name\": \"c\", \"arguments\": {}}</tool_call>``` ok");
  REQUIRE(p.tool_calls.size() == 2);
  CHECK(p.tool_calls[0].name == "a");
  CHECK(p.tool_calls[0].arguments == "{\"x\": [1, {\"y\": \"}\"}]}");
  CHECK(p.tool_calls[1].name == "b");
  CHECK(p.tool_calls[1].arguments == "{}");
  CHECK(p.content ==
        "Sure.Then ```<tool_call>{\"name\": \"c\", \"arguments\": {}}</tool_call>``` ok");
  // A fenced object inside the block, and "parameters" for "arguments".
  ParsedOutput q = parse(
      "<tool_call>\n```json\n{\"name\": \"d\", \"parameters\": {\"k\": 1}}\n```\n</tool_call>");
  REQUIRE(q.tool_calls.size() == 1);
  CHECK(q.tool_calls[0].arguments == "{\"k\": 1}");
}

TEST_CASE("chat/chatml: malformed Hermes calls are located errors") {
  ParsedOutput bad = parse("<tool_call>\n{\"name\": \"f\", \"arguments\": [1]}\n</tool_call>");
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].name == "f");
  CHECK(bad.errors[0].message ==
        "tool call at byte 0: arguments: expected a JSON object, got array");
  ParsedOutput str = parse("<tool_call>{\"name\": \"f\", \"arguments\": \"{oops\"}</tool_call>");
  REQUIRE(str.errors.size() == 1);
  CHECK(str.errors[0].message.find("arguments (a string holding JSON): line 1") !=
        std::string::npos);
  ParsedOutput open = parse("ok <tool_call>{\"name\": \"f\"");
  REQUIRE(open.errors.size() == 1);
  CHECK(open.errors[0].message ==
        "tool call at byte 3: unclosed <tool_call> (the output ended before </tool_call>)");
  CHECK(open.content == "ok");
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
