#include "engine/engine.h"

namespace r1 {

bool ends_sentence(std::string_view text) {
  size_t n = text.size();
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) --n;
  if (n == 0) return false;
  const char c = text[n - 1];
  if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == ';') return true;
  // "。" "！" "？" (U+3002, U+FF01, U+FF1F)
  auto ends_with = [&](std::string_view s) {
    return n >= s.size() && text.substr(n - s.size(), s.size()) == s;
  };
  return ends_with("\xE3\x80\x82") || ends_with("\xEF\xBC\x81") || ends_with("\xEF\xBC\x9F");
}

}  // namespace r1
