#include "retrieval/fts_query.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace r1 {

namespace {

bool is_term_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

bool is_stop_word(const std::string& w) {
  static const std::array<const char*, 40> kStop = {
      "a",    "an",   "and",  "are", "as",   "at",    "be",   "by",    "can",   "do",
      "does", "for",  "from", "how", "i",    "in",    "is",   "it",    "of",    "on",
      "or",   "that", "the",  "to",  "was",  "what",  "when", "where", "which", "who",
      "why",  "will", "with", "you", "your", "there", "this", "these", "my",    "me"};
  return std::any_of(kStop.begin(), kStop.end(), [&](const char* s) { return w == s; });
}

}  // namespace

std::string fts5_match_query(std::string_view user_text) {
  std::vector<std::string> terms;
  std::vector<std::string> stop;
  size_t i = 0;
  while (i < user_text.size()) {
    if (!is_term_byte(static_cast<unsigned char>(user_text[i]))) {
      ++i;
      continue;
    }
    std::string t;
    while (i < user_text.size() && is_term_byte(static_cast<unsigned char>(user_text[i]))) {
      t += static_cast<char>(std::tolower(static_cast<unsigned char>(user_text[i])));
      ++i;
    }
    std::vector<std::string>& dest = is_stop_word(t) ? stop : terms;
    if (std::find(dest.begin(), dest.end(), t) == dest.end()) dest.push_back(std::move(t));
  }
  if (terms.empty()) terms = std::move(stop);
  if (terms.size() > static_cast<size_t>(kMaxFtsTerms)) terms.resize(kMaxFtsTerms);
  std::string q;
  for (const std::string& t : terms) {
    if (!q.empty()) q += " OR ";
    q += '"';
    q += t;  // holds no '"' by construction
    q += '"';
  }
  return q;
}

}  // namespace r1
