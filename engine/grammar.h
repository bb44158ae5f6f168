// Grammar-constrained decoding: a small grammar language built from combinators, a byte-level
// matcher for it, and token masks over a vocabulary.
//
// A Grammar is an immutable tree (shared, thread-safe to read): literal text, bounded
// whitespace, a JSON value constrained by a JSON Schema, sequences, alternatives and repetition.
// A GrammarMatcher walks one growing text through it; the invariant it keeps is that the text
// accepted so far can always be extended to a whole string of the language (no dead ends), so a
// sampler that only picks tokens the matcher accepts always finishes with valid output.
// Alternatives are tracked in parallel (no backtracking), so anyOf / choice need no lookahead.
//
// JSON Schema subset for generation: type (name or list), object with properties, required,
// additionalProperties (absent or false: only the listed properties; true or a schema: other
// keys too), array with items/minItems/maxItems, string with enum/const/minLength/maxLength,
// number, integer with minimum/maximum (also exclusive forms), boolean, null, enum and const of
// any JSON values, anyOf/oneOf (as alternatives), allOf of a single schema, $ref to local
// definitions (non-recursive). Properties may come in any order; the object closes only when
// every required property is present. Between JSON tokens at most `max_whitespace` whitespace
// bytes are accepted, so a small model cannot loop on blank space.
//
// GrammarMatcher is a plain value (copyable); not thread-safe to mutate concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

class Tokenizer;
class TokenIndex;
struct GrammarNode;  // defined in grammar.cpp
using Grammar = std::shared_ptr<const GrammarNode>;

struct JsonGrammarOptions {
  int32_t max_whitespace = 16;  // bytes of whitespace accepted between two JSON tokens
};

namespace grammar {
Grammar literal(std::string text);      // exactly these bytes
Grammar whitespace(int32_t max_bytes);  // 0..max_bytes of ' ', '\t', '\n', '\r'
Grammar sequence(std::vector<Grammar> parts);
Grammar choice(std::vector<Grammar> alternatives);
Grammar repeat(Grammar part, int32_t min_count, int32_t max_count);  // max_count < 0: unbounded
// A JSON value valid under `schema`. kInvalidArgument / kUnsupported naming the schema path for
// a malformed schema or a keyword outside the subset whose meaning cannot be ignored safely
// (e.g. "pattern", recursive $ref). Unconstraining keywords (description, title, ...) are fine.
Result<Grammar> json_schema(const nlohmann::json& schema, const JsonGrammarOptions& options = {});
}  // namespace grammar

class GrammarMatcher {
 public:
  explicit GrammarMatcher(Grammar root);

  // Appends bytes when the text stays extendable to a whole string of the language and returns
  // true; otherwise returns false and leaves the state unchanged. Empty input: true.
  bool accept(std::string_view bytes);
  // What accept() would return, without changing the state.
  bool can_accept(std::string_view bytes) const;
  // The accepted text is a whole string of the language (it may still be extendable).
  bool is_complete() const;
  // Some non-empty continuation exists.
  bool can_continue() const;
  void reset();  // back to the empty text

  struct State;  // opaque, in grammar.cpp: the set of parallel match threads

 private:
  Grammar root_;
  std::shared_ptr<State> state_;  // copy-on-write; never null
  friend void grammar_allowed_tokens(const GrammarMatcher&, const TokenIndex&,
                                     std::vector<uint8_t>&);
};

// Every vocabulary entry's bytes (special tokens as their text), arranged for mask computation.
// Built once per tokenizer; immutable afterwards and thread-safe to read.
class TokenIndex {
 public:
  explicit TokenIndex(const Tokenizer& tok);
  int32_t n_vocab() const;
  const std::string& piece(int32_t id) const;  // token bytes; "" for none

  struct Impl;  // opaque, in grammar.cpp

 private:
  std::shared_ptr<const Impl> impl_;
  friend void grammar_allowed_tokens(const GrammarMatcher&, const TokenIndex&,
                                     std::vector<uint8_t>&);
};

// allowed[id] = 1 when the matcher can accept token id's bytes, else 0 (allowed is resized to
// n_vocab). Tokens with empty pieces are never allowed; end-of-generation is the caller's call.
void grammar_allowed_tokens(const GrammarMatcher& matcher, const TokenIndex& index,
                            std::vector<uint8_t>& allowed);

}  // namespace r1
