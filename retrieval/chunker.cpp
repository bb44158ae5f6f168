#include "retrieval/chunker.h"

#include <algorithm>

#include "engine/wordpiece.h"

namespace r1 {

namespace {

struct Word {
  int64_t start = 0;  // bytes into the text
  int64_t end = 0;    // exclusive
  int32_t pieces = 0;
};

// ASCII and Unicode white space that BERT splits on (the multi-byte ones BERT also treats as
// spaces: NBSP, U+2000..U+200A, U+3000 and friends) -- returns its byte length, 0 if none.
int64_t space_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
  if (c == 0xC2 && i + 1 < s.size()) {
    const auto d = static_cast<unsigned char>(s[i + 1]);
    if (d == 0xA0 || d == 0x85) return 2;
  }
  if (c == 0xE2 && i + 2 < s.size()) {
    const auto d = static_cast<unsigned char>(s[i + 1]);
    const auto e = static_cast<unsigned char>(s[i + 2]);
    if (d == 0x80 && ((e >= 0x80 && e <= 0x8A) || e == 0xA8 || e == 0xA9 || e == 0xAF)) return 3;
    if (d == 0x81 && e == 0x9F) return 3;
  }
  if (c == 0xE3 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      static_cast<unsigned char>(s[i + 2]) == 0x80) {
    return 3;
  }
  return 0;
}

// Byte length of the UTF-8 sequence starting at s[i] (1 for a stray byte).
int64_t char_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int64_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  for (int64_t k = 1; k < n; ++k) {
    if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

// Appends `word`, cut at character boundaries into parts of at most `max_pieces` pieces when it
// is too long on its own. Each piece covers at least one character (except [UNK], which covers
// a whole word), so a part of max_pieces / 2 characters never exceeds max_pieces.
void add_word(std::string_view text, int64_t start, int64_t end, const PieceCounter& count,
              int32_t max_pieces, std::vector<Word>& out) {
  const std::string_view w =
      text.substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
  const int32_t pieces = count(w);
  if (pieces <= max_pieces) {
    if (pieces > 0) out.push_back({start, end, pieces});
    return;
  }
  const int64_t chars_per_part = std::max<int64_t>(1, max_pieces / 2);
  int64_t part_start = start;
  while (part_start < end) {
    int64_t p = part_start;
    for (int64_t n = 0; n < chars_per_part && p < end; ++n)
      p += char_length(text, static_cast<size_t>(p));
    const int32_t part_pieces =
        count(text.substr(static_cast<size_t>(part_start), static_cast<size_t>(p - part_start)));
    if (part_pieces > 0) out.push_back({part_start, p, std::min(part_pieces, max_pieces)});
    part_start = p;
  }
}

}  // namespace

PieceCounter wordpiece_counter(const WordPieceTokenizer& tokenizer) {
  return [&tokenizer](std::string_view word) {
    return static_cast<int32_t>(tokenizer.tokenize(word).size());
  };
}

std::vector<TextChunk> chunk_text(std::string_view text, const PieceCounter& count_pieces,
                                  ChunkerOptions options) {
  const int32_t max_pieces = std::max<int32_t>(8, options.max_pieces);
  const int32_t overlap = std::clamp<int32_t>(options.overlap_pieces, 0, max_pieces / 2);

  std::vector<Word> words;
  size_t i = 0;
  while (i < text.size()) {
    const int64_t sp = space_length(text, i);
    if (sp > 0) {
      i += static_cast<size_t>(sp);
      continue;
    }
    const size_t start = i;
    while (i < text.size() && space_length(text, i) == 0)
      i += static_cast<size_t>(char_length(text, i));
    add_word(text, static_cast<int64_t>(start), static_cast<int64_t>(i), count_pieces, max_pieces,
             words);
  }

  std::vector<TextChunk> chunks;
  size_t first = 0;  // first word of the current chunk
  while (first < words.size()) {
    size_t last = first;  // one past the last word
    int32_t pieces = 0;
    while (last < words.size() && pieces + words[last].pieces <= max_pieces) {
      pieces += words[last].pieces;
      ++last;
    }
    TextChunk c;
    c.byte_start = words[first].start;
    c.byte_end = words[last - 1].end;
    c.n_pieces = pieces;
    c.text = std::string(text.substr(static_cast<size_t>(c.byte_start),
                                     static_cast<size_t>(c.byte_end - c.byte_start)));
    chunks.push_back(std::move(c));
    if (last == words.size()) break;
    // Step back from `last` while the overlap is still short, but always move forward.
    size_t next = last;
    int32_t shared = 0;
    while (next > first + 1 && shared < overlap) {
      --next;
      shared += words[next].pieces;
    }
    first = next;
  }
  return chunks;
}

}  // namespace r1
