// SseParser: the text/event-stream framing, under every way a stream can be split or malformed.
#include "engine/sse.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace r1 {
namespace {

// Feeds `stream` in pieces of `piece` bytes and returns the events (finish() included).
std::vector<SseEvent> parse_in_pieces(const std::string& stream, size_t piece,
                                      Status* status = nullptr, SseLimits limits = {}) {
  SseParser p(limits);
  std::vector<SseEvent> events;
  Status s;
  for (size_t i = 0; i < stream.size() && s.is_ok(); i += piece) {
    s = p.push(std::string_view(stream).substr(i, piece), events);
  }
  if (s.is_ok()) s = p.finish(events);
  if (status) *status = s;
  return events;
}

TEST_CASE("sse: events, comments, CRLF and multi-line data, under every split") {
  const std::string stream =
      "\xEF\xBB\xBF: a comment line\r\n"
      "data: {\"a\":1}\r\n\r\n"
      "event: note\n"
      "id: 7\n"
      "data: line one\n"
      "data:line two\n"
      "retry: 100\n"
      "unknown: ignored\n\n"
      "data\r\r"  // a bare `data` field is an empty line of data; CR alone ends lines
      "data: [DONE]\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    Status s;
    std::vector<SseEvent> ev = parse_in_pieces(stream, piece, &s);
    REQUIRE_MESSAGE(s.is_ok(), "piece " << piece << ": " << s.message());
    REQUIRE_MESSAGE(ev.size() == 4, "piece " << piece);
    CHECK(ev[0].data == "{\"a\":1}");
    CHECK(ev[0].event.empty());
    CHECK(ev[1].event == "note");
    CHECK(ev[1].id == "7");
    CHECK(ev[1].data == "line one\nline two");
    CHECK(ev[2].data.empty());
    CHECK(ev[3].data == "[DONE]");
  }
}

TEST_CASE(
    "sse: a leading BOM is dropped even when split, and a BOM prefix that is not one is kept") {
  for (size_t piece = 1; piece <= 4; ++piece) {
    std::vector<SseEvent> ev = parse_in_pieces(
        "\xEF\xBB\xBF"
        "data: x\n\n",
        piece);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].data == "x");
    // "\xEF\xBB" then "data": not a BOM, so the first line's field name is "\xEF\xBBdata".
    CHECK(parse_in_pieces("\xEF\xBB"
                          "data: x\n\ndata: y\n\n",
                          piece)
              .size() == 1);
  }
}

TEST_CASE("sse: an event without its blank line is kept at the end of the stream") {
  std::vector<SseEvent> ev = parse_in_pieces("data: {}\n\ndata: last", 3);
  REQUIRE(ev.size() == 2);
  CHECK(ev[1].data == "last");
}

TEST_CASE("sse: a field-less event and comments dispatch nothing") {
  CHECK(parse_in_pieces(": keep-alive\n\nevent: ping\n\n\n\n", 5).empty());
}

TEST_CASE("sse: a line over the limit is an error naming its byte offset, and stays one") {
  SseLimits limits;
  limits.max_line_bytes = 64;
  const std::string stream = "data: ok\n\ndata: " + std::string(200, 'x') + "\n\n";
  Status s;
  std::vector<SseEvent> ev = parse_in_pieces(stream, 7, &s, limits);
  CHECK(s.code() == StatusCode::kOutOfRange);
  CHECK(s.message().find("byte 10") != std::string::npos);
  CHECK(s.message().find("longer than 64") != std::string::npos);
  CHECK(ev.size() == 1);

  SseParser p(limits);
  std::vector<SseEvent> events;
  CHECK(!p.push(std::string(100, 'y'), events).is_ok());
  CHECK(!p.push("data: fine\n\n", events).is_ok());  // sticky
  CHECK(events.empty());
}

TEST_CASE("sse: an event whose data lines add up past the limit is an error") {
  SseLimits limits;
  limits.max_event_bytes = 100;
  std::string stream;
  for (int i = 0; i < 20; ++i) stream += "data: 0123456789\n";
  stream += "\n";
  Status s;
  parse_in_pieces(stream, 13, &s, limits);
  CHECK(s.code() == StatusCode::kOutOfRange);
  CHECK(s.message().find("more than 100 bytes") != std::string::npos);
}

TEST_CASE("sse: binary garbage and NUL bytes never crash and keep the framing") {
  std::string stream("data: a\0b\n\n", 11);
  stream += std::string("\xff\xfe\x00\x01\n\n", 6);
  stream += std::string("id: x\0y\ndata: z\n\n", 17);
  Status s;
  std::vector<SseEvent> ev = parse_in_pieces(stream, 2, &s);
  REQUIRE(s.is_ok());
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == std::string("a\0b", 3));
  CHECK(ev[1].data == "z");
  CHECK(ev[1].id.empty());  // an id holding NUL is ignored
}

}  // namespace
}  // namespace r1
