// Chunker: splits a document's text into overlapping windows sized in WordPiece pieces, so that
// every chunk fits the embedder's window (all-MiniLM-L6-v2 truncates at 256 pieces including
// [CLS] and [SEP]) and nothing is silently cut off.
//
// The text is split into words at white space; a word's size is the number of pieces the
// tokenizer gives it (BERT splits on white space and punctuation first, so the pieces of a span
// of words are the sum of its words' pieces). Chunks are runs of whole words of at most
// `max_pieces` pieces; the next chunk starts at the latest word that keeps at least
// `overlap_pieces` pieces of overlap with the previous one. A word longer than `max_pieces` on
// its own (a long URL, a base64 blob) is cut at UTF-8 character boundaries. Every chunk keeps
// the byte range [byte_start, byte_end) it covers in the input text, and its text is exactly
// that substring. Pure functions of their inputs: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace r1 {

class WordPieceTokenizer;

struct ChunkerOptions {
  int32_t max_pieces = 200;     // pieces per chunk, [CLS]/[SEP] excluded (MiniLM: <= 254)
  int32_t overlap_pieces = 40;  // pieces shared with the previous chunk (< max_pieces / 2)
};

struct TextChunk {
  int64_t byte_start = 0;  // bytes into the chunked text, inclusive
  int64_t byte_end = 0;    // exclusive
  int32_t n_pieces = 0;    // WordPiece pieces, [CLS]/[SEP] excluded
  std::string text;        // the bytes [byte_start, byte_end) of the input
};

// Counts the pieces of one word (no white space inside).
using PieceCounter = std::function<int32_t(std::string_view word)>;

// The counter for a WordPiece tokenizer (tokenize(word).size()); `tokenizer` must outlive it.
PieceCounter wordpiece_counter(const WordPieceTokenizer& tokenizer);

// Chunks `text` (any bytes; ill-formed UTF-8 is kept as is). Text that is only white space, or
// whose words have no pieces, gives no chunks. Options are clamped to sane values
// (max_pieces >= 8, 0 <= overlap_pieces <= max_pieces / 2).
std::vector<TextChunk> chunk_text(std::string_view text, const PieceCounter& count_pieces,
                                  ChunkerOptions options = {});

}  // namespace r1
