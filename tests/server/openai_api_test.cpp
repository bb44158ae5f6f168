// Request parsing and response shapes of the OpenAI-compatible API (server/openai_api.h):
// every malformed body gets a 4xx error naming the field, never an exception.
#include "server/openai_api.h"

#include <doctest/doctest.h>

#include <random>

#include "server/server.h"

using namespace r1;
using namespace r1::server;
using nlohmann::json;

namespace {

std::optional<ApiError> chat(const std::string& body, ChatCompletionRequest* out = nullptr) {
  ChatCompletionRequest local;
  return parse_chat_completion(body, RequestLimits{}, out ? out : &local);
}

std::string with(const std::string& extra) {
  return R"({"model": "m", "messages": [{"role": "user", "content": "hi"}])" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace

TEST_SUITE("parsers") {
  TEST_CASE("openai api: a full chat request maps onto the engine request") {
    ChatCompletionRequest r;
    const std::string body = R"({
      "model": "m",
      "messages": [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": null, "reasoning_content": "hmm",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
      "tool_choice": {"type": "function", "function": {"name": "f"}},
      "parallel_tool_calls": false,
      "temperature": 0, "top_p": 0.5, "seed": 7, "max_completion_tokens": 100,
      "stop": ["END", "STOP"], "stream": true, "stream_options": {"include_usage": true},
      "reasoning_effort": "low", "response_format": {"type": "json_object"},
      "user": "ignored", "metadata": {"also": "ignored"}})";
    REQUIRE_FALSE(chat(body, &r));
    CHECK(r.model == "m");
    REQUIRE(r.chat.messages.size() == 4);
    CHECK(r.chat.messages[0].role == "system");
    CHECK(r.chat.messages[1].content == "ab");
    CHECK(r.chat.messages[2].reasoning == "hmm");
    REQUIRE(r.chat.messages[2].tool_calls.size() == 1);
    CHECK(r.chat.messages[2].tool_calls[0].arguments == "{\"x\":1}");
    CHECK(r.chat.messages[3].tool_call_id == "c1");
    CHECK(r.chat.tool_choice.mode == ToolChoice::Mode::kNamed);
    CHECK_FALSE(r.parallel_tool_calls);
    CHECK(r.chat.sampling.temperature == 0.0f);
    CHECK(r.chat.sampling.seed == 7);
    CHECK(r.chat.max_tokens == 100);
    CHECK(r.stop == std::vector<std::string>{"END", "STOP"});
    CHECK(r.stream);
    CHECK(r.include_usage);
    CHECK(r.chat.thinking.budget == 256);
    REQUIRE(r.chat.response_schema.has_value());
    CHECK((*r.chat.response_schema)["type"] == "object");
  }

  TEST_CASE("openai api: thinking controls") {
    ChatCompletionRequest r;
    REQUIRE_FALSE(chat(
        with(R"("chat_template_kwargs": {"enable_thinking": true}, "thinking_budget": 32)"), &r));
    CHECK(r.chat.think);
    CHECK(r.chat.thinking.budget == 32);
    ChatCompletionRequest off;
    REQUIRE_FALSE(chat(with(R"("chat_template_kwargs": {"enable_thinking": false})"), &off));
    CHECK(off.chat.thinking.budget == 0);
    CHECK(reasoning_effort_budget("high") == 4096);
    CHECK_FALSE(reasoning_effort_budget("extreme"));
  }

  TEST_CASE("openai api: bad requests name the field") {
    struct Case {
      std::string body;
      std::string param;
    };
    const std::vector<Case> cases = {
        {"", ""},
        {"{", ""},
        {"[]", ""},
        {"null", ""},
        {"{\"model\": \"m\xa3\", \"messages\": []}", ""},
        {R"({"messages": []})", "model"},
        {R"({"model": 3, "messages": []})", "model"},
        {R"({"model": "m"})", "messages"},
        {R"({"model": "m", "messages": {}})", "messages"},
        {R"({"model": "m", "messages": []})", "messages"},
        {R"({"model": "m", "messages": [3]})", "messages[0]"},
        {R"({"model": "m", "messages": [{"role": "x", "content": "a"}]})", "messages[0].role"},
        {R"({"model": "m", "messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
        {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
         "messages[0].content[0].type"},
        {R"({"model": "m", "messages": [{"role": "tool", "content": "a"}]})",
         "messages[0].tool_call_id"},
        {R"({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]})",
         "messages[0].tool_calls[0].function.name"},
        {with(R"("max_tokens": -1)"), "max_tokens"},
        {with(R"("max_tokens": 0)"), "max_tokens"},
        {with(R"("max_tokens": 1e300)"), "max_tokens"},
        {with(R"("max_tokens": 99999999999999999999)"), "max_tokens"},
        {with(R"("max_tokens": 2.5)"), "max_tokens"},
        {with(R"("max_completion_tokens": "10")"), "max_completion_tokens"},
        {with(R"("n": 2)"), "n"},
        {with(R"("n": 0)"), "n"},
        {with(R"("temperature": -1)"), "temperature"},
        {with(R"("temperature": "hot")"), "temperature"},
        {with(R"("top_p": 2)"), "top_p"},
        {with(R"("top_k": -3)"), "top_k"},
        {with(R"("seed": "x")"), "seed"},
        {with(R"("stop": 5)"), "stop"},
        {with(R"("stop": ["a", "b", "c", "d", "e"])"), "stop"},
        {with(R"("stream": "yes")"), "stream"},
        {with(R"("stream_options": {"include_usage": true})"), "stream_options"},
        {with(R"("tools": {})"), "tools"},
        {with(R"("tools": [{"type": "function", "function": {"parameters": {}}}])"), "tools"},
        {with(R"("tool_choice": "sometimes")"), "tool_choice"},
        {with(R"("tool_choice": "required")"), "tool_choice"},
        {with(
             R"("tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}})"),
         "tool_choice"},
        {with(R"("response_format": {"type": "yaml"})"), "response_format.type"},
        {with(R"("response_format": {"type": "json_schema"})"), "response_format.json_schema"},
        {with(
             R"("response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "frog"}}})"),
         "response_format.json_schema.schema"},
        {with(R"("reasoning_effort": "max")"), "reasoning_effort"},
        {with(R"("thinking_budget": -2)"), "thinking_budget"},
        {with(R"("chat_template_kwargs": {"enable_thinking": "yes"})"),
         "chat_template_kwargs.enable_thinking"},
        {with(R"("logprobs": true)"), "logprobs"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.body);
      std::optional<ApiError> e = chat(c.body);
      REQUIRE(e.has_value());
      CHECK(e->status == 400);
      CHECK(e->type == "invalid_request_error");
      CHECK_FALSE(e->message.empty());
      CHECK(e->param == c.param);
      const json j = e->to_json();
      CHECK(j["error"]["message"] == e->message);
    }
  }

  TEST_CASE("openai api: an error quoting a cut multi-byte character is still valid JSON text") {
    // The parser stops on the first byte of a two-byte character and quotes what it read.
    const std::string body = "{\"model\":\"m\",\"messages\":[{\xde\x8dole\":\"user\"}]}";
    std::optional<ApiError> e = chat(body);
    REQUIRE(e.has_value());
    CHECK(e->status == 400);
    CHECK_NOTHROW((void)e->to_json().dump());  // strict: throws on invalid UTF-8
  }

  TEST_CASE("openai api: completions and embeddings requests") {
    CompletionRequest c;
    REQUIRE_FALSE(
        parse_completion(R"({"model": "m", "prompt": ["once"], "max_tokens": 5, "echo": true})",
                         RequestLimits{}, &c));
    CHECK(c.prompt == "once");
    CHECK(c.max_tokens == 5);
    CHECK(c.echo);
    CompletionRequest bad;
    CHECK(parse_completion(R"({"model": "m", "prompt": ["a", "b"]})", RequestLimits{}, &bad));
    CHECK(parse_completion(R"({"model": "m", "prompt": ""})", RequestLimits{}, &bad));
    EmbeddingRequest e;
    REQUIRE_FALSE(
        parse_embedding(R"({"model": "m", "input": ["a", "b"], "encoding_format": "base64"})",
                        RequestLimits{}, &e));
    CHECK(e.input.size() == 2);
    CHECK(e.base64);
    EmbeddingRequest ebad;
    CHECK(parse_embedding(R"({"model": "m", "input": [[1, 2]]})", RequestLimits{}, &ebad));
    CHECK(parse_embedding(R"({"model": "m", "input": []})", RequestLimits{}, &ebad));
    CHECK(parse_embedding(R"({"model": "m", "input": "a", "encoding_format": "hex"})",
                          RequestLimits{}, &ebad));
    CHECK(base64_encode("abcd", 4) == "YWJjZA==");
  }

  TEST_CASE("openai api: stop strings hold back partial matches and cut at the stop") {
    StopFilter f({"END"});
    CHECK(f.push("hello E") == "hello");  // "E" could begin "END": held back (with 1 more)
    CHECK(f.push("N") == " ");
    CHECK(f.push("D and more").empty());  // "END" found: the answer ends before it
    CHECK(f.stopped());
    CHECK(f.text() == "hello ");
    CHECK(f.finish().empty());
  }

  TEST_CASE("openai api: stop filter over random chunkings equals cutting the whole text") {
    std::mt19937 rng(3);
    const std::string text = "alpha beta <stop> gamma";
    for (int trial = 0; trial < 200; ++trial) {
      StopFilter f({"<stop>", "zeta"});
      std::string sent;
      size_t at = 0;
      while (at < text.size()) {
        const size_t n = 1 + rng() % 5;
        sent += f.push(std::string_view(text).substr(at, n));
        at += n;
      }
      sent += f.finish();
      CHECK(sent == "alpha beta ");
      CHECK(f.stopped());
    }
    StopFilter none({});
    CHECK(none.push("abc") == "abc");
    CHECK(none.finish().empty());
  }

  TEST_CASE("openai api: response builders") {
    ChatResult r;
    r.content = "";
    r.reasoning = "think";
    r.tool_calls = {{"call_x", "f", "{}"}};
    r.usage.prompt_tokens = 3;
    r.usage.completion_tokens = 4;
    r.usage.reasoning_tokens = 2;
    const json j = chat_completion_json("id", 1, "m", r, "tool_calls");
    CHECK(j["choices"][0]["message"]["content"].is_null());
    CHECK(j["choices"][0]["message"]["reasoning_content"] == "think");
    CHECK(j["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "f");
    CHECK(j["usage"]["total_tokens"] == 7);
    CHECK(j["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2);
    CHECK(unique_call_id("chatcmpl-0123456789abcdef", "call_0") == "call_89abcdef_0");
    CHECK(finish_reason_for("cancelled", true) == "stop");
    CHECK(finish_reason_for("length", false) == "length");
  }

  TEST_CASE("openai api: key files") {
    auto keys =
        parse_api_keys("# comment\n\nsk-aaaaaaaa\nsk-bbbbbbbb agents=a,b tools=calculator\n", "k");
    REQUIRE(keys);
    REQUIRE(keys->size() == 2);
    CHECK_FALSE((*keys)[0].agents);
    CHECK((*keys)[1].agents->count("b"));
    CHECK((*keys)[1].tools->count("calculator"));
    CHECK_FALSE(parse_api_keys("short\n", "k"));
    auto bad = parse_api_keys("sk-aaaaaaaa agent=x\n", "keys.txt");
    REQUIRE_FALSE(bad);
    CHECK(bad.status().message().find("keys.txt:1") != std::string::npos);
  }

  TEST_CASE("openai api: random bytes and mutated requests never throw") {
    std::mt19937 rng(11);
    const std::string seed = with(
        R"("tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}], "stop": ["x"], "max_tokens": 5)");
    for (int i = 0; i < 3000; ++i) {
      std::string body = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const size_t at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body[at] = static_cast<char>(rng() % 256);
            break;
          case 1:
            body.erase(at, 1 + rng() % 8);
            break;
          default:
            body.insert(at, 1, "{}[]\",:0-e"[rng() % 10]);
        }
      }
      ChatCompletionRequest r;
      CHECK_NOTHROW((void)parse_chat_completion(body, RequestLimits{}, &r));
      CompletionRequest c;
      CHECK_NOTHROW((void)parse_completion(body, RequestLimits{}, &c));
      EmbeddingRequest em;
      CHECK_NOTHROW((void)parse_embedding(body, RequestLimits{}, &em));
    }
  }
}
