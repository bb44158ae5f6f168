// SseParser: an incremental parser of a text/event-stream body (Server-Sent Events), as
// OpenAI-compatible servers stream chat completions.
//
// Bytes arrive in arbitrary pieces (a line, a field name, a CRLF pair may be split between two
// reads); push() consumes each piece and appends every event it completes. Lines end with LF, CR
// or CRLF; `:` lines are comments; `data` lines of one event are joined with "\n"; a blank line
// dispatches the event. Lines and events longer than the limits are an error, not a growing
// buffer. One parser belongs to one stream; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

struct SseEvent {
  std::string event;  // the `event:` field; "" (the spec's "message") when absent
  std::string data;   // the `data:` lines joined with "\n"
  std::string id;     // the `id:` field, "" when absent
};

struct SseLimits {
  size_t max_line_bytes = size_t{1} << 20;   // bytes of one line, terminator excluded
  size_t max_event_bytes = size_t{4} << 20;  // bytes of one event's data
};

class SseParser {
 public:
  explicit SseParser(SseLimits limits = {});

  // Consumes `bytes` and appends the events they complete. kOutOfRange naming the byte offset
  // when a line or an event's data exceeds the limits; the parser then stays failed and every
  // later call returns the same Status, appending nothing.
  Status push(std::string_view bytes, std::vector<SseEvent>& events);
  // End of the stream: an unterminated last line is processed, and an event whose blank line
  // never came is dispatched (servers often close right after the last `data:` line; the spec
  // would drop it, but nothing is lost by keeping it). Same errors as push().
  Status finish(std::vector<SseEvent>& events);

  uint64_t bytes_consumed() const { return consumed_; }  // bytes pushed so far

 private:
  Status process_line(std::vector<SseEvent>& events);
  void dispatch(std::vector<SseEvent>& events);

  SseLimits limits_;
  std::string line_;         // the current line, not yet terminated
  SseEvent pending_;         // the event being built
  bool has_data_ = false;    // pending_ has seen a `data` line
  bool skip_lf_ = false;     // the last byte was CR: a following LF belongs to it
  bool at_start_ = true;     // still deciding whether the stream starts with a UTF-8 BOM
  size_t bom_matched_ = 0;   // bytes of that BOM seen so far
  uint64_t consumed_ = 0;    // bytes
  uint64_t line_start_ = 0;  // byte offset of line_'s first byte in the stream
  Status failed_;            // sticky error
};

}  // namespace r1
