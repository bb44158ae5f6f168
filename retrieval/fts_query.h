// Safe FTS5 queries from user text. The user's words are never spliced into FTS5 syntax: each
// term is a run of letters, digits, '_' or non-ASCII bytes, emitted as a double-quoted FTS5
// string (a phrase of one term), so operators (AND OR NOT NEAR), column filters (col:), prefix
// stars, parentheses and quotes in the input are plain text. Terms are joined with OR so BM25
// ranks passages by how many (and how rare) terms they hold; common English stop words are
// dropped unless nothing else is left. Pure function: thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace r1 {

constexpr int kMaxFtsTerms = 64;  // terms past this are ignored

// An FTS5 MATCH expression such as `"reciprocal" OR "rank"`; empty when the text has no terms
// (the caller returns no hits rather than running an empty MATCH, which is an FTS5 error).
std::string fts5_match_query(std::string_view user_text);

}  // namespace r1
