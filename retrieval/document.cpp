#include "retrieval/document.h"

#include <gumbo.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace r1 {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Offset of the first ill-formed UTF-8 sequence, or -1.
int64_t invalid_utf8_offset(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return static_cast<int64_t>(i);
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return static_cast<int64_t>(i);
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return static_cast<int64_t>(i);
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return static_cast<int64_t>(i);
    }
    i += n + 1;
  }
  return -1;
}

Status check_text(const std::string& path, std::string_view bytes) {
  const size_t nul = bytes.find('\0');
  if (nul != std::string_view::npos) {
    return Status::invalid(path + ": NUL byte at offset " + std::to_string(nul) +
                           " (a binary file, not text)");
  }
  const int64_t bad = invalid_utf8_offset(bytes);
  if (bad >= 0) {
    return Status::invalid(path + ": ill-formed UTF-8 at byte " + std::to_string(bad) +
                           " (convert the file to UTF-8)");
  }
  return Status::ok();
}

// ---- HTML -------------------------------------------------------------------------------------

bool is_block(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_BR:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_TITLE:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_FORM:
      return true;
    default:
      return false;
  }
}

bool is_skipped(const GumboElement& el) {
  switch (el.tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_META:
    case GUMBO_TAG_LINK:
    case GUMBO_TAG_HEAD:  // its <title> is taken separately
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
      return true;
    default:
      break;
  }
  const GumboAttribute* cls = gumbo_get_attribute(&el.attributes, "class");
  if (cls != nullptr) {  // SQLite's docs wrap their site menu in <div class=nosearch>
    std::istringstream words(cls->value);
    std::string w;
    while (words >> w) {
      if (w == "nosearch") return true;
    }
  }
  const GumboAttribute* hidden = gumbo_get_attribute(&el.attributes, "hidden");
  return hidden != nullptr;
}

class HtmlText {
 public:
  HtmlText(std::string_view source, Document& doc) : source_(source), doc_(doc) {}

  void newline() {
    std::string& t = doc_.text;
    while (!t.empty() && t.back() == ' ') t.pop_back();
    if (!t.empty() && t.back() != '\n') t += '\n';
  }

  // Appends a text node's text with white space collapsed (kept as is inside <pre>).
  void text(const GumboText& node, bool pre) {
    const int64_t text_start = static_cast<int64_t>(doc_.text.size());
    std::string& t = doc_.text;
    const char* s = node.text;
    const size_t n = std::strlen(s);
    for (size_t i = 0; i < n; ++i) {
      const char c = s[i];
      if (!pre && (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f')) {
        if (!t.empty() && t.back() != ' ' && t.back() != '\n') t += ' ';
      } else {
        t += c;
      }
    }
    const int64_t text_end = static_cast<int64_t>(t.size());
    if (text_end == text_start) return;
    int64_t src_start = node.original_text.data - source_.data();
    int64_t src_end = src_start + static_cast<int64_t>(node.original_text.length);
    if (src_start < 0 || src_end > static_cast<int64_t>(source_.size())) {  // not from the buffer
      src_start = static_cast<int64_t>(node.start_pos.offset);
      src_end = src_start + (text_end - text_start);
    }
    doc_.source_map.push_back({text_start, text_end, src_start, src_end});
  }

  void walk(const GumboNode* node, bool pre) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
        node->type == GUMBO_NODE_WHITESPACE) {
      text(node->v.text, pre);
      return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) return;
    const GumboElement& el = node->v.element;
    if (is_skipped(el)) return;
    const bool block = is_block(el.tag);
    const bool in_pre = pre || el.tag == GUMBO_TAG_PRE;
    if (block) newline();
    for (unsigned int i = 0; i < el.children.length; ++i) {
      walk(static_cast<const GumboNode*>(el.children.data[i]), in_pre);
    }
    if (block) newline();
  }

  void title(const GumboNode* node) {
    if (node->type != GUMBO_NODE_ELEMENT) return;
    const GumboElement& el = node->v.element;
    if (el.tag == GUMBO_TAG_TITLE) {
      for (unsigned int i = 0; i < el.children.length; ++i) {
        const auto* child = static_cast<const GumboNode*>(el.children.data[i]);
        if (child->type == GUMBO_NODE_TEXT) text(child->v.text, false);
      }
      newline();
      return;
    }
    if (el.tag == GUMBO_TAG_BODY) return;
    for (unsigned int i = 0; i < el.children.length; ++i) {
      title(static_cast<const GumboNode*>(el.children.data[i]));
    }
  }

 private:
  std::string_view source_;
  Document& doc_;
};

Result<Document> parse_html(const std::string& path, std::string_view bytes) {
  R1_RETURN_IF_ERROR(check_text(path, bytes));
  Document doc;
  doc.path = path;
  doc.kind = DocumentKind::kHtml;
  doc.source_bytes = static_cast<int64_t>(bytes.size());
  GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, bytes.data(), bytes.size());
  if (out == nullptr) return Status::invalid(path + ": the HTML parser gave up");
  HtmlText walker(bytes, doc);
  walker.title(out->root);
  walker.walk(out->root, false);
  gumbo_destroy_output(&kGumboDefaultOptions, out);
  while (!doc.text.empty() && (doc.text.back() == '\n' || doc.text.back() == ' ')) {
    doc.text.pop_back();
  }
  return doc;
}

// ---- PDF --------------------------------------------------------------------------------------

void silence_poppler() {
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

Result<Document> parse_pdf(const std::string& path, std::string_view bytes) {
  if (bytes.substr(0, std::min<size_t>(bytes.size(), 1024)).find("%PDF-") ==
      std::string_view::npos) {
    return Status::invalid(path + ": not a PDF (no %PDF- header in the first 1024 bytes)");
  }
  const std::string_view tail = bytes.substr(bytes.size() > 1024 ? bytes.size() - 1024 : 0);
  if (tail.find("%%EOF") == std::string_view::npos) {
    return Status::invalid(path +
                           ": malformed PDF: truncated (no %%EOF marker in its last 1024 "
                           "bytes)");
  }
  silence_poppler();
  if (bytes.size() > static_cast<size_t>(INT32_MAX))
    return Status::invalid(path + ": PDF too large");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) {
    return Status::invalid(path + ": malformed PDF (poppler cannot open it: truncated or corrupt)");
  }
  if (pdf->is_locked()) return Status::invalid(path + ": PDF is encrypted (locked)");
  const int n_pages = pdf->pages();
  if (n_pages <= 0) return Status::invalid(path + ": malformed PDF (no pages)");
  Document doc;
  doc.path = path;
  doc.kind = DocumentKind::kPdf;
  doc.source_bytes = static_cast<int64_t>(bytes.size());
  for (int i = 0; i < n_pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    PageText pt;
    pt.page = i + 1;
    if (page) {
      const poppler::byte_array utf8 =
          page->text(poppler::rectf(), poppler::page::physical_layout).to_utf8();
      pt.text.assign(utf8.begin(), utf8.end());
    }
    doc.pages.push_back(std::move(pt));
  }
  return doc;
}

// Source offset of extracted-text offset `pos`; `end` picks the span ending at pos.
int64_t map_offset(const std::vector<SourceSpan>& map, int64_t pos, bool end) {
  if (map.empty()) return pos;
  auto it = std::upper_bound(map.begin(), map.end(), pos,
                             [](int64_t p, const SourceSpan& s) { return p < s.text_start; });
  if (it == map.begin()) return map.front().source_start;
  --it;
  if (end && pos == it->text_start && it != map.begin()) --it;  // an end at a span's start
  const int64_t delta = std::clamp<int64_t>(pos - it->text_start, 0, it->text_end - it->text_start);
  const int64_t source_len = it->source_end - it->source_start;
  if (end && pos >= it->text_end) return it->source_end;
  return it->source_start + std::min(delta, source_len);
}

}  // namespace

const char* document_kind_name(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::kText:
      return "txt";
    case DocumentKind::kMarkdown:
      return "md";
    case DocumentKind::kHtml:
      return "html";
    case DocumentKind::kPdf:
      return "pdf";
  }
  return "?";
}

std::optional<DocumentKind> document_kind_for_path(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return std::nullopt;
  const std::string ext = lower(path.substr(dot + 1));
  if (ext == "txt" || ext == "text") return DocumentKind::kText;
  if (ext == "md" || ext == "markdown") return DocumentKind::kMarkdown;
  if (ext == "html" || ext == "htm" || ext == "xhtml") return DocumentKind::kHtml;
  if (ext == "pdf") return DocumentKind::kPdf;
  return std::nullopt;
}

Result<Document> parse_document(const std::string& path, DocumentKind kind,
                                std::string_view bytes) {
  switch (kind) {
    case DocumentKind::kText:
    case DocumentKind::kMarkdown: {
      R1_RETURN_IF_ERROR(check_text(path, bytes));
      Document doc;
      doc.path = path;
      doc.kind = kind;
      doc.text = std::string(bytes);
      doc.source_bytes = static_cast<int64_t>(bytes.size());
      return doc;
    }
    case DocumentKind::kHtml:
      return parse_html(path, bytes);
    case DocumentKind::kPdf:
      return parse_pdf(path, bytes);
  }
  return Status::internal(path + ": unknown document kind");
}

Result<Document> read_document(const std::string& path) {
  const std::optional<DocumentKind> kind = document_kind_for_path(path);
  if (!kind) return Status::unsupported(path + ": unsupported file type (txt, md, html, pdf)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error(path + ": read error");
  const std::string bytes = ss.str();
  return parse_document(path, *kind, bytes);
}

std::vector<DocumentChunk> chunk_document(const Document& doc, const PieceCounter& count_pieces,
                                          ChunkerOptions options) {
  std::vector<DocumentChunk> out;
  auto add = [&](const std::string& text, int32_t page, const std::vector<SourceSpan>& map) {
    for (TextChunk& c : chunk_text(text, count_pieces, options)) {
      DocumentChunk d;
      d.byte_start = map_offset(map, c.byte_start, false);
      d.byte_end = std::max(d.byte_start, map_offset(map, c.byte_end, true));
      d.page = page;
      d.n_pieces = c.n_pieces;
      d.text = std::move(c.text);
      out.push_back(std::move(d));
    }
  };
  if (doc.kind == DocumentKind::kPdf) {
    const std::vector<SourceSpan> identity;
    for (const PageText& p : doc.pages) add(p.text, p.page, identity);
  } else {
    add(doc.text, 0, doc.source_map);
  }
  return out;
}

}  // namespace r1
