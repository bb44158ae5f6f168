// Document readers: HTML gives its visible text (title, headings, body; no script, style, menus)
// with byte ranges that point back into the source; PDF gives one text per page; malformed or
// truncated files give one clear error naming the file.
#include "retrieval/document.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/test_paths.h"

namespace r1 {
namespace {

int32_t one_piece(std::string_view) {
  return 1;
}

TEST_CASE("document: HTML keeps the title, headings and visible text, skips script and style") {
  const std::string html =
      "<!DOCTYPE html><html><head><title>Query Planner</title><style>p{color:red}</style>"
      "<script>var secret = 'do not index';</script></head><body>"
      "<div class=nosearch><a href=x>Home</a> <a href=y>Download</a></div>"
      "<nav>Site menu</nav><h1>Overview</h1><p>The planner picks &amp; orders indexes.</p>"
      "<ul><li>first<li>second</ul><noscript>enable js</noscript><p>Tag soup <b>bold<i>x</b> ok";
  auto doc = parse_document("t.html", DocumentKind::kHtml, html);
  REQUIRE_MESSAGE(doc.is_ok(), doc.status().message());
  const std::string& t = doc->text;
  CHECK(t.rfind("Query Planner\n", 0) == 0);
  CHECK(t.find("Overview\nThe planner picks & orders indexes.") != std::string::npos);
  CHECK(t.find("first\nsecond") != std::string::npos);
  CHECK(t.find("Tag soup bold") != std::string::npos);
  for (const char* hidden : {"secret", "color", "Site menu", "Home", "Download", "enable js"}) {
    CHECK_MESSAGE(t.find(hidden) == std::string::npos, hidden);
  }
}

TEST_CASE("document: HTML chunk byte ranges point at the source text") {
  const std::string html =
      "<html><body><p>alpha beta</p><div>gamma <em>delta</em></div></body></html>";
  auto doc = parse_document("t.html", DocumentKind::kHtml, html);
  REQUIRE(doc.is_ok());
  const auto chunks = chunk_document(*doc, one_piece, {8, 0});  // 8 >= 4 words: one chunk
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].text == "alpha beta\ngamma delta");
  CHECK(html.substr(static_cast<size_t>(chunks[0].byte_start), 5) == "alpha");
  CHECK(html.substr(static_cast<size_t>(chunks[0].byte_end) - 5, 5) == "delta");
  const auto small = chunk_document(*doc, one_piece, {8, 0});
  CHECK(small[0].page == 0);
}

TEST_CASE("document: a PDF gives one text per page and chunks carry 1-based pages") {
  auto doc = read_document(test::source_path("tests/data/retrieval/two_pages.pdf"));
  REQUIRE_MESSAGE(doc.is_ok(), doc.status().message());
  REQUIRE(doc->pages.size() == 2);
  CHECK(doc->pages[0].text.find("Photosynthesis") != std::string::npos);
  CHECK(doc->pages[1].text.find("Mitochondria") != std::string::npos);
  const auto chunks = chunk_document(*doc, one_piece, {64, 8});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[0].page == 1);
  CHECK(chunks[1].page == 2);
  CHECK(chunks[1].text.find("powerhouse") != std::string::npos);
}

TEST_CASE("document: malformed files give one error naming the file") {
  struct Case {
    const char* file;
    const char* says;
  };
  for (const Case& c : {Case{"truncated.pdf", "truncated"}, Case{"not_a_pdf.pdf", "not a PDF"}}) {
    const std::string path = test::source_path(std::string("tests/data/retrieval/") + c.file);
    auto doc = read_document(path);
    REQUIRE_FALSE(doc.is_ok());
    CHECK(doc.status().code() == StatusCode::kInvalidArgument);
    CHECK(doc.status().message().rfind(path, 0) == 0);
    CHECK_MESSAGE(doc.status().message().find(c.says) != std::string::npos, doc.status().message());
  }
  // A PDF whose body is garbage between a valid header and trailer: poppler refuses it.
  auto garbage = parse_document("g.pdf", DocumentKind::kPdf, "%PDF-1.4\n\x01\x02 garbage\n%%EOF\n");
  REQUIRE_FALSE(garbage.is_ok());
  CHECK(garbage.status().message().rfind("g.pdf: ", 0) == 0);

  const std::string binary("<html>\0\x01\x02", 9);
  auto html = parse_document("b.html", DocumentKind::kHtml, binary);
  REQUIRE_FALSE(html.is_ok());
  CHECK(html.status().message() == "b.html: NUL byte at offset 6 (a binary file, not text)");

  auto latin1 = parse_document("l.txt", DocumentKind::kText, "caf\xE9 au lait");
  REQUIRE_FALSE(latin1.is_ok());
  CHECK(latin1.status().message().find("ill-formed UTF-8 at byte 3") != std::string::npos);

  auto unsupported = read_document("/tmp/file.docx");
  CHECK(unsupported.status().code() == StatusCode::kUnsupported);
}

TEST_CASE("document: kinds by extension") {
  CHECK(document_kind_for_path("a/b.HTML") == DocumentKind::kHtml);
  CHECK(document_kind_for_path("notes.md") == DocumentKind::kMarkdown);
  CHECK(document_kind_for_path("x.pdf") == DocumentKind::kPdf);
  CHECK(document_kind_for_path("x.txt") == DocumentKind::kText);
  CHECK_FALSE(document_kind_for_path("dir.pdf/README").has_value());
  CHECK_FALSE(document_kind_for_path("archive.tar.gz").has_value());
}

}  // namespace
}  // namespace r1
