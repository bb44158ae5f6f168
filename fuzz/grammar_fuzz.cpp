// libFuzzer target for the grammar matcher. The first input byte picks one of a fixed set of
// schemas and a chunking; the rest is fed through accept() in chunks. Checked after every chunk:
// a refused chunk leaves the state unchanged (same answers as a copy taken before), an accepted
// one keeps the text completable (something more is allowed, or it is complete), and whenever
// the matcher says complete, the text parses and validates against the schema.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_schema.h"
#include "engine/grammar.h"

namespace {

const char* const kSchemas[] = {
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":4},
        "units":{"enum":["c","f"]},"days":{"type":"integer","minimum":1,"maximum":14}},
        "required":["city","units"]})",
    R"({"type":"integer","minimum":-20,"maximum":-3})",
    R"({"type":"number","minimum":0.5,"maximum":2.25})",
    R"({"type":"number","exclusiveMinimum":-1,"exclusiveMaximum":0})",
    R"({"anyOf":[{"type":"string","minLength":1,"maxLength":3},{"type":"null"},
        {"type":"array","items":{"type":"boolean"},"maxItems":2}]})",
    R"({"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}})",
    R"({"enum":["a","ab",1,10,[1],{"x":null}]})",
    R"({"type":["number","boolean","null"]})",
    R"({"type":"string","maxLength":2})",
    "{}",
};
constexpr size_t kNumSchemas = sizeof(kSchemas) / sizeof(kSchemas[0]);

struct Compiled {
  nlohmann::json schema;
  r1::Grammar grammar;
};

const Compiled& compiled(size_t i) {
  static Compiled all[kNumSchemas];
  static bool ready = false;
  if (!ready) {
    for (size_t k = 0; k < kNumSchemas; ++k) {
      all[k].schema = nlohmann::json::parse(kSchemas[k]);
      auto g = r1::grammar::json_schema(all[k].schema, {4});
      if (!g.is_ok()) __builtin_trap();
      all[k].grammar = g.value();
    }
    ready = true;
  }
  return all[i];
}

void check_complete_text_validates(const Compiled& c, const std::string& text) {
  auto v = r1::parse_json(text);
  if (!v.is_ok()) __builtin_trap();
  if (!r1::validate_json(c.schema, v.value()).empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Compiled& c = compiled(data[0] % kNumSchemas);
  const size_t chunk = 1 + (data[0] / kNumSchemas) % 4;  // 1..4 bytes per accept()
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  r1::GrammarMatcher m(c.grammar);
  std::string text;
  for (size_t pos = 0; pos < rest.size(); pos += chunk) {
    std::string_view piece = rest.substr(pos, chunk);
    r1::GrammarMatcher before = m;
    bool can = m.can_accept(piece);
    bool ok = m.accept(piece);
    if (can != ok) __builtin_trap();
    if (!ok) {
      // Unchanged: the same answers as before the refused chunk.
      if (m.is_complete() != before.is_complete()) __builtin_trap();
      if (m.can_continue() != before.can_continue()) __builtin_trap();
      continue;
    }
    text.append(piece);
    bool complete = m.is_complete();
    if (!complete && !m.can_continue()) __builtin_trap();  // a dead end
    if (complete) check_complete_text_validates(c, text);
  }
  return 0;
}
