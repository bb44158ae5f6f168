// The Llama 3.1 format: prompts byte-exact with Llama-3.1-8B-Instruct's template and its
// defaults (expected strings derived by reading meta-llama-Llama-3.1-8B-Instruct.jinja), and
// calls recognised only when the whole answer is calls.
#include "engine/chat/llama3.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

const std::string kHeader = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n";

ParsedOutput parse(const std::string& text, bool starts_in_thinking = false) {
  auto parser = make_llama3_format()->make_parser(starts_in_thinking);
  std::vector<ChatEvent> events;
  for (char c : text) parser->push(std::string_view(&c, 1), events);
  parser->finish(events);
  return parser->parsed();
}

TEST_CASE("chat/llama3: plain turns under the Cutting Knowledge Date header") {
  auto f = make_llama3_format();
  auto p = f->render({{"system", " You are helpful.\n"},
                      {"user", "Hi "},
                      {"assistant", "Hello!"},
                      {"user", "2+2?"}},
                     {}, {});
  REQUIRE(p.is_ok());
  CHECK(*p == kHeader +
                  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                  "You are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
                  "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
  RenderOptions o;
  o.date_string = "01 Jan 2025";
  o.think = true;
  auto q = f->render({{"user", "Hi"}}, {}, o);
  CHECK(*q == kHeader +
                  "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n<think>\n");
}

TEST_CASE("chat/llama3: tools go in the first user message; results come back as ipython") {
  ToolSpec t;
  t.name = "get_weather";
  t.description = "Get the weather";
  t.parameters = nlohmann::json::parse(
      R"({"properties": {"location": {"type": "string"}}, "required": ["location"], "type": "object"})");
  ChatMessage call;
  call.role = "assistant";
  call.tool_calls = {{"call_0", "get_weather", "{\"location\": \"Paris\"}"}};
  ChatMessage result;
  result.role = "tool";
  result.content = "{\"temp_c\": 18}";
  auto f = make_llama3_format();
  auto p = f->render({{"user", "Weather in Paris?"}, call, result}, {t}, {});
  REQUIRE(p.is_ok());
  const std::string tool_json =
      "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n"
      "        \"description\": \"Get the weather\",\n        \"parameters\": {\n"
      "            \"properties\": {\n                \"location\": {\n"
      "                    \"type\": \"string\"\n                }\n            },\n"
      "            \"required\": [\n                \"location\"\n            ],\n"
      "            \"type\": \"object\"\n        }\n    }\n}";
  CHECK(*p ==
        kHeader +
            "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024"
            "\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following "
            "functions, please respond with a JSON for a function call with its proper arguments "
            "that best answers the given prompt.\n\nRespond in the format {\"name\": function "
            "name, \"parameters\": dictionary of argument name and its value}.Do not use "
            "variables.\n\n" +
            tool_json +
            "\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
            "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\"}}<|eot_id|>"
            "<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp_c\\\": 18}\"<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  auto no_user = f->render({{"system", "s"}}, {t}, {});
  REQUIRE_FALSE(no_user.is_ok());
  CHECK(no_user.status().message().find("first user message") != std::string::npos);
}

TEST_CASE("chat/llama3: the answer is calls only when it is nothing but calls") {
  ParsedOutput one = parse("  {\"name\": \"f\", \"parameters\": {\"a\": \"{\\\"}\"}}\n");
  REQUIRE(one.tool_calls.size() == 1);
  CHECK(one.tool_calls[0].arguments == "{\"a\": \"{\\\"}\"}");
  CHECK(one.content.empty());
  ParsedOutput lines =
      parse("{\"name\": \"f\", \"parameters\": {}}\n{\"name\": \"g\", \"parameters\": {}}");
  CHECK(lines.tool_calls.size() == 2);
  ParsedOutput prose = parse("Use {\"name\": \"f\", \"parameters\": {}} to call f.");
  CHECK(prose.tool_calls.empty());
  CHECK(prose.content == "Use {\"name\": \"f\", \"parameters\": {}} to call f.");
  ParsedOutput fenced = parse("```json\n{\"name\": \"f\", \"parameters\": {}}\n```");
  CHECK(fenced.tool_calls.empty());
  ParsedOutput thought =
      parse("<think>\nCall f.\n</think>\n\n<|python_tag|>{\"name\": \"f\", \"parameters\": {}}");
  CHECK(thought.reasoning == "Call f.");
  REQUIRE(thought.tool_calls.size() == 1);
  CHECK(thought.tool_calls[0].name == "f");
}

TEST_CASE("chat/llama3: broken calls are errors; broken prose is prose") {
  ParsedOutput cut = parse("{\"name\": \"f\", \"parameters\": {\"a\": 1");
  REQUIRE(cut.errors.size() == 1);
  CHECK(cut.errors[0].message ==
        "tool call at byte 0: unclosed JSON object (the output ended inside the call)");
  ParsedOutput bad = parse("<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": tru}}");
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].message.find("tool call at byte 14: line 1, column") != std::string::npos);
  ParsedOutput braces = parse("{x} is a set.");
  CHECK(braces.errors.empty());
  CHECK(braces.content == "{x} is a set.");
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
