// libFuzzer target for the document readers and the chunker. Seeds: any HTML (for example a
// few pages of /usr/share/doc/sqlite3) and tests/data/retrieval/*.pdf. Any input parsed as
// HTML, text and PDF must give a document or an error naming "fuzz.*" -- never a crash, hang or
// leak under ASan/UBSan -- and every chunk's byte range must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "retrieval/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto pieces = [](std::string_view w) { return static_cast<int32_t>((w.size() + 3) / 4); };
  struct Case {
    r1::DocumentKind kind;
    const char* name;
  };
  for (const Case& c : {Case{r1::DocumentKind::kHtml, "fuzz.html"},
                        Case{r1::DocumentKind::kText, "fuzz.txt"},
                        Case{r1::DocumentKind::kPdf, "fuzz.pdf"}}) {
    r1::Result<r1::Document> doc = r1::parse_document(c.name, c.kind, bytes);
    if (!doc.is_ok()) {
      if (doc.status().message().rfind(std::string(c.name) + ": ", 0) != 0) __builtin_trap();
      continue;
    }
    for (const r1::DocumentChunk& ch : r1::chunk_document(*doc, pieces, {16, 4})) {
      if (ch.byte_start < 0 || ch.byte_end < ch.byte_start) __builtin_trap();
      if (c.kind != r1::DocumentKind::kPdf && ch.byte_end > static_cast<int64_t>(size)) {
        __builtin_trap();
      }
      if (ch.n_pieces > 16 || ch.text.empty()) __builtin_trap();
    }
  }
  return 0;
}
