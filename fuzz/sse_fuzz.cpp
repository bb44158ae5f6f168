// libFuzzer target for the remote engine's stream reader: SSE framing (engine/sse.cpp) plus the
// OpenAI chunk decoder and tool-call accumulator (engine/remote_engine.cpp). The first input byte
// picks the piece size the stream is fed in, so splits at every position get explored; the rest
// is the response body. Any input must end in events or a Status, never a crash, and the framing
// must not depend on how the stream was split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/remote_engine.h"
#include "engine/sse.h"

namespace {

// Parses `body` in pieces of `piece` bytes; returns the events and whether it failed.
bool parse(std::string_view body, size_t piece, std::vector<r1::SseEvent>& events) {
  r1::SseLimits limits;
  limits.max_line_bytes = 4096;  // small, so the caps are reached too
  limits.max_event_bytes = 8192;
  r1::SseParser p(limits);
  for (size_t i = 0; i < body.size(); i += piece) {
    if (!p.push(body.substr(i, piece), events).is_ok()) return false;
  }
  return p.finish(events).is_ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 16;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<r1::SseEvent> split, whole;
  const bool ok_split = parse(body, piece, split);
  const bool ok_whole = parse(body, body.size() + 1, whole);
  if (ok_split != ok_whole) __builtin_trap();
  if (ok_whole) {
    if (split.size() != whole.size()) __builtin_trap();
    for (size_t i = 0; i < split.size(); ++i) {
      if (split[i].data != whole[i].data || split[i].event != whole[i].event ||
          split[i].id != whole[i].id) {
        __builtin_trap();
      }
    }
  }

  r1::remote_detail::ToolCallAccumulator calls;
  volatile size_t sink = 0;
  for (const r1::SseEvent& e : whole) {
    if (e.data == "[DONE]") break;
    r1::Result<r1::remote_detail::ChunkDelta> d = r1::remote_detail::decode_chunk(e.data);
    if (!d.is_ok()) {
      sink = sink + d.status().message().size();
      continue;
    }
    sink = sink + d->reasoning.size() + d->content.size() + d->finish_reason.size();
    sink = sink + r1::remote_detail::map_finish_reason(d->finish_reason).size();
    for (const r1::remote_detail::ToolCallDelta& t : d->tool_calls) {
      if (!calls.add(t).is_ok()) break;
    }
  }
  for (const r1::ToolCall& c : calls.calls()) {
    sink = sink + c.id.size() + c.name.size() + c.arguments.size();
    if (c.arguments.empty()) __builtin_trap();  // blank arguments become "{}"
  }
  (void)sink;
  return 0;
}
