// Tools across formats: reading OpenAI tool lists and tool_choice, validating parsed calls
// against their schemas, and each format's tool-call grammar (the canonical rendering of a call
// is accepted whole and complete; arguments that break the schema are refused).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/chat/chat_format.h"
#include "engine/grammar.h"

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

std::vector<ToolSpec> tools() {
  auto r = parse_tool_list(nlohmann::json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
      "parameters": {"type": "object", "properties": {
        "location": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["location"], "additionalProperties": false}}},
    {"name": "get_time", "parameters": {"type": "object", "properties": {
        "timezone": {"type": "string"}}, "required": ["timezone"]}}
  ])"));
  REQUIRE(r.is_ok());
  return *r;
}

TEST_CASE("chat/tools: parse_tool_list reads OpenAI and bare entries") {
  std::vector<ToolSpec> t = tools();
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "get_weather");
  CHECK(t[0].description == "Weather now");
  CHECK(t[0].parameters["required"][0] == "location");
  CHECK(t[1].name == "get_time");
  CHECK(t[1].description.empty());
  auto no_params = parse_tool_list(nlohmann::json::parse(R"([{"name": "ping"}])"));
  REQUIRE(no_params.is_ok());
  CHECK(no_params->at(0).parameters == nlohmann::json::object());
}

TEST_CASE("chat/tools: parse_tool_list names the entry and key at fault") {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"name": "x"})", "tools: expected an array"},
           {R"([1])", "tools[0]: expected an object"},
           {R"([{"type": "function", "function": {}}])", "tools[0].function.name: missing"},
           {R"([{"name": 3}])", "tools[0].name: expected a string"},
           {R"([{"name": "a b"}])", "tools[0].name: \"a b\" is not a tool name"},
           {R"([{"name": "a"}, {"name": "a"}])", "tools[1].name: duplicate tool name \"a\""},
           {R"([{"type": "retrieval"}])", "tools[0].type: only \"function\""},
           {R"([{"name": "a", "parameters": []}])", "tools[0].parameters: expected a JSON Schema"},
           {R"([{"name": "a", "parameters": {"type": "int"}}])", "tools[0].parameters: "},
       }) {
    CAPTURE(c.json);
    auto r = parse_tool_list(nlohmann::json::parse(c.json));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(c.message) == 0);
  }
}

TEST_CASE("chat/tools: parse_tool_choice") {
  CHECK(parse_tool_choice("auto")->mode == ToolChoice::Mode::kAuto);
  CHECK(parse_tool_choice("none")->mode == ToolChoice::Mode::kNone);
  CHECK(parse_tool_choice("required")->mode == ToolChoice::Mode::kRequired);
  auto named = parse_tool_choice("get_time");
  CHECK(named->mode == ToolChoice::Mode::kNamed);
  CHECK(named->name == "get_time");
  auto object = parse_tool_choice(
      nlohmann::json::parse(R"({"type": "function", "function": {"name": "get_weather"}})"));
  REQUIRE(object.is_ok());
  CHECK(object->mode == ToolChoice::Mode::kNamed);
  CHECK(object->name == "get_weather");
  for (const char* bad :
       {"3", "null", R"({"type": "function"})", R"({"function": {"name": 1}})", R"("")"}) {
    CAPTURE(bad);
    auto r = parse_tool_choice(nlohmann::json::parse(bad));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("tool_choice") == 0);
  }
}

TEST_CASE("chat/tools: validate_tool_call checks name, object and schema") {
  std::vector<ToolSpec> t = tools();
  CHECK_FALSE(validate_tool_call({"call_0", "get_weather", R"({"location": "Paris"})"}, t));
  auto unknown = validate_tool_call({"call_0", "get_wether", "{}"}, t);
  REQUIRE(unknown);
  CHECK(unknown->message.find("unknown tool \"get_wether\"") == 0);
  auto syntax = validate_tool_call({"call_0", "get_weather", R"({"location": })"}, t);
  REQUIRE(syntax);
  CHECK(syntax->message.find("arguments: line 1, column") == 0);
  auto array = validate_tool_call({"call_0", "get_weather", "[]"}, t);
  REQUIRE(array);
  CHECK(array->message == "arguments: expected a JSON object, got array");
  auto schema =
      validate_tool_call({"call_0", "get_weather", R"({"location": "P", "unit": "k"})"}, t);
  REQUIRE(schema);
  CHECK(schema->name == "get_weather");
  CHECK(schema->message.find("/unit") != std::string::npos);
  auto missing = validate_tool_call({"call_0", "get_time", "{}"}, t);
  REQUIRE(missing);
  CHECK(missing->message.find("timezone") != std::string::npos);
}

// ---- grammars
// -------------------------------------------------------------------------------------

// The text the grammar sees: from the first trigger on (a chatml rendering starts with '\n').
std::string from_trigger(const std::string& text, const ToolCallGrammar& g) {
  size_t best = std::string::npos;
  for (const std::string& t : g.triggers) best = std::min(best, text.find(t));
  REQUIRE(best != std::string::npos);
  return text.substr(best);
}

TEST_CASE("chat/tools: each format's grammar accepts its canonical calls and refuses bad ones") {
  std::vector<ToolSpec> t = tools();
  const std::vector<ToolCall> calls = {
      {"call_0", "get_weather", R"({"location": "Paris", "unit": "c"})"},
      {"call_1", "get_time", R"({"timezone": "Europe/Paris"})"}};
  for (const char* name : {"deepseek-r1", "chatml", "llama3"}) {
    CAPTURE(name);
    auto format = make_chat_format(name);
    REQUIRE(format.is_ok());
    auto g = (*format)->tool_call_grammar(t, {});
    REQUIRE(g.is_ok());
    REQUIRE_FALSE(g->triggers.empty());

    for (const std::vector<ToolCall>& cs :
         {std::vector<ToolCall>{calls[0]}, std::vector<ToolCall>{calls[1]}, calls}) {
      const std::string text = from_trigger((*format)->render_tool_calls(cs), *g);
      CAPTURE(text);
      GrammarMatcher m(g->grammar);
      CHECK(m.accept(text));
      CHECK(m.is_complete());
      // The parser reads back what the grammar allowed.
      auto parser = (*format)->make_parser(false);
      std::vector<ChatEvent> events;
      parser->push(text, events);
      parser->finish(events);
      REQUIRE(parser->parsed().tool_calls.size() == cs.size());
      for (size_t i = 0; i < cs.size(); ++i) {
        CHECK(parser->parsed().tool_calls[i].name == cs[i].name);
        CHECK(parser->parsed().tool_calls[i].arguments == cs[i].arguments);
        CHECK_FALSE(validate_tool_call(parser->parsed().tool_calls[i], t));
      }
    }
    // Schema violations and unknown tools are refused.
    for (const ToolCall& bad :
         {ToolCall{"", "get_weather", R"({"location": 3})"},
          ToolCall{"", "get_weather", R"({"location": "P", "unit": "k"})"},
          ToolCall{"", "get_weather", R"({"city": "P"})"}, ToolCall{"", "launch", R"({})"}}) {
      const std::string text = from_trigger((*format)->render_tool_calls({bad}), *g);
      CAPTURE(text);
      GrammarMatcher m(g->grammar);
      CHECK_FALSE(m.accept(text));
    }
    // Named: only that tool.
    ToolChoice named{ToolChoice::Mode::kNamed, "get_time"};
    auto only = (*format)->tool_call_grammar(t, named);
    REQUIRE(only.is_ok());
    GrammarMatcher time_ok(only->grammar);
    CHECK(time_ok.accept(from_trigger((*format)->render_tool_calls({calls[1]}), *only)));
    CHECK(time_ok.is_complete());
    GrammarMatcher weather_no(only->grammar);
    CHECK_FALSE(weather_no.accept(from_trigger((*format)->render_tool_calls({calls[0]}), *only)));
    // Required: the same language, and nothing is not a call.
    auto required = (*format)->tool_call_grammar(t, {ToolChoice::Mode::kRequired, ""});
    REQUIRE(required.is_ok());
    CHECK_FALSE(GrammarMatcher(required->grammar).is_complete());
    // None, an unknown named tool, no tools: no grammar.
    CHECK_FALSE((*format)->tool_call_grammar(t, {ToolChoice::Mode::kNone, ""}).is_ok());
    CHECK_FALSE((*format)->tool_call_grammar(t, {ToolChoice::Mode::kNamed, "nope"}).is_ok());
    CHECK_FALSE((*format)->tool_call_grammar({}, {}).is_ok());
  }
}

TEST_CASE("chat/tools: the R1 grammar starts at any accepted opener spelling") {
  auto format = make_chat_format("deepseek-r1");
  auto g = (*format)->tool_call_grammar(tools(), {});
  REQUIRE(g.is_ok());
  CHECK(g->triggers.front() == "<｜tool▁calls▁begin｜>");
  for (const std::string opener : {"<｜tool_calls_begin｜>", "<｜tool▁calls｜>"}) {
    GrammarMatcher m(g->grammar);
    CHECK(m.accept(opener +
                   "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"timezone\": "
                   "\"UTC\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"));
    CHECK(m.is_complete());
  }
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
