// Grammar-constrained decoding: each combinator, the JSON Schema subset, and the invariant that
// ties the matcher to the validator: whatever the matcher calls complete parses and validates
// (checked on random byte strings and on random walks through the accepted bytes), and every
// accepted prefix can still be completed. Token masks are checked against can_accept on the
// tiny-qwen2 vocabulary.
#include "engine/grammar.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/json_schema.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "tests/test_paths.h"

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

using json = nlohmann::json;

Grammar schema_grammar(const std::string& schema_text, int32_t max_ws = 2) {
  Result<Grammar> g = grammar::json_schema(json::parse(schema_text), {max_ws});
  REQUIRE_MESSAGE(g.is_ok(), g.status().message());
  return g.value();
}

// The whole text is accepted and complete.
bool matches(const Grammar& g, std::string_view text) {
  GrammarMatcher m(g);
  return m.accept(text) && m.is_complete();
}

// The text is accepted as a prefix (possibly complete).
bool prefix(const Grammar& g, std::string_view text) {
  GrammarMatcher m(g);
  return m.accept(text);
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

// Empty when `text` parses and validates under `schema`, else the reason.
std::string invalid_reason(const json& schema, const std::string& text) {
  Result<json> v = parse_json(text);
  if (!v.is_ok()) return "does not parse: " + v.status().message();
  return describe_violations(validate_json(schema, v.value()));
}

TEST_CASE("grammar: literal, whitespace, sequence, choice and repeat") {
  Grammar hello = grammar::literal("hello");
  CHECK(matches(hello, "hello"));
  CHECK(prefix(hello, "hel"));
  CHECK_FALSE(prefix(hello, "help"));
  CHECK_FALSE(matches(hello, "hell"));

  Grammar empty = grammar::literal("");
  GrammarMatcher e(empty);
  CHECK(e.is_complete());
  CHECK_FALSE(e.can_continue());
  CHECK_FALSE(e.accept("a"));
  CHECK(e.accept(""));

  Grammar ws = grammar::whitespace(2);
  CHECK(matches(ws, ""));
  CHECK(matches(ws, " \n"));
  CHECK_FALSE(prefix(ws, " \t "));
  CHECK_FALSE(prefix(ws, "x"));

  Grammar seq = grammar::sequence(
      {grammar::literal("a"), grammar::whitespace(1), grammar::literal(""), grammar::literal("b")});
  CHECK(matches(seq, "ab"));
  CHECK(matches(seq, "a b"));
  CHECK_FALSE(prefix(seq, "a  "));
  CHECK_FALSE(matches(seq, "a "));

  // Overlapping alternatives run in parallel: "ab" is complete and may still grow to "abc".
  Grammar alt =
      grammar::choice({grammar::literal("ab"), grammar::literal("abc"), grammar::literal("x")});
  GrammarMatcher m(alt);
  REQUIRE(m.accept("ab"));
  CHECK(m.is_complete());
  CHECK(m.can_continue());
  CHECK(m.accept("c"));
  CHECK(m.is_complete());
  CHECK_FALSE(m.can_continue());
  CHECK(matches(alt, "x"));
  CHECK_FALSE(prefix(alt, "y"));

  Grammar rep = grammar::repeat(grammar::literal("ab"), 1, 2);
  CHECK_FALSE(matches(rep, ""));
  CHECK(matches(rep, "ab"));
  CHECK(matches(rep, "abab"));
  CHECK_FALSE(prefix(rep, "ababa"));
  CHECK(matches(grammar::repeat(grammar::literal("x"), 0, -1), ""));
  CHECK(matches(grammar::repeat(grammar::literal("x"), 0, -1), std::string(1000, 'x')));
  CHECK(matches(grammar::repeat(grammar::literal("x"), 3, 3), "xxx"));
  CHECK_FALSE(matches(grammar::repeat(grammar::literal("x"), 3, 3), "xx"));

  SUBCASE("a repeat of something that matches the empty string terminates") {
    Grammar spaces = grammar::repeat(grammar::whitespace(1), 2, -1);
    CHECK(matches(spaces, ""));
    CHECK(matches(spaces, "    "));
    CHECK_FALSE(prefix(spaces, "x"));
  }
  SUBCASE("an empty choice and a repeat of nothing have empty languages") {
    GrammarMatcher none(grammar::choice({}));
    CHECK_FALSE(none.is_complete());
    CHECK_FALSE(none.can_continue());
    CHECK(matches(grammar::repeat(grammar::choice({}), 0, 5), ""));
    CHECK_FALSE(prefix(grammar::sequence({grammar::literal("a"), grammar::choice({})}), "a"));
  }
  SUBCASE("a refused byte leaves the state unchanged, reset returns to the start") {
    GrammarMatcher r(hello);
    REQUIRE(r.accept("he"));
    CHECK_FALSE(r.accept("lx"));
    CHECK(r.accept("llo"));
    CHECK(r.is_complete());
    r.reset();
    CHECK(r.accept("hello"));
  }
  SUBCASE("copies are independent values") {
    GrammarMatcher a(hello);
    REQUIRE(a.accept("he"));
    GrammarMatcher b = a;
    CHECK(b.accept("llo"));
    CHECK_FALSE(a.is_complete());
    CHECK(a.can_accept("llo"));
  }
}

TEST_CASE("grammar: JSON strings, escapes, UTF-8 and code point lengths") {
  Grammar s = schema_grammar(R"({"type":"string"})");
  CHECK(matches(s, R"("")"));
  CHECK(matches(s, R"("a \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00")"));
  CHECK(matches(s, "\"h\xC3\xA9llo \xF0\x9F\x98\x80\""));
  CHECK_FALSE(prefix(s, "\"a\nb"));  // raw control character
  CHECK_FALSE(prefix(s, R"("\x)"));  // unknown escape
  CHECK_FALSE(prefix(s, R"("\u12G)"));
  CHECK_FALSE(prefix(s, R"("\uDC00)"));   // lone low surrogate
  CHECK_FALSE(prefix(s, R"("\uD800")"));  // high surrogate without its pair
  CHECK_FALSE(prefix(s, R"("\uD800\u0041)"));
  CHECK_FALSE(prefix(s, "\"\xC0\xAF"));      // overlong
  CHECK_FALSE(prefix(s, "\"\xED\xA0\x80"));  // UTF-16 surrogate in UTF-8
  CHECK_FALSE(prefix(s, "\"\xF4\x90"));      // above U+10FFFF
  CHECK_FALSE(prefix(s, "\"\xC3("));
  CHECK_FALSE(prefix(s, "\"\x80"));
  CHECK_FALSE(prefix(s, R"("a"x)"));

  SUBCASE("a character split across accept calls") {
    Grammar one = schema_grammar(R"({"type":"string","maxLength":1})");
    GrammarMatcher m(one);
    REQUIRE(m.accept("\"\xF0\x9F"));
    REQUIRE(m.accept("\x98"));
    CHECK_FALSE(m.accept("a"));
    REQUIRE(m.accept("\x80"));
    CHECK_FALSE(m.can_accept("\xC3\xA9"));
    CHECK(m.accept("\""));
    CHECK(m.is_complete());
  }
  SUBCASE("maxLength refuses one character more, minLength holds the quote back") {
    Grammar g = schema_grammar(R"({"type":"string","minLength":2,"maxLength":3})");
    CHECK(prefix(g, R"("abc)"));
    CHECK_FALSE(prefix(g, R"("abcd)"));
    CHECK_FALSE(prefix(g, R"("a")"));
    CHECK(matches(g, R"("\n\u00e9")"));
    CHECK(matches(g, "\"\xC3\xA9\xC3\xA9\xC3\xA9\""));
    CHECK_FALSE(prefix(g, "\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3"));
    CHECK(matches(g, R"("\uD83D\uDE00\uD83D\uDE00")"));  // a surrogate pair is one character
  }
}

TEST_CASE("grammar: numbers and integer ranges keep every prefix completable") {
  Grammar n = schema_grammar(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "12", "-3.25", "1e5", "1E+05", "0.5e-3", "-0.0"}) {
    CHECK_MESSAGE(matches(n, ok), ok);
  }
  for (const char* bad : {"01", "-", "1.", ".5", "1e", "+1", "--1", "1.e3", "0x1"}) {
    CHECK_MESSAGE(!matches(n, bad), bad);
  }
  GrammarMatcher after(n);
  REQUIRE(after.accept("123"));
  CHECK(after.is_complete());
  CHECK(after.can_continue());

  Grammar i = schema_grammar(R"({"type":"integer"})");
  CHECK(matches(i, "-42"));
  CHECK_FALSE(prefix(i, "4.0"));
  CHECK_FALSE(prefix(i, "4e1"));
  GrammarMatcher zero(i);
  REQUIRE(zero.accept("0"));
  CHECK_FALSE(zero.can_continue());  // "0" is followed by nothing digit-wise

  Grammar range = schema_grammar(R"({"type":"integer","minimum":10,"maximum":20})");
  CHECK(prefix(range, "1"));
  CHECK_FALSE(matches(range, "1"));
  CHECK_FALSE(prefix(range, "3"));
  CHECK_FALSE(prefix(range, "21"));
  CHECK_FALSE(prefix(range, "-"));
  CHECK_FALSE(prefix(range, "0"));
  CHECK(matches(range, "10"));
  CHECK(matches(range, "20"));
  CHECK_FALSE(prefix(range, "100"));

  Grammar negative = schema_grammar(R"({"type":"integer","minimum":-120,"maximum":-7})");
  CHECK(matches(negative, "-7"));
  CHECK(matches(negative, "-120"));
  CHECK(prefix(negative, "-1"));
  CHECK_FALSE(matches(negative, "-1"));
  CHECK_FALSE(prefix(negative, "-121"));
  CHECK(prefix(negative, "-12"));
  CHECK_FALSE(prefix(negative, "-130"));
  CHECK_FALSE(prefix(negative, "7"));
  CHECK_FALSE(prefix(negative, "-0"));

  Grammar exclusive = schema_grammar(R"({"type":"integer","exclusiveMinimum":-1,"maximum":0.5})");
  CHECK(matches(exclusive, "0"));
  CHECK(matches(exclusive, "-0"));
  CHECK_FALSE(prefix(exclusive, "-1"));
  CHECK_FALSE(prefix(exclusive, "1"));

  Grammar unit = schema_grammar(R"({"type":"number","minimum":0.25,"exclusiveMaximum":1})");
  CHECK(matches(unit, "0.25"));
  CHECK(matches(unit, "0.999999"));
  CHECK_FALSE(prefix(unit, "0.2 "));
  CHECK_FALSE(prefix(unit, "0.24"));
  CHECK_FALSE(matches(unit, "1"));
  CHECK_FALSE(prefix(unit, "1.0"));
  CHECK_FALSE(matches(unit, "0.2"));
  CHECK(prefix(unit, "0.2"));

  Status bad =
      grammar::json_schema(json::parse(R"({"type":"integer","minimum":3,"maximum":2})")).status();
  CHECK(bad.message().find("no JSON value satisfies it") != std::string::npos);
}

TEST_CASE("grammar: objects close only with their required properties, keys are declared ones") {
  Grammar g = schema_grammar(R"({"type":"object","properties":{"a":{"type":"integer"},
      "b":{"type":"boolean"},"c":{"type":"null"}},"required":["a","b"]})");
  CHECK(matches(g, R"({"a":1,"b":true})"));
  CHECK(matches(g, R"({ "b" : false , "c":null, "a" : -3 })"));
  CHECK_FALSE(prefix(g, "{}"));
  CHECK_FALSE(prefix(g, R"({"a":1})"));
  CHECK_FALSE(prefix(g, R"({"d)"));
  CHECK_FALSE(prefix(g, R"({"a":1,"a)"));                  // a key only once
  CHECK_FALSE(prefix(g, R"({"a":1,"b":true,"c":null,)"));  // nothing left to add
  CHECK_FALSE(prefix(g, "{   "));                          // whitespace runs are bounded (2 here)

  Grammar open = schema_grammar(
      R"({"type":"object","properties":{"name":{"type":"string"}},"additionalProperties":{"type":"integer"}})");
  CHECK(matches(open, R"({"x":1,"name":"n","y":2})"));
  CHECK_FALSE(prefix(open, R"({"x":"s)"));
  CHECK_FALSE(prefix(open, R"({"name":1)"));
  // A generic key never spells a declared key: its value schema would be the wrong one.
  CHECK(prefix(open, R"({"nam)"));
  CHECK(prefix(open, R"({"names")"));

  Grammar enum_keys = schema_grammar(R"({"properties":{"units":{"enum":["c","f"]}},
      "required":["units"],"additionalProperties":false})");
  CHECK(matches(enum_keys, R"({"units":"f"})"));
  CHECK_FALSE(prefix(enum_keys, R"({"units":"k)"));
  CHECK_FALSE(prefix(enum_keys, R"({"units":"cc)"));
}

TEST_CASE("grammar: arrays, enum, const, anyOf, $ref and the any value") {
  Grammar arr =
      schema_grammar(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})");
  CHECK(matches(arr, "[1]"));
  CHECK(matches(arr, "[ 1, 2 ]"));
  CHECK_FALSE(prefix(arr, "[]"));
  CHECK_FALSE(prefix(arr, "[1,2,"));

  Grammar e = schema_grammar(R"({"enum":["c","f",3,null,{"a":[1]}]})");
  for (const char* ok : {"\"c\"", "\"f\"", "3", "null", "{\"a\":[1]}"}) CHECK(matches(e, ok));
  CHECK_FALSE(prefix(e, "\"d"));
  CHECK_FALSE(prefix(e, "4"));
  CHECK_FALSE(prefix(e, "30"));

  Grammar filtered = schema_grammar(R"({"type":"string","enum":["a",1,"b"],"maxLength":1})");
  CHECK(matches(filtered, "\"a\""));
  CHECK_FALSE(prefix(filtered, "1"));

  Grammar c = schema_grammar(R"({"const":"x"})");
  CHECK(matches(c, "\"x\""));
  CHECK_FALSE(prefix(c, "\"y"));

  Grammar any_of = schema_grammar(R"({"anyOf":[{"type":"string","maxLength":2},{"type":"null"},
      {"type":"integer","minimum":5}]})");
  CHECK(matches(any_of, "\"ab\""));
  CHECK(matches(any_of, "null"));
  CHECK(matches(any_of, "7"));
  CHECK(prefix(any_of, "4"));  // 45 is fine
  CHECK_FALSE(matches(any_of, "4"));
  CHECK_FALSE(prefix(any_of, "-"));

  Grammar ref = schema_grammar(R"({"$defs":{"pos":{"type":"integer","minimum":1}},
      "properties":{"n":{"$ref":"#/$defs/pos"},"m":{"allOf":[{"$ref":"#/$defs/pos"}]}},
      "required":["n","m"]})");
  CHECK(matches(ref, R"({"n":1,"m":2})"));
  CHECK_FALSE(prefix(ref, R"({"n":0)"));

  Grammar any = schema_grammar("{}");
  CHECK(matches(any, R"({"a":[1,{"b":null}],"c":"d"})"));
  CHECK(matches(any, "[true,false,-1.5e3,\"\"]"));
  CHECK_FALSE(prefix(any, "{1"));
  CHECK_FALSE(prefix(any, "tru "));
}

TEST_CASE("grammar: unsupported constraining keywords are refused with their schema path") {
  auto message = [](const std::string& schema) {
    return grammar::json_schema(json::parse(schema)).status().message();
  };
  CHECK(message(R"({"properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}})") ==
        "schema at /properties/code: \"pattern\" is not supported for constrained decoding");
  CHECK(message(R"({"not":{"type":"null"}})").find("\"not\" is not supported") !=
        std::string::npos);
  CHECK(message(R"({"if":{},"then":{}})").find("\"if\"") != std::string::npos);
  CHECK(message(R"({"type":"array","uniqueItems":true})").find("uniqueItems") != std::string::npos);
  CHECK(message(R"({"patternProperties":{"x":{}}})").find("patternProperties") !=
        std::string::npos);
  CHECK(message(R"({"properties":{"next":{"$ref":"#"}}})")
            .find("schema at /properties/next: recursive \"$ref\"") == 0);
  CHECK(message(R"({"type":"int"})") == "schema at /type: unknown type \"int\"");
  Result<Grammar> fine = grammar::json_schema(json::parse(
      R"({"type":"string","format":"date","description":"d","title":"t","default":"x"})"));
  CHECK(fine.is_ok());
  CHECK(grammar::json_schema(json::parse(R"({"type":"string","pattern":"x"})")).status().code() ==
        StatusCode::kUnsupported);
}

// ---- the invariant, by brute force
// ---------------------------------------------------------------

const char* const kPropertySchemas[] = {
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":4},
        "units":{"enum":["c","f"]},"days":{"type":"integer","minimum":1,"maximum":14}},
        "required":["city","units"]})",
    R"({"type":"integer","minimum":-20,"maximum":-3})",
    R"({"type":"integer","minimum":10,"maximum":200})",
    R"({"type":"number","minimum":0.5,"maximum":2.25})",
    R"({"type":"number","exclusiveMinimum":-1,"exclusiveMaximum":0})",
    R"({"anyOf":[{"type":"string","maxLength":3},{"type":"null"},
        {"type":"array","items":{"type":"boolean"},"maxItems":2}]})",
    R"({"properties":{"a":{"type":"string","minLength":1}},"additionalProperties":{"type":"integer"}})",
    R"({"type":"array","items":{"type":"string","minLength":1,"maxLength":2},"minItems":1})",
    R"({"enum":["a","ab",1,10,[1],{"x":null}]})",
    R"({"type":["number","boolean"]})",
    R"({"type":"string"})",
    "{}",
};

TEST_CASE("grammar: random byte strings - whatever is complete parses and validates") {
  std::mt19937 rng(1234);
  const std::string alphabet = "{}[]\":,-.0123456789eE+ \ntruefalsn\\uabcdxyz\xC3\xA9\x80";
  for (const char* schema_text : kPropertySchemas) {
    const json schema = json::parse(schema_text);
    Grammar g = schema_grammar(schema_text);
    int complete_count = 0;
    for (int trial = 0; trial < 3000; ++trial) {
      GrammarMatcher m(g);
      std::string text;
      for (int len = 0; len < 24; ++len) {
        char ch = alphabet[rng() % alphabet.size()];
        if (!m.accept(std::string_view(&ch, 1))) continue;
        text += ch;
        if (m.is_complete()) {
          ++complete_count;
          std::string reason = invalid_reason(schema, text);
          CHECK_MESSAGE(reason.empty(),
                        schema_text << " accepted " << printable(text) << ": " << reason);
        }
      }
    }
    MESSAGE(std::string(schema_text) << ": " << complete_count << " complete texts checked");
  }
}

TEST_CASE("grammar: random walks over accepted bytes always reach a valid document") {
  std::mt19937 rng(99);
  const std::string preferred = "{}[]\":,0123456789-.abcfnlrstue";
  for (const char* schema_text : kPropertySchemas) {
    const json schema = json::parse(schema_text);
    Grammar g = schema_grammar(schema_text);
    int finished = 0;
    for (int walk = 0; walk < 200; ++walk) {
      GrammarMatcher m(g);
      std::string text;
      bool done = false;
      for (int step = 0; step < 400 && !done; ++step) {
        std::vector<int> allowed, nice;
        for (int c = 0; c < 256; ++c) {
          char ch = static_cast<char>(c);
          if (!m.can_accept(std::string_view(&ch, 1))) continue;
          allowed.push_back(c);
          if (preferred.find(ch) != std::string::npos) nice.push_back(c);
        }
        // No dead ends: something more is allowed, or the text is complete already.
        REQUIRE_MESSAGE((!allowed.empty() || m.is_complete()),
                        schema_text << " stuck after " << printable(text));
        CHECK(allowed.empty() == !m.can_continue());
        if (m.is_complete() && (allowed.empty() || rng() % 4 == 0)) {
          done = true;
          break;
        }
        const std::vector<int>& pool = (!nice.empty() && rng() % 10 < 8) ? nice : allowed;
        char ch = static_cast<char>(pool[rng() % pool.size()]);
        REQUIRE(m.accept(std::string_view(&ch, 1)));
        text += ch;
      }
      if (!done) continue;
      ++finished;
      std::string reason = invalid_reason(schema, text);
      CHECK_MESSAGE(reason.empty(),
                    schema_text << " produced " << printable(text) << ": " << reason);
    }
    CHECK_MESSAGE(finished > 100, schema_text << ": only " << finished << " walks finished");
  }
}

// ---- token masks
// ------------------------------------------------------------------------------------

// Checks the mask against can_accept for each of a few prefixes, and reports timings.
void check_masks(const std::string& model_path) {
  auto file = GgufFile::open(model_path);
  REQUIRE_MESSAGE(file.is_ok(), file.status().message());
  auto tok = Tokenizer::from_gguf(*file.value());
  REQUIRE_MESSAGE(tok.is_ok(), tok.status().message());
  TokenIndex index(*tok.value());
  REQUIRE(index.n_vocab() == tok.value()->n_vocab());
  CHECK(index.piece(-1).empty());
  CHECK(index.piece(index.n_vocab()).empty());

  Grammar g = schema_grammar(R"({"type":"object","properties":{"city":{"type":"string"},
      "days":{"type":"integer","minimum":1,"maximum":14},"units":{"enum":["celsius","fahrenheit"]}},
      "required":["city","units"]})");
  const char* prefixes[] = {"",
                            "{",
                            "{\"",
                            "{\"city\": \"Os",
                            "{\"city\":\"Oslo\",\"days\":1",
                            "{\"city\":\"Oslo\",\"units\":\"c"};
  for (const char* text : prefixes) {
    GrammarMatcher m(g);
    REQUIRE(m.accept(text));
    std::vector<uint8_t> allowed;
    grammar_allowed_tokens(m, index, allowed);
    REQUIRE(allowed.size() == static_cast<size_t>(index.n_vocab()));
    int mismatches = 0, n_allowed = 0;
    for (int32_t id = 0; id < index.n_vocab(); ++id) {
      const std::string& piece = index.piece(id);
      bool expect = !piece.empty() && m.can_accept(piece);
      n_allowed += allowed[static_cast<size_t>(id)];
      if (expect != (allowed[static_cast<size_t>(id)] != 0)) {
        if (++mismatches <= 5) MESSAGE("token " << id << " " << printable(piece));
      }
    }
    CHECK_MESSAGE(mismatches == 0, "after " << printable(text));
    MESSAGE("after " << printable(text) << ": " << n_allowed << " of " << index.n_vocab()
                     << " tokens allowed");
  }

  // Timing, reported not asserted: the per-token check the sampler makes, and a whole mask.
  GrammarMatcher m(g);
  REQUIRE(m.accept("{\"city\": \"Os"));
  std::vector<int32_t> sample;
  for (int32_t id = 0; id < index.n_vocab(); ++id) {
    size_t len = index.piece(id).size();
    if (len >= 1 && len <= 8) sample.push_back(id);
  }
  auto t0 = std::chrono::steady_clock::now();
  size_t accepted = 0;
  for (int32_t id : sample) accepted += m.can_accept(index.piece(id));
  auto t1 = std::chrono::steady_clock::now();
  std::vector<uint8_t> allowed;
  const int kMasks = 5;
  for (int i = 0; i < kMasks; ++i) grammar_allowed_tokens(m, index, allowed);
  auto t2 = std::chrono::steady_clock::now();
  GrammarMatcher start(g);
  for (int i = 0; i < kMasks; ++i) grammar_allowed_tokens(start, index, allowed);
  auto t3 = std::chrono::steady_clock::now();
  using us = std::chrono::duration<double, std::micro>;
  MESSAGE(model_path << ": can_accept " << us(t1 - t0).count() / sample.size()
                     << " us per 1-8 byte token (" << accepted << " of " << sample.size()
                     << " accepted, inside a string); full mask over " << index.n_vocab()
                     << " tokens: inside a string " << us(t2 - t1).count() / kMasks / 1000
                     << " ms, at the start " << us(t3 - t2).count() / kMasks / 1000 << " ms");
}

TEST_CASE("grammar: grammar_allowed_tokens equals can_accept on every tiny-qwen2 token") {
  check_masks(test::source_path("tests/data/models/tiny-qwen2.q4_k.gguf"));
}

TEST_CASE("grammar: grammar_allowed_tokens on the SmolLM2 and R1-Distill-Qwen vocabularies") {
  for (const char* name : {"SmolLM2-135M-Instruct.Q4_1.gguf", "vocab-deepseek-r1-qwen.gguf"}) {
    const std::string path = test::model_path(name);
    if (!std::filesystem::exists(path)) {
      MESSAGE("skipped: " << path << " not found (see DESIGN.md: Models and data)");
      continue;
    }
    check_masks(path);
  }
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
