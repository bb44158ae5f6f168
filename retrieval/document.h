// Document: the text of one file to ingest, read from txt, md, html or pdf, with what is needed
// to cite it: for HTML a map from extracted-text bytes back to source bytes, for PDF the page
// each stretch of text came from.
//
//   txt, md    the file's bytes (must be UTF-8 without NUL bytes); byte ranges are file bytes
//   html, htm  gumbo's parse (it accepts any tag soup, as browsers do): the <title>, then the
//              visible text in document order, one line per block element, headings kept;
//              script, style, noscript, template, svg, head's other children, <nav> and
//              SQLite's own menus (class "nosearch") are skipped. Byte ranges are mapped back
//              to the source bytes of the text nodes a chunk starts and ends in (exact at node
//              granularity; within a node, entities and collapsed white space shift by a few).
//   pdf        poppler-cpp, one text per page (physical layout); a chunk never spans pages, its
//              byte range is within its page's extracted text and `page` is 1-based.
//
// Errors are per file and name it: kInvalidArgument for bytes that are not the declared
// format (NUL bytes or ill-formed UTF-8 in text/HTML; a PDF without its header, truncated (no
// %%EOF in its last 1024 bytes), that poppler cannot open, locked, or without pages), kIoError
// for unreadable files, kUnsupported for other extensions. Pure
// functions (poppler's error callback is silenced process-wide once): thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "retrieval/chunker.h"

namespace r1 {

enum class DocumentKind { kText, kMarkdown, kHtml, kPdf };

const char* document_kind_name(DocumentKind kind);  // "txt", "md", "html", "pdf"

// By extension, case-insensitive: .txt .text, .md .markdown, .html .htm .xhtml, .pdf.
std::optional<DocumentKind> document_kind_for_path(const std::string& path);

struct PageText {
  int32_t page = 0;  // 1-based
  std::string text;
};

// Maps extracted-text bytes [text_start, text_end) to source bytes [source_start, source_end).
struct SourceSpan {
  int64_t text_start = 0;
  int64_t text_end = 0;
  int64_t source_start = 0;
  int64_t source_end = 0;
};

struct Document {
  std::string path;
  DocumentKind kind = DocumentKind::kText;
  std::string text;                    // txt/md/html: the extracted text (empty for pdf)
  std::vector<PageText> pages;         // pdf: one per page, in order
  std::vector<SourceSpan> source_map;  // html: ascending, non-overlapping; empty: identity
  int64_t source_bytes = 0;            // size of the file
};

// A chunk with its citation coordinates.
struct DocumentChunk {
  std::string text;
  int64_t byte_start = 0;  // source bytes (pdf: bytes of the page's extracted text)
  int64_t byte_end = 0;    // exclusive
  int32_t page = 0;        // pdf: 1-based page; 0 otherwise
  int32_t n_pieces = 0;    // WordPiece pieces, [CLS]/[SEP] excluded
};

// Parses `bytes` as `kind`; `path` names the input in errors.
Result<Document> parse_document(const std::string& path, DocumentKind kind, std::string_view bytes);
// Reads and parses a file (kind from its extension).
Result<Document> read_document(const std::string& path);

// Chunks a document (pdf page by page) and maps byte ranges to source bytes.
std::vector<DocumentChunk> chunk_document(const Document& doc, const PieceCounter& count_pieces,
                                          ChunkerOptions options = {});

}  // namespace r1
