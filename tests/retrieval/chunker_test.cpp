// Chunker: windows of whole words sized in WordPiece pieces, with overlap, whose text is exactly
// the input bytes they claim; long words are cut at character boundaries; multi-byte text and
// Unicode white space are handled. Also run with the real MiniLM tokenizer when it is cached.
#include "retrieval/chunker.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "engine/embedder.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

// One piece per 4 bytes of a word, at least one: a stand-in for WordPiece with known counts.
int32_t four_byte_pieces(std::string_view w) {
  return static_cast<int32_t>((w.size() + 3) / 4);
}

std::string numbered_words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += (i ? " w" : "w") + std::to_string(1000 + i);  // 5 bytes: 2 pieces
  return s;
}

void check_invariants(std::string_view text, const std::vector<TextChunk>& chunks, int32_t max) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    CHECK(c.byte_start < c.byte_end);
    CHECK(c.n_pieces <= max);
    CHECK(c.text == text.substr(static_cast<size_t>(c.byte_start),
                                static_cast<size_t>(c.byte_end - c.byte_start)));
    if (i > 0) CHECK(c.byte_start > chunks[i - 1].byte_start);  // always moves forward
  }
}

TEST_CASE("chunker: text is covered by windows of at most max_pieces with the asked overlap") {
  const std::string text = numbered_words(500);  // 1000 pieces
  const ChunkerOptions o{40, 10};
  const auto chunks = chunk_text(text, four_byte_pieces, o);
  REQUIRE(chunks.size() > 1);
  check_invariants(text, chunks, 40);
  CHECK(chunks.front().byte_start == 0);
  CHECK(chunks.back().byte_end == static_cast<int64_t>(text.size()));
  for (size_t i = 1; i < chunks.size(); ++i) {
    // Consecutive chunks share [next.start, prev.end): at least 10 pieces = 5 words of 2.
    const int64_t shared_bytes = chunks[i - 1].byte_end - chunks[i].byte_start;
    CHECK(shared_bytes >= 5 * 6 - 1);
    CHECK(chunks[i].byte_start < chunks[i - 1].byte_end);
    CHECK(chunks[i - 1].n_pieces == 40);  // full windows except the last
  }
}

TEST_CASE("chunker: short and empty texts") {
  CHECK(chunk_text("", four_byte_pieces).empty());
  CHECK(chunk_text(" \n\t  ", four_byte_pieces).empty());
  const auto one = chunk_text("  hello world \n", four_byte_pieces);
  REQUIRE(one.size() == 1);
  CHECK(one[0].text == "hello world");
  CHECK(one[0].byte_start == 2);
  CHECK(one[0].byte_end == 13);
}

TEST_CASE("chunker: a word longer than a window is cut at UTF-8 character boundaries") {
  std::string blob(100, 'x');
  for (int i = 0; i < 50; ++i) blob += "\xC3\xA9";  // 'é', two bytes each
  const std::string text = "start " + blob + " end";
  const auto chunks = chunk_text(text, four_byte_pieces, {8, 2});
  check_invariants(text, chunks, 8);
  for (const TextChunk& c : chunks) {
    // No chunk starts or ends inside a multi-byte character.
    CHECK((static_cast<unsigned char>(text[static_cast<size_t>(c.byte_start)]) & 0xC0) != 0x80);
    if (c.byte_end < static_cast<int64_t>(text.size())) {
      CHECK((static_cast<unsigned char>(text[static_cast<size_t>(c.byte_end)]) & 0xC0) != 0x80);
    }
  }
  CHECK(chunks.back().text.find("end") != std::string::npos);
}

TEST_CASE("chunker: Unicode white space separates words and multi-byte words stay whole") {
  const std::string text = "caf\xC3\xA9\xC2\xA0na\xC3\xAFve\xE3\x80\x80\xE6\x97\xA5\xE6\x9C\xAC";
  const auto chunks = chunk_text(text, [](std::string_view) { return 1; }, {8, 0});
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].n_pieces == 3);  // café, naïve, 日本
  CHECK(chunks[0].text == text);
  const auto split = chunk_text(text, [](std::string_view) { return 5; }, {8, 0});
  REQUIRE(split.size() == 3);
  CHECK(split[0].text == "caf\xC3\xA9");
  CHECK(split[1].text == "na\xC3\xAFve");
  CHECK(split[2].text == "\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST_CASE("chunker: with the MiniLM tokenizer every chunk fits the 256-piece window") {
  const std::string model = test::model_path("all-MiniLM-L6-v2.F32.gguf");
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " is missing (run `r1 models fetch all-minilm-l6-v2`)");
    return;
  }
  auto emb = Embedder::open(model, {1, 8192});
  REQUIRE(emb.is_ok());
  const WordPieceTokenizer& tok = (*emb)->tokenizer();
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text +=
        "Reciprocal-rank fusion (RRF) merges rankings; unbelievably, na\xC3\xAFve caf\xC3\xA9s "
        "www.example.com/very/long/path?query=1&x=" +
        std::to_string(i) + ". ";
  }
  const auto chunks = chunk_text(text, wordpiece_counter(tok), {200, 40});
  REQUIRE(chunks.size() > 10);
  check_invariants(text, chunks, 200);
  for (const TextChunk& c : chunks) {
    const auto ids = tok.encode(c.text, 1 << 20);
    CHECK(static_cast<int32_t>(ids.size()) == c.n_pieces + 2);  // the count is exact
    CHECK(ids.size() <= 256);
  }
}

}  // namespace
}  // namespace r1
