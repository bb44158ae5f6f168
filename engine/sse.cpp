// Server-Sent Events, the subset of the WHATWG "event stream" format that streaming HTTP APIs use:
//
//   stream  = [BOM] *( line EOL )             EOL = CRLF | LF | CR
//   line    = ":" comment                     ignored
//           | NAME [ ":" [" "] VALUE ]        one leading space of VALUE is dropped
//           | ""                              blank: dispatch the pending event
//   NAME    = "data"   VALUE + "\n" appended to the event's data (the last "\n" dropped)
//           | "event"  the event type       | "id" the event id (ignored if it holds NUL)
//           | "retry" and anything else: ignored
//
// An event with no `data` line is not dispatched. OpenAI-compatible servers send one JSON
// object per event (`data: {...}\n\n`) and end with `data: [DONE]`; that meaning belongs to the
// caller (engine/remote_engine.cpp), not to this framing layer.
#include "engine/sse.h"

#include <cstring>

namespace r1 {

SseParser::SseParser(SseLimits limits) : limits_(limits) {}

Status SseParser::push(std::string_view bytes, std::vector<SseEvent>& events) {
  if (!failed_.is_ok()) return failed_;
  size_t i = 0;
  // A leading UTF-8 BOM is dropped, even when it arrives split across pushes.
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  while (at_start_ && i < bytes.size()) {
    if (bytes[i] == kBom[bom_matched_]) {
      ++i;
      if (++bom_matched_ == kBom.size()) at_start_ = false;
    } else {
      at_start_ = false;
      if (bom_matched_ > 0) line_start_ = 0;
      line_.append(kBom.substr(0, bom_matched_));  // not a BOM after all: ordinary bytes
    }
  }
  while (i < bytes.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes[i] == '\n') {
        ++i;
        continue;
      }
    }
    // The next line terminator in this piece.
    size_t end = i;
    while (end < bytes.size() && bytes[end] != '\n' && bytes[end] != '\r') ++end;
    const size_t n = end - i;
    if (line_.empty()) line_start_ = consumed_ + i;
    if (line_.size() + n > limits_.max_line_bytes) {
      failed_ = Status::out_of_range("SSE line at byte " + std::to_string(line_start_) +
                                     " is longer than " + std::to_string(limits_.max_line_bytes) +
                                     " bytes");
      consumed_ += bytes.size();
      return failed_;
    }
    line_.append(bytes.data() + i, n);
    if (end == bytes.size()) break;  // unterminated: wait for more
    skip_lf_ = bytes[end] == '\r';
    Status s = process_line(events);
    if (!s.is_ok()) {
      failed_ = s;
      consumed_ += bytes.size();
      return failed_;
    }
    i = end + 1;
  }
  consumed_ += bytes.size();
  return Status::ok();
}

Status SseParser::finish(std::vector<SseEvent>& events) {
  if (!failed_.is_ok()) return failed_;
  if (at_start_) line_.append(std::string_view("\xEF\xBB\xBF").substr(0, bom_matched_));
  if (!line_.empty()) {
    Status s = process_line(events);
    if (!s.is_ok()) return failed_ = s;
  }
  if (has_data_) dispatch(events);
  return Status::ok();
}

Status SseParser::process_line(std::vector<SseEvent>& events) {
  std::string_view line = line_;
  if (line.empty()) {
    if (has_data_) dispatch(events);
    pending_ = SseEvent{};
    has_data_ = false;
    return Status::ok();
  }
  if (line[0] == ':') {
    line_.clear();
    return Status::ok();
  }
  std::string_view name = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (pending_.data.size() + value.size() + 1 > limits_.max_event_bytes) {
      line_.clear();
      return Status::out_of_range("SSE event at the line at byte " + std::to_string(line_start_) +
                                  " has more than " + std::to_string(limits_.max_event_bytes) +
                                  " bytes of data");
    }
    pending_.data.append(value);
    pending_.data.push_back('\n');
    has_data_ = true;
  } else if (name == "event") {
    pending_.event = std::string(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id = std::string(value);
  }
  line_.clear();
  return Status::ok();
}

void SseParser::dispatch(std::vector<SseEvent>& events) {
  if (!pending_.data.empty() && pending_.data.back() == '\n') pending_.data.pop_back();
  events.push_back(std::move(pending_));
  pending_ = SseEvent{};
  has_data_ = false;
}

}  // namespace r1
