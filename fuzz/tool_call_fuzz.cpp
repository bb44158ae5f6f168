// libFuzzer target for the chat output parsers. Seeds: tests/data/chat/*.txt (prefix one byte).
// The first byte picks the format (bits 0-1: deepseek-r1, chatml, llama3) and starts_in_thinking
// (bit 2); the bytes after it are the model output, fed in chunks whose sizes come from the
// input too (bits 3-7 of the first byte seed a small generator), then again whole. Checks: no
// crash under ASan/UBSan, content never holds "</think>", the events add up to parsed(), and the
// chunked and whole parses agree.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_format.h"

namespace {

struct Summary {
  r1::ParsedOutput parsed;
  std::string reasoning, content;
  std::vector<std::string> calls;
};

template <typename NextSize>
Summary run(const r1::ChatFormat& format, std::string_view text, bool starts, NextSize next) {
  std::unique_ptr<r1::OutputParser> parser = format.make_parser(starts);
  std::vector<r1::ChatEvent> events;
  for (size_t at = 0; at < text.size();) {
    size_t n = std::min(text.size() - at, next());
    parser->push(text.substr(at, n), events);
    (void)parser->in_reasoning();
    (void)parser->in_tool_call();
    at += n;
  }
  parser->finish(events);
  Summary s;
  s.parsed = parser->parsed();
  for (const r1::ChatEvent& e : events) {
    if (e.kind == r1::ChatEvent::Kind::kReasoning) s.reasoning += e.text;
    if (e.kind == r1::ChatEvent::Kind::kContent) s.content += e.text;
    if (e.kind == r1::ChatEvent::Kind::kToolCall) {
      s.calls.push_back(e.call.id + "\n" + e.call.name + "\n" + e.call.arguments);
    }
    if (e.kind == r1::ChatEvent::Kind::kToolCallError) s.calls.push_back("!" + e.error.message);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kNames[] = {"deepseek-r1", "chatml", "llama3", "deepseek-r1"};
  static std::unique_ptr<r1::ChatFormat> formats[3];
  const int which = data[0] & 3;
  auto& format = formats[which == 3 ? 0 : which];
  if (!format) format = std::move(r1::make_chat_format(kNames[which]).value());
  const bool starts = (data[0] >> 2) & 1;
  uint32_t state = (data[0] >> 3) * 2654435761u + 1;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  Summary chunked = run(*format, text, starts, [&] {
    state = state * 1103515245u + 12345u;
    return size_t{1} + (state >> 16) % 13;
  });
  Summary whole = run(*format, text, starts, [&] { return text.size(); });

  if (chunked.parsed.content.find("</think>") != std::string::npos) __builtin_trap();
  if (chunked.content != chunked.parsed.content) __builtin_trap();
  if (chunked.reasoning != chunked.parsed.reasoning) __builtin_trap();
  if (chunked.parsed.content != whole.parsed.content) __builtin_trap();
  if (chunked.parsed.reasoning != whole.parsed.reasoning) __builtin_trap();
  if (chunked.calls != whole.calls) __builtin_trap();
  if (chunked.parsed.reasoning_truncated != whole.parsed.reasoning_truncated) __builtin_trap();
  return 0;
}
