// The DeepSeek-R1 format: prompts byte-exact with the R1-Distill templates (expected strings
// derived by reading deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja and, for the tool list,
// llama-cpp-deepseek-r1.jinja), every accepted delimiter spelling, and located call errors.
#include "engine/chat/deepseek_r1.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <string>
#include <vector>

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

const std::string kBos = "<｜begin▁of▁sentence｜>";

ToolSpec weather_tool() {
  ToolSpec t;
  t.name = "get_weather";
  t.description = "Get the weather";
  t.parameters = nlohmann::json::parse(
      R"({"properties": {"location": {"type": "string"}}, "required": ["location"], "type": "object"})");
  return t;
}

ChatMessage assistant_calls(std::vector<ToolCall> calls, std::string reasoning = "") {
  ChatMessage m;
  m.role = "assistant";
  m.tool_calls = std::move(calls);
  m.reasoning = std::move(reasoning);
  return m;
}

ChatMessage tool_result(std::string content, std::string id = "call_0") {
  ChatMessage m;
  m.role = "tool";
  m.content = std::move(content);
  m.tool_call_id = std::move(id);
  return m;
}

ParsedOutput parse(const std::string& text, bool starts_in_thinking = false) {
  auto parser = make_deepseek_r1_format()->make_parser(starts_in_thinking);
  std::vector<ChatEvent> events;
  for (char c : text) parser->push(std::string_view(&c, 1), events);
  parser->finish(events);
  return parser->parsed();
}

TEST_CASE("chat/deepseek-r1: system and user turns, generation prompt opens thinking") {
  auto f = make_deepseek_r1_format();
  auto p =
      f->render({{"system", "You are a helpful assistant."}, {"user", "What is 2+2?"}}, {}, {});
  REQUIRE(p.is_ok());
  CHECK(*p == kBos + "You are a helpful assistant.<｜User｜>What is 2+2?<｜Assistant｜><think>\n");
  CHECK(f->prompt_opens_thinking({}));
  RenderOptions no_gen;
  no_gen.add_generation_prompt = false;
  CHECK(*f->render({{"user", "Hi"}}, {}, no_gen) == kBos + "<｜User｜>Hi");
}

TEST_CASE("chat/deepseek-r1: earlier answers lose their reasoning, as the template splits it") {
  auto f = make_deepseek_r1_format();
  ChatMessage a{"assistant", "Hello! How can I help?"};
  a.reasoning = "The user greets me.";
  ChatMessage inline_think{"assistant", "<think>\nold\n</think>\n\nSure."};
  auto p = f->render({{"user", "Hi"}, a, {"user", "And?"}, inline_think, {"user", "Ok"}}, {}, {});
  REQUIRE(p.is_ok());
  CHECK(*p == kBos +
                  "<｜User｜>Hi<｜Assistant｜>Hello! How can I help?<｜end▁of▁sentence｜>"
                  "<｜User｜>And?<｜Assistant｜>\n\nSure.<｜end▁of▁sentence｜>"
                  "<｜User｜>Ok<｜Assistant｜><think>\n");
  // The template keeps only the last system message, before the first turn.
  auto two = f->render({{"system", "A"}, {"user", "u"}, {"system", "B"}}, {}, {});
  CHECK(*two == kBos + "B<｜User｜>u<｜Assistant｜><think>\n");
}

TEST_CASE(
    "chat/deepseek-r1: tools, a call and its result render as llama.cpp and the template do") {
  auto f = make_deepseek_r1_format();
  std::vector<ChatMessage> messages = {
      {"user", "Weather in Paris?"},
      assistant_calls({{"call_0", "get_weather", "{\"location\": \"Paris\"}"}}),
      tool_result("{\"temp_c\": 18}")};
  auto p = f->render(messages, {weather_tool()}, {});
  REQUIRE(p.is_ok());
  const std::string tools_json =
      "[\n  {\n    \"name\": \"get_weather\",\n    \"description\": \"Get the weather\",\n"
      "    \"parameters\": {\n      \"properties\": {\n        \"location\": {\n"
      "          \"type\": \"string\"\n        }\n      },\n      \"required\": [\n"
      "        \"location\"\n      ],\n      \"type\": \"object\"\n    }\n  }\n]";
  CHECK(*p ==
        kBos + "You can call any of the following function tools to satisfy the user's requests: " +
            tools_json +
            "\n\nExample function tool call syntax:\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>"
            "function<｜tool▁sep｜>example_function_name\n```json\n{\n  \"arg1\": \"some_value\"\n"
            "  ...\n}\n```\n<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n\n"
            "<｜User｜>Weather in Paris?"
            "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
            "get_weather\n```json\n{\"location\": \"Paris\"}\n```<｜tool▁call▁end｜>"
            "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
            "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temp_c\": 18}<｜tool▁output▁end｜>"
            "<｜tool▁outputs▁end｜><｜Assistant｜><think>\n");

  // tool_choice none: the tools are left out.
  RenderOptions none;
  none.tool_choice.mode = ToolChoice::Mode::kNone;
  auto q = f->render({{"user", "Hi"}}, {weather_tool()}, none);
  CHECK(*q == kBos + "<｜User｜>Hi<｜Assistant｜><think>\n");
}

TEST_CASE("chat/deepseek-r1: parallel calls and results, and reasoning kept on call turns") {
  auto f = make_deepseek_r1_format();
  std::vector<ChatMessage> messages = {
      {"user", "Paris and Rome?"},
      assistant_calls({{"call_0", "get_weather", "{\"location\": \"Paris\"}"},
                       {"call_1", "get_weather", "{\"location\": \"Rome\"}"}},
                      "Two cities."),
      tool_result("18", "call_0"),
      tool_result("24", "call_1")};
  const std::string calls =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
      "{\"location\": "
      "\"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>"
      "get_weather\n```json\n{\"location\": \"Rome\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  const std::string outputs =
      "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>18<｜tool▁output▁end｜>\n"
      "<｜tool▁output▁begin｜>24<｜tool▁output▁end｜><｜tool▁outputs▁end｜>";
  auto dropped = f->render(messages, {}, {});
  CHECK(*dropped == kBos + "<｜User｜>Paris and Rome?<｜Assistant｜>" + calls +
                        "<｜end▁of▁sentence｜>" + outputs + "<｜Assistant｜><think>\n");
  RenderOptions keep;
  keep.keep_tool_call_reasoning = true;
  auto kept = f->render(messages, {}, keep);
  CHECK(*kept == kBos +
                     "<｜User｜>Paris and Rome?<｜Assistant｜><think>\nTwo cities.\n</think>\n\n" +
                     calls + "<｜end▁of▁sentence｜>" + outputs + "<｜Assistant｜><think>\n");
  CHECK(f->render_tool_calls(messages[1].tool_calls) == calls);

  // What the model wrote parses back to the same calls and reasoning.
  ParsedOutput back = parse("Two cities.\n</think>\n\n" + calls, true);
  CHECK(back.reasoning == "Two cities.");
  REQUIRE(back.tool_calls.size() == 2);
  CHECK(back.tool_calls[0].arguments == "{\"location\": \"Paris\"}");
  CHECK(back.tool_calls[1].arguments == "{\"location\": \"Rome\"}");
}

TEST_CASE("chat/deepseek-r1: conversations the format cannot express are refused") {
  auto f = make_deepseek_r1_format();
  auto role = f->render({{"narrator", "x"}}, {}, {});
  REQUIRE_FALSE(role.is_ok());
  CHECK(role.status().message().find("messages[0].role") != std::string::npos);
  auto orphan = f->render({{"user", "x"}, tool_result("1")}, {}, {});
  REQUIRE_FALSE(orphan.is_ok());
  CHECK(orphan.status().message().find("messages[1]") != std::string::npos);
}

TEST_CASE("chat/deepseek-r1: every listed spelling of the delimiters is accepted") {
  const DeepseekR1Delimiters& d = deepseek_r1_delimiters();
  CHECK(d.calls_begin[0] == "<｜tool▁calls▁begin｜>");
  CHECK(d.call_begin[0] == "<｜tool▁call▁begin｜>");
  CHECK(d.sep[0] == "<｜tool▁sep｜>");
  CHECK(d.call_end[0] == "<｜tool▁call▁end｜>");
  CHECK(d.calls_end[0] == "<｜tool▁calls▁end｜>");
  for (const char* s :
       {"<｜tool_calls_begin｜>", "<｜tool calls begin｜>", "<｜tool\\_calls\\_begin｜>",
        "<｜tool▁calls｜>", "<|tool_calls_begin|>", "<｜tool▁calls_begin｜>"}) {
    CHECK(std::find(d.calls_begin.begin(), d.calls_begin.end(), s) != d.calls_begin.end());
  }
  for (size_t i = 0; i < d.calls_begin.size(); ++i) {
    // Pair each block opener with the i-th spelling of the others (cycling).
    const std::string text =
        "<think>\nx\n</think>\n\n" + d.calls_begin[i] + d.call_begin[i % d.call_begin.size()] +
        "function" + d.sep[i % d.sep.size()] + "f\n```json\n{\"a\": 1}\n```" +
        d.call_end[i % d.call_end.size()] + d.calls_end[i % d.calls_end.size()] + "done";
    CAPTURE(text);
    ParsedOutput p = parse(text);
    REQUIRE(p.tool_calls.size() == 1);
    CHECK(p.tool_calls[0].name == "f");
    CHECK(p.tool_calls[0].arguments == "{\"a\": 1}");
    CHECK(p.errors.empty());
    CHECK(p.content == "done");
  }
}

TEST_CASE("chat/deepseek-r1: tolerated shapes of a call") {
  // A call opener without the block opener; no type word; no fence; empty arguments.
  ParsedOutput p = parse(
      "<｜tool▁call▁begin｜><｜tool▁sep｜>ping\n<｜tool▁call▁end｜>\n"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>echo\n{\"s\": \"a```b\"}<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>");
  REQUIRE(p.tool_calls.size() == 2);
  CHECK(p.tool_calls[0].name == "ping");
  CHECK(p.tool_calls[0].arguments == "{}");
  CHECK(p.tool_calls[1].name == "echo");
  CHECK(p.tool_calls[1].arguments == "{\"s\": \"a```b\"}");
  CHECK(p.content.empty());
  // Arguments quoted as a JSON string are unwrapped.
  ParsedOutput q = parse(
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n"
      "\"{\\\"a\\\": 2}\"\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  REQUIRE(q.tool_calls.size() == 1);
  CHECK(q.tool_calls[0].arguments == "{\"a\": 2}");
}

TEST_CASE("chat/deepseek-r1: malformed calls are errors that say what and where") {
  ParsedOutput no_sep = parse(
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function get_weather\n{}<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>");
  REQUIRE(no_sep.errors.size() == 1);
  CHECK(no_sep.errors[0].message ==
        "tool call at byte 28: missing <｜tool▁sep｜> before the tool name");
  ParsedOutput array = parse(
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n[1]\n```"
      "<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  REQUIRE(array.errors.size() == 1);
  CHECK(array.errors[0].name == "f");
  CHECK(array.errors[0].message ==
        "tool call \"f\" at byte 28: arguments: expected a JSON object, got array");
  ParsedOutput type = parse(
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>code<｜tool▁sep｜>f\n{}<｜tool▁call▁end｜>");
  REQUIRE(type.errors.size() == 1);
  CHECK(type.errors[0].message.find("expected \"function\"") != std::string::npos);
  CHECK(type.tool_calls.empty());
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
