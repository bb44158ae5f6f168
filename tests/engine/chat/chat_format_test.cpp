// Chat formats, the shared parts: recorded model outputs (tests/data/chat/NAME.txt with the
// expected parse in NAME.expected.json) parse the same whole, byte by byte and in random chunks;
// events stream as the text arrives; format lookup and detection from real GGUF files.
#include "engine/chat/chat_format.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/chat/chatml.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "tests/test_paths.h"

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a whole stream of events says, to compare runs with different chunking.
struct Run {
  ParsedOutput parsed;
  std::string reasoning_events;  // concatenated kReasoning texts
  std::string content_events;
  std::vector<std::string> order;  // "call NAME ARGS" / "error MESSAGE" in event order
};

// Feeds `text` in pieces whose sizes `next_size` picks; finish() at the end.
template <typename NextSize>
Run parse_in_chunks(const ChatFormat& format, const std::string& text, bool starts_in_thinking,
                    NextSize next_size) {
  std::unique_ptr<OutputParser> parser = format.make_parser(starts_in_thinking);
  std::vector<ChatEvent> events;
  for (size_t at = 0; at < text.size();) {
    size_t n = std::min(text.size() - at, next_size());
    parser->push(std::string_view(text).substr(at, n), events);
    at += n;
  }
  parser->finish(events);
  Run run;
  run.parsed = parser->parsed();
  for (const ChatEvent& e : events) {
    switch (e.kind) {
      case ChatEvent::Kind::kReasoning:
        run.reasoning_events += e.text;
        break;
      case ChatEvent::Kind::kContent:
        run.content_events += e.text;
        break;
      case ChatEvent::Kind::kToolCall:
        run.order.push_back("call " + e.call.id + " " + e.call.name + " " + e.call.arguments);
        break;
      case ChatEvent::Kind::kToolCallError:
        run.order.push_back("error " + e.error.message);
        break;
    }
  }
  return run;
}

void check_same(const Run& a, const Run& b, const std::string& how) {
  INFO("chunking: " << how);
  CHECK(a.parsed.reasoning == b.parsed.reasoning);
  CHECK(a.parsed.content == b.parsed.content);
  CHECK(a.parsed.reasoning_truncated == b.parsed.reasoning_truncated);
  CHECK(a.order == b.order);
  CHECK(a.reasoning_events == b.reasoning_events);
  CHECK(a.content_events == b.content_events);
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(test::source_path("tests/data/chat"))) {
    std::string file = entry.path().filename().string();
    const std::string suffix = ".expected.json";
    if (file.size() > suffix.size() && file.ends_with(suffix)) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ---- recorded transcripts ----------------------------------------------------------------------

TEST_CASE("chat: every recorded transcript parses as expected, whole, byte by byte, in chunks") {
  std::vector<std::string> names = transcript_names();
  REQUIRE(names.size() >= 20);
  for (const std::string& name : names) {
    CAPTURE(name);
    const std::string dir = test::source_path("tests/data/chat/");
    const std::string text = read_file(dir + name + ".txt");
    nlohmann::json expected = nlohmann::json::parse(read_file(dir + name + ".expected.json"));
    auto format = make_chat_format(expected["format"].get<std::string>());
    REQUIRE(format.is_ok());
    const bool starts = expected["starts_in_thinking"].get<bool>();

    Run whole = parse_in_chunks(**format, text, starts, [&] { return text.size(); });
    const ParsedOutput& p = whole.parsed;
    CHECK(p.reasoning == expected["reasoning"].get<std::string>());
    CHECK(p.content == expected["content"].get<std::string>());
    CHECK(p.reasoning_truncated == expected["reasoning_truncated"].get<bool>());
    CHECK(p.content.find("</think>") == std::string::npos);
    REQUIRE(p.tool_calls.size() == expected["tool_calls"].size());
    for (size_t i = 0; i < p.tool_calls.size(); ++i) {
      CHECK(p.tool_calls[i].id == "call_" + std::to_string(i));
      CHECK(p.tool_calls[i].name == expected["tool_calls"][i]["name"].get<std::string>());
      CHECK(p.tool_calls[i].arguments == expected["tool_calls"][i]["arguments"].get<std::string>());
    }
    REQUIRE(p.errors.size() == expected["errors"].size());
    for (size_t i = 0; i < p.errors.size(); ++i) {
      CAPTURE(p.errors[i].message);
      CHECK(p.errors[i].message.find(expected["errors"][i].get<std::string>()) !=
            std::string::npos);
      CHECK(!p.errors[i].raw.empty());
    }
    // The events carry the same text as the summary.
    CHECK(whole.reasoning_events == p.reasoning);
    CHECK(whole.content_events == p.content);

    check_same(whole, parse_in_chunks(**format, text, starts, [] { return size_t{1}; }), "1 byte");
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      std::mt19937 rng(seed);
      std::uniform_int_distribution<size_t> size(1, 9);
      check_same(whole, parse_in_chunks(**format, text, starts, [&] { return size(rng); }),
                 "random, seed " + std::to_string(seed));
    }
  }
}

// ---- streaming behaviour ------------------------------------------------------------------------

TEST_CASE("chat: deltas stream as text arrives, holding back only a possible delimiter") {
  auto format = make_chat_format("deepseek-r1");
  REQUIRE(format.is_ok());
  std::unique_ptr<OutputParser> parser = (*format)->make_parser(true);
  std::vector<ChatEvent> events;
  CHECK(parser->in_reasoning());
  parser->push("Let me think", events);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ChatEvent::Kind::kReasoning);
  CHECK(events[0].text == "Let me think");
  events.clear();
  parser->push(" hard.</thi", events);  // "</thi" may be the end of thinking: held back
  REQUIRE(events.size() == 1);
  CHECK(events[0].text == " hard.");
  events.clear();
  parser->push("nk>\n\nThe answer", events);
  CHECK_FALSE(parser->in_reasoning());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ChatEvent::Kind::kContent);
  CHECK(events[0].text == "The answer");
  events.clear();
  parser->push(
      " is 4.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>calc\n```json\n",
      events);
  CHECK(parser->in_tool_call());
  REQUIRE(events.size() == 1);
  CHECK(events[0].text == " is 4.");
  events.clear();
  parser->push("{\"expr\": \"2+2\"}\n```<｜tool▁call▁end｜>", events);
  REQUIRE(events.size() == 1);  // the call is out as soon as its block closes
  CHECK(events[0].kind == ChatEvent::Kind::kToolCall);
  CHECK(events[0].call.name == "calc");
  CHECK(events[0].call.arguments == "{\"expr\": \"2+2\"}");
  events.clear();
  parser->push("<｜tool▁calls▁end｜>", events);
  CHECK(events.empty());
  CHECK_FALSE(parser->in_tool_call());
  parser->finish(events);
  CHECK(parser->parsed().content == "The answer is 4.");
  CHECK(parser->parsed().reasoning == "Let me think hard.");
}

TEST_CASE("chat: </think> never reaches content, even when removed text joins its halves") {
  for (const char* name : {"deepseek-r1", "chatml", "llama3"}) {
    CAPTURE(name);
    auto format = make_chat_format(name);
    REQUIRE(format.is_ok());
    for (const std::string text :
         {"a</thi<tool_call>{\"name\":\"x\",\"arguments\":{}}</tool_call>nk>b", "</</think>think>",
          "x</thi</think>nk>y", "<think>r</think></think>c</think>",
          "</thi<｜tool▁calls▁begin｜><｜tool▁calls▁end｜>nk>"}) {
      CAPTURE(text);
      for (bool starts : {false, true}) {
        Run whole = parse_in_chunks(**format, text, starts, [&] { return text.size(); });
        CHECK(whole.parsed.content.find("</think>") == std::string::npos);
        check_same(whole, parse_in_chunks(**format, text, starts, [] { return size_t{1}; }),
                   "1 byte");
      }
    }
  }
}

TEST_CASE("chat: whitespace rules around thinking and answers") {
  auto format = make_chat_format("chatml");
  REQUIRE(format.is_ok());
  auto parse = [&](const std::string& text, bool starts) {
    return parse_in_chunks(**format, text, starts, [] { return size_t{1}; }).parsed;
  };
  // One newline after <think> and one before </think> belong to the delimiters.
  CHECK(parse("<think>\n\nx\n\n</think>\n\n\ny\n", false).reasoning == "\nx\n");
  CHECK(parse("<think>\n\nx\n\n</think>\n\n\ny\n", false).content == "y\n");
  CHECK(parse("<think>x</think>y", false).reasoning == "x");
  CHECK(parse("<think>x</think>y", false).content == "y");
  // No thinking at all.
  ParsedOutput plain = parse("Hello there.", false);
  CHECK(plain.reasoning.empty());
  CHECK(plain.content == "Hello there.");
  CHECK_FALSE(plain.reasoning_truncated);
  // Cut off inside thinking.
  ParsedOutput cut = parse("<think>\nhmm", false);
  CHECK(cut.reasoning == "hmm");
  CHECK(cut.reasoning_truncated);
  CHECK(parse("", true).reasoning_truncated);
}

// ---- lookup and detection -----------------------------------------------------------------------

TEST_CASE("chat: make_chat_format knows three names and lists them otherwise") {
  for (const char* name : {"deepseek-r1", "chatml", "llama3"}) {
    auto f = make_chat_format(name);
    REQUIRE(f.is_ok());
    CHECK((*f)->name() == name);
  }
  auto bad = make_chat_format("mistral");
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("deepseek-r1, chatml, llama3") != std::string::npos);
}

TEST_CASE("chat: a ChatML template's default system message is extracted") {
  CHECK(chatml_default_system(read_file(
            test::shared_path("reference/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja"))) ==
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  CHECK(chatml_default_system(
            read_file(test::shared_path(
                "reference/chat-templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")))
            .empty());
  CHECK(chatml_default_system("{{'<|im_start|>' + message['role'] + '\\n'}}").empty());
}

TEST_CASE("chat: detect_chat_format reads SmolLM2's GGUF template and keeps its default system") {
  const std::string path = test::model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path << " is missing (r1 models fetch)");
    return;
  }
  auto gguf = GgufFile::open(path);
  REQUIRE(gguf.is_ok());
  auto tok = Tokenizer::from_gguf(**gguf);
  REQUIRE(tok.is_ok());
  auto tmpl = (*gguf)->get_string("tokenizer.chat_template");
  REQUIRE(tmpl.is_ok());
  auto format = detect_chat_format(std::string(*tmpl), **tok);
  REQUIRE(format.is_ok());
  CHECK((*format)->name() == "chatml");
  auto prompt = (*format)->render({{"user", "Hi"}}, {}, {});
  REQUIRE(prompt.is_ok());
  CHECK(*prompt ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // The same as the renderer `r1 chat` used before.
  CHECK(*prompt == render_chatml({{"user", "Hi"}}, true, chatml_default_system(*tmpl)));
  // A system message replaces the default.
  auto with_system = (*format)->render({{"system", "Be brief."}, {"user", "Hi"}}, {}, {});
  REQUIRE(with_system.is_ok());
  CHECK(with_system->find("SmolLM") == std::string::npos);
  // Without a template, the vocabulary decides (no default system then).
  auto from_vocab = detect_chat_format("", **tok);
  REQUIRE(from_vocab.is_ok());
  CHECK((*from_vocab)->name() == "chatml");
}

TEST_CASE("chat: detect_chat_format finds R1 in the R1-Distill-Qwen vocab, template or not") {
  const std::string path = test::model_path("vocab-deepseek-r1-qwen.gguf");
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path << " is missing");
    return;
  }
  auto gguf = GgufFile::open(path);
  REQUIRE(gguf.is_ok());
  auto tok = Tokenizer::from_gguf(**gguf);
  REQUIRE(tok.is_ok());
  auto from_vocab = detect_chat_format("", **tok);
  REQUIRE(from_vocab.is_ok());
  CHECK((*from_vocab)->name() == "deepseek-r1");
  if (auto tmpl = (*gguf)->get_string("tokenizer.chat_template"); tmpl.is_ok()) {
    auto from_template = detect_chat_format(std::string(*tmpl), **tok);
    REQUIRE(from_template.is_ok());
    CHECK((*from_template)->name() == "deepseek-r1");
  }
  // Templates are read before the vocabulary.
  for (auto [file, expect] : std::vector<std::pair<std::string, std::string>>{
           {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3"},
           {"Qwen-Qwen2.5-7B-Instruct.jinja", "chatml"},
           {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-r1"}}) {
    auto f =
        detect_chat_format(read_file(test::shared_path("reference/chat-templates/" + file)), **tok);
    REQUIRE(f.is_ok());
    CHECK((*f)->name() == expect);
  }
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
