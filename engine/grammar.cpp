// Grammar combinators, the byte-level matcher, and token masks.
//
// Matching model: a matcher state is a set of threads; a thread is a stack of frames, one per
// grammar node being matched (innermost on top). Each node kind has a handler that, given the
// top frame and the next byte, proposes actions: consume the byte (the thread survives), finish
// (pop the frame; the parent sees the same byte), push a child, or replace itself by a child
// (alternatives). Each proposed action forks the thread, so alternatives run in parallel and
// nothing backtracks; identical threads are merged. The pseudo-byte kEnd asks "can every frame
// finish?" and so answers is_complete().
//
// No dead ends: every node only consumes a byte when its own text can still be completed
// (numbers check their range on every digit, strings their length, objects their required keys),
// and nodes whose language is empty (e.g. minimum > maximum) are pruned when the grammar is
// built. A thread that survives a byte is therefore always completable.
#include "engine/grammar.h"

#include <bitset>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/json_schema.h"
#include "engine/tokenizer.h"

namespace r1 {

using json = nlohmann::json;
using int128 = __int128;

enum class NodeKind : uint8_t {
  kNever,  // the empty language
  kLiteral,
  kWhitespace,
  kSequence,
  kChoice,
  kRepeat,
  kAnyValue,  // any JSON value
  kString,
  kNumber,
  kObject,
  kArray,
};

struct ObjectKey {
  std::string text;                    // JSON-encoded key with its quotes
  Grammar literal;                     // matches `text`
  const GrammarNode* value = nullptr;  // the property's schema; null when unusable
};

struct NumberSpec {
  bool integer = false;
  bool bounded = false;        // a range applies: digits are checked against it
  bool allow_exponent = true;  // only for unbounded numbers
  int32_t max_frac_digits = 20;
  // Allowed magnitudes (value * 10^max_frac_digits) for each sign, inclusive; lo > hi: none.
  int128 pos_lo = 0, pos_hi = 0, neg_lo = 0, neg_hi = 0;
};

struct GrammarNode {
  NodeKind kind = NodeKind::kNever;
  bool empty = false;      // accepts no string at all
  bool nullable = false;   // accepts ""
  std::bitset<256> first;  // bytes that can start a non-empty match

  std::string text;                      // literal
  int32_t min = 0, max = -1;             // whitespace max / repeat / string length / array items
  std::vector<const GrammarNode*> kids;  // sequence parts, choice alternatives, repeat part, ...
  std::vector<Grammar> owned;            // keeps kids alive (back edges to an any-value are not)

  // string (key mode: names of a generic object key; declared keys are refused, escapes too)
  bool key_mode = false;
  std::vector<std::string> forbidden_keys;  // JSON-encoded, with quotes

  NumberSpec number;

  // object
  std::vector<ObjectKey> keys;
  uint64_t required_mask = 0;               // bit k: keys[k] is required
  uint64_t usable_mask = 0;                 // bit k: keys[k]'s value schema is satisfiable
  const GrammarNode* additional = nullptr;  // value of other keys; null: none allowed
  const GrammarNode* key_string = nullptr;  // generic key matcher when `additional` is set
  int32_t max_ws = 16;                      // whitespace bytes between JSON tokens

  // any value: kids = {object, array, string, number, true, false, null}
};

namespace {

constexpr int32_t kEnd = 256;              // pseudo-byte: end of text
constexpr size_t kMaxThreads = 4096;       // parallel threads; more and the byte is refused
constexpr size_t kMaxFrames = 512;         // frames in one thread
constexpr size_t kMaxAnyDepth = 48;        // frames above which an any-value has no containers
constexpr int32_t kMaxEpsilonSteps = 512;  // handler calls per thread per byte
constexpr int32_t kMaxIntDigits = 19;
constexpr int32_t kMaxExpDigits = 2;

bool is_ws(int32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(int32_t c) {
  return c >= '0' && c <= '9';
}
int32_t hex_value(int32_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

int128 pow10(int32_t n) {
  int128 p = 1;
  for (int32_t i = 0; i < n; ++i) p *= 10;
  return p;
}

// ---- node construction -------------------------------------------------------------------------

std::shared_ptr<GrammarNode> make(NodeKind kind) {
  auto n = std::make_shared<GrammarNode>();
  n->kind = kind;
  return n;
}

std::bitset<256> bytes_of(std::string_view chars) {
  std::bitset<256> b;
  for (unsigned char ch : chars) b.set(ch);
  return b;
}

Grammar never() {
  auto n = make(NodeKind::kNever);
  n->empty = true;
  return n;
}

Grammar string_node(int32_t min_len, int32_t max_len, bool key_mode,
                    std::vector<std::string> forbidden) {
  auto n = make(NodeKind::kString);
  n->min = min_len;
  n->max = max_len;
  n->key_mode = key_mode;
  n->forbidden_keys = std::move(forbidden);
  n->first = bytes_of("\"");
  n->empty = max_len >= 0 && min_len > max_len;
  return n;
}

}  // namespace

namespace grammar {

Grammar literal(std::string text) {
  auto n = make(NodeKind::kLiteral);
  n->nullable = text.empty();
  if (!text.empty()) n->first.set(static_cast<unsigned char>(text[0]));
  n->text = std::move(text);
  return n;
}

Grammar whitespace(int32_t max_bytes) {
  auto n = make(NodeKind::kWhitespace);
  n->max = max_bytes < 0 ? 0 : max_bytes;
  n->nullable = true;
  if (n->max > 0) n->first = bytes_of(" \t\n\r");
  return n;
}

Grammar sequence(std::vector<Grammar> parts) {
  auto n = make(NodeKind::kSequence);
  n->nullable = true;
  for (const Grammar& p : parts) {
    if (!p || p->empty) n->empty = true;
    if (!p) continue;
    if (n->nullable) n->first |= p->first;
    n->nullable = n->nullable && p->nullable;
    n->kids.push_back(p.get());
  }
  if (n->empty) {
    n->kids.clear();
    n->nullable = false;
    n->first.reset();
    return n;
  }
  n->owned = std::move(parts);
  return n;
}

Grammar choice(std::vector<Grammar> alternatives) {
  auto n = make(NodeKind::kChoice);
  n->empty = true;
  for (const Grammar& a : alternatives) {
    if (!a || a->empty) continue;
    n->empty = false;
    n->nullable = n->nullable || a->nullable;
    n->first |= a->first;
    n->kids.push_back(a.get());
  }
  n->owned = std::move(alternatives);
  return n;
}

Grammar repeat(Grammar part, int32_t min_count, int32_t max_count) {
  auto n = make(NodeKind::kRepeat);
  n->min = min_count < 0 ? 0 : min_count;
  n->max = max_count < 0 ? -1 : max_count;
  bool part_empty = !part || part->empty;
  if (n->max >= 0 && n->min > n->max) n->empty = true;
  if (part_empty && n->min > 0) n->empty = true;
  if (part_empty) n->max = 0;
  n->nullable = !n->empty && (n->min == 0 || part->nullable);
  if (!part_empty && n->max != 0 && !n->empty) n->first = part->first;
  if (part) n->kids.push_back(part.get());
  n->owned.push_back(std::move(part));
  return n;
}

}  // namespace grammar

// ---- JSON Schema -> grammar
// ----------------------------------------------------------------------

namespace {

const char* const kUnsupportedKeywords[] = {"pattern",
                                            "patternProperties",
                                            "not",
                                            "if",
                                            "then",
                                            "else",
                                            "multipleOf",
                                            "minProperties",
                                            "maxProperties",
                                            "propertyNames",
                                            "contains",
                                            "minContains",
                                            "maxContains",
                                            "dependentRequired",
                                            "dependentSchemas",
                                            "dependencies",
                                            "prefixItems",
                                            "unevaluatedProperties",
                                            "unevaluatedItems",
                                            "$dynamicRef",
                                            "$recursiveRef"};

const char* const kConstrainingKeywords[] = {"type",
                                             "enum",
                                             "const",
                                             "properties",
                                             "required",
                                             "additionalProperties",
                                             "items",
                                             "minItems",
                                             "maxItems",
                                             "minLength",
                                             "maxLength",
                                             "minimum",
                                             "maximum",
                                             "exclusiveMinimum",
                                             "exclusiveMaximum",
                                             "anyOf",
                                             "oneOf",
                                             "allOf",
                                             "$ref"};

class SchemaCompiler {
 public:
  SchemaCompiler(const json& root, const JsonGrammarOptions& options)
      : root_(root), options_(options) {}

  Result<Grammar> compile(const json& s, const std::string& path, int32_t depth) {
    if (depth > kMaxSchemaDepth) {
      return Status::invalid(where(path) + "nested deeper than " + std::to_string(kMaxSchemaDepth) +
                             " levels");
    }
    if (s.is_boolean()) return s.get<bool>() ? any() : never();
    if (!s.is_object()) return Status::invalid(where(path) + "a schema must be an object");

    for (const char* key : kUnsupportedKeywords) {
      if (s.contains(key)) return unsupported(path, std::string("\"") + key + "\"");
    }
    if (auto it = s.find("uniqueItems"); it != s.end() && *it != json(false)) {
      return unsupported(path, "\"uniqueItems\"");
    }
    auto others_besides = [&](const char* self) {
      for (const char* key : kConstrainingKeywords) {
        if (std::strcmp(key, self) != 0 && s.contains(key)) return true;
      }
      return false;
    };

    if (auto it = s.find("$ref"); it != s.end()) {
      if (others_besides("$ref")) return unsupported(path, "\"$ref\" beside other constraints");
      const json* target = resolve_schema_ref(root_, it->get<std::string>());
      if (target == nullptr) return Status::invalid(where(path) + "unresolvable $ref");
      for (const json* open : ref_stack_) {
        if (open == target) return unsupported(path, "recursive \"$ref\"");
      }
      if (auto cached = cache_.find(target); cached != cache_.end()) return cached->second;
      ref_stack_.push_back(target);
      Result<Grammar> g = compile(*target, it->get<std::string>().substr(1), depth + 1);
      ref_stack_.pop_back();
      if (g.is_ok()) cache_[target] = g.value();
      return g;
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      if (it->size() != 1 || others_besides("allOf")) {
        return unsupported(path, "\"allOf\" other than a single schema alone");
      }
      return compile((*it)[0], path + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      auto it = s.find(key);
      if (it == s.end()) continue;
      if (others_besides(key)) {
        return unsupported(path, std::string("\"") + key + "\" beside other constraints");
      }
      std::vector<Grammar> alternatives;
      for (size_t i = 0; i < it->size(); ++i) {
        Result<Grammar> g =
            compile((*it)[i], path + "/" + key + "/" + std::to_string(i), depth + 1);
        if (!g.is_ok()) return g;
        alternatives.push_back(std::move(g.value()));
      }
      return grammar::choice(std::move(alternatives));
    }
    if (s.contains("enum") || s.contains("const")) return compile_values(s);

    bool constrained = false;
    for (const char* key : kConstrainingKeywords) constrained = constrained || s.contains(key);
    if (!constrained) return any();

    std::set<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        types.insert(it->get<std::string>());
      } else {
        for (const json& t : *it) types.insert(t.get<std::string>());
      }
    } else {
      types = {"null", "boolean", "object", "array", "number", "string"};
    }
    if (types.count("number")) types.erase("integer");

    std::vector<Grammar> alternatives;
    for (const std::string& t : types) {
      Result<Grammar> g = compile_type(s, t, path, depth);
      if (!g.is_ok()) return g;
      alternatives.push_back(std::move(g.value()));
    }
    if (alternatives.size() == 1) return alternatives[0];
    return grammar::choice(std::move(alternatives));
  }

 private:
  static std::string where(const std::string& path) {
    return "schema at " + (path.empty() ? std::string("/") : path) + ": ";
  }
  static Status unsupported(const std::string& path, const std::string& what) {
    return Status::unsupported(where(path) + what + " is not supported for constrained decoding");
  }

  // enum / const: the JSON text of every listed value the whole schema accepts.
  Result<Grammar> compile_values(const json& s) {
    std::vector<json> values;
    if (auto it = s.find("enum"); it != s.end()) values.assign(it->begin(), it->end());
    if (auto it = s.find("const"); it != s.end()) values.push_back(*it);
    std::vector<Grammar> alternatives;
    std::set<std::string> seen;
    for (const json& v : values) {
      std::string text = dump(v);
      Result<json> reparsed = parse_json(text);
      if (!reparsed.is_ok() || !validate_json(s, reparsed.value()).empty()) continue;
      if (seen.insert(text).second) alternatives.push_back(grammar::literal(text));
    }
    if (alternatives.size() == 1) return alternatives[0];
    return grammar::choice(std::move(alternatives));
  }

  Result<Grammar> compile_type(const json& s, const std::string& type, const std::string& path,
                               int32_t depth) {
    if (type == "null") return grammar::literal("null");
    if (type == "boolean") {
      return grammar::choice({grammar::literal("true"), grammar::literal("false")});
    }
    if (type == "string") {
      int32_t min_len = int_keyword(s, "minLength", 0);
      int32_t max_len = int_keyword(s, "maxLength", -1);
      return string_node(min_len, max_len, false, {});
    }
    if (type == "number" || type == "integer") return number_node(s, type == "integer");
    if (type == "array") {
      auto n = make(NodeKind::kArray);
      n->first = bytes_of("[");
      n->max_ws = options_.max_whitespace;
      n->min = int_keyword(s, "minItems", 0);
      n->max = int_keyword(s, "maxItems", -1);
      Grammar items = any();
      if (auto it = s.find("items"); it != s.end()) {
        Result<Grammar> g = compile(*it, path + "/items", depth + 1);
        if (!g.is_ok()) return g;
        items = g.value();
      }
      if (items->empty) n->max = 0;
      n->empty = n->max >= 0 && n->min > n->max;
      n->kids.push_back(items.get());
      n->owned.push_back(items);
      return Grammar(n);
    }
    // object
    auto n = make(NodeKind::kObject);
    n->first = bytes_of("{");
    n->max_ws = options_.max_whitespace;
    Grammar additional;  // null: no other keys
    if (auto it = s.find("additionalProperties"); it != s.end() && *it != json(false)) {
      Result<Grammar> g = compile(*it, path + "/additionalProperties", depth + 1);
      if (!g.is_ok()) return g;
      if (!g.value()->empty) additional = g.value();
    }
    std::vector<std::string> names;
    if (auto it = s.find("properties"); it != s.end()) {
      for (const auto& [key, sub] : it->items()) names.push_back(key);
    }
    std::set<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      for (const json& key : *it) {
        required.insert(key.get<std::string>());
        if (std::find(names.begin(), names.end(), key.get<std::string>()) == names.end()) {
          names.push_back(key.get<std::string>());
        }
      }
    }
    if (names.size() > 64) return unsupported(path, "an object with more than 64 properties");
    std::vector<std::string> key_texts;
    for (size_t k = 0; k < names.size(); ++k) {
      ObjectKey key;
      key.text = dump(json(names[k]));
      key.literal = grammar::literal(key.text);
      Grammar value;
      auto props = s.find("properties");
      if (props != s.end() && props->contains(names[k])) {
        std::string sub_path = path + "/properties/" + names[k];
        Result<Grammar> g = compile((*props)[names[k]], sub_path, depth + 1);
        if (!g.is_ok()) return g;
        value = g.value();
      } else {
        auto it = s.find("additionalProperties");
        value = it == s.end() ? any() : (additional ? additional : never());
      }
      n->owned.push_back(value);
      if (!value->empty) {
        key.value = value.get();
        n->usable_mask |= uint64_t{1} << k;
      }
      if (required.count(names[k])) {
        n->required_mask |= uint64_t{1} << k;
        if (value->empty) n->empty = true;
      }
      key_texts.push_back(key.text);
      n->keys.push_back(std::move(key));
    }
    if (additional) {
      Grammar key_string = string_node(0, -1, true, std::move(key_texts));
      n->additional = additional.get();
      n->key_string = key_string.get();
      n->owned.push_back(additional);
      n->owned.push_back(key_string);
    }
    return Grammar(n);
  }

  static int32_t int_keyword(const json& s, const char* key, int32_t fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    double v = it->get<double>();
    return v > 1e9 ? 1000000000 : static_cast<int32_t>(v);
  }

  // A number, or an integer, within the schema's bounds. Bounded numbers are written without an
  // exponent and with at most 6 fraction digits, so the range can be checked digit by digit.
  Grammar number_node(const json& s, bool integer) {
    auto n = make(NodeKind::kNumber);
    n->first = bytes_of("-0123456789");
    NumberSpec& spec = n->number;
    spec.integer = integer;
    json lower = json::object(), upper = json::object();
    for (const char* key : {"minimum", "exclusiveMinimum"}) {
      if (s.contains(key)) lower[key] = s[key];
    }
    for (const char* key : {"maximum", "exclusiveMaximum"}) {
      if (s.contains(key)) upper[key] = s[key];
    }
    spec.bounded = !lower.empty() || !upper.empty();
    spec.allow_exponent = !integer && !spec.bounded;
    spec.max_frac_digits = integer ? 0 : (spec.bounded ? 6 : 20);
    if (!spec.bounded) return n;

    const int32_t k = spec.max_frac_digits;
    const int128 max_mag = pow10(kMaxIntDigits + k) - 1;
    int128 lo = -max_mag, hi = max_mag;  // allowed scaled values, inclusive
    if (!lower.empty()) {
      double bound = -INFINITY;
      for (auto& [key, v] : lower.items()) bound = std::max(bound, v.get<double>());
      lo = scaled_bound(lower, bound, k, true, max_mag);
    }
    if (!upper.empty()) {
      double bound = INFINITY;
      for (auto& [key, v] : upper.items()) bound = std::min(bound, v.get<double>());
      hi = scaled_bound(upper, bound, k, false, max_mag);
    }
    spec.pos_lo = lo > 0 ? lo : 0;
    spec.pos_hi = hi;
    spec.neg_lo = hi < 0 ? -hi : 0;
    spec.neg_hi = -lo;
    n->empty = lo > hi;
    return n;
  }

  // The smallest (lower) or largest (upper) scaled value N whose text "N / 10^k" the validator
  // accepts under `bounds`; the double estimate is corrected with the validator itself.
  static int128 scaled_bound(const json& bounds, double bound, int32_t k, bool lower,
                             int128 max_mag) {
    double estimate = bound * std::pow(10.0, k);
    if (!(estimate < 1e26)) return lower ? max_mag + 1 : max_mag;
    if (!(estimate > -1e26)) return lower ? -max_mag : -max_mag - 1;
    int128 n = static_cast<int128>(std::floor(estimate));
    auto ok = [&](int128 candidate) {
      Result<json> v = parse_json(scaled_text(candidate, k));
      return v.is_ok() && validate_json(bounds, v.value()).empty();
    };
    if (lower) {
      for (int i = 0; i < 8 && !ok(n); ++i) ++n;
      for (int i = 0; i < 8 && ok(n - 1); ++i) --n;
      return n < -max_mag ? -max_mag : n;
    }
    for (int i = 0; i < 8 && !ok(n); ++i) --n;
    for (int i = 0; i < 8 && ok(n + 1); ++i) ++n;
    return n > max_mag ? max_mag : n;
  }

  static std::string scaled_text(int128 n, int32_t k) {
    bool neg = n < 0;
    if (neg) n = -n;
    std::string digits;
    do {
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(n % 10)));
      n /= 10;
    } while (n > 0);
    while (static_cast<int32_t>(digits.size()) <= k) digits.insert(digits.begin(), '0');
    const size_t int_len = digits.size() - static_cast<size_t>(k);
    std::string out;
    if (neg) out.push_back('-');
    out.append(digits, 0, int_len);
    if (k > 0) {
      out.push_back('.');
      out.append(digits, int_len, std::string::npos);
    }
    return out;
  }

  // The any-value node, built once per compile; its containers point back to it (not owning).
  Grammar any() {
    if (any_) return any_;
    auto n = make(NodeKind::kAnyValue);
    auto object = make(NodeKind::kObject);
    object->first = bytes_of("{");
    object->max_ws = options_.max_whitespace;
    object->additional = n.get();
    Grammar key_string = string_node(0, -1, true, {});
    object->key_string = key_string.get();
    object->owned.push_back(key_string);
    auto array = make(NodeKind::kArray);
    array->first = bytes_of("[");
    array->max_ws = options_.max_whitespace;
    array->kids.push_back(n.get());
    auto number = make(NodeKind::kNumber);
    number->first = bytes_of("-0123456789");
    std::vector<Grammar> kinds = {object,
                                  array,
                                  string_node(0, -1, false, {}),
                                  number,
                                  grammar::literal("true"),
                                  grammar::literal("false"),
                                  grammar::literal("null")};
    for (const Grammar& g : kinds) {
      n->kids.push_back(g.get());
      n->first |= g->first;
    }
    n->owned = std::move(kinds);
    any_ = n;
    return any_;
  }

  const json& root_;
  JsonGrammarOptions options_;
  std::map<const json*, Grammar> cache_;
  std::vector<const json*> ref_stack_;
  Grammar any_;
};

}  // namespace

namespace grammar {

Result<Grammar> json_schema(const nlohmann::json& schema, const JsonGrammarOptions& options) {
  R1_RETURN_IF_ERROR(check_json_schema(schema));
  try {
    Result<Grammar> g = SchemaCompiler(schema, options).compile(schema, "", 0);
    if (g.is_ok() && g.value()->empty) {
      return Status::invalid("schema at /: no JSON value satisfies it");
    }
    return g;
  } catch (const std::exception& e) {
    return Status::internal(std::string("compiling a JSON schema grammar: ") + e.what());
  }
}

}  // namespace grammar

// ---- matching
// --------------------------------------------------------------------------------------

namespace {

// One grammar node being matched. 32 bytes, no padding: threads are compared with memcmp.
struct Frame {
  const GrammarNode* node;
  uint64_t bits;  // object: keys used; key string: declared keys still matching; number: int digits
  uint32_t phase;  // node-specific position, see the handlers
  int32_t a;       // literal/ws: bytes; seq: next part; repeat: parts; string: code points;
                   // object/array: whitespace run; number: int digit count
  int32_t b;       // object: key index; array: items; string: byte pos (key) or \u value;
                   // number: fraction digits value
  int32_t c;       // string: bytes left in a character or \u digits; number: fraction digits
};
static_assert(sizeof(Frame) == 32);

Frame fresh(const GrammarNode* node) {
  return Frame{node, 0, 0, 0, 0, 0};
}

}  // namespace

// A set of threads, stored flat: thread i is frames[ends[i-1] .. ends[i]).
struct GrammarMatcher::State {
  std::vector<Frame> frames;
  std::vector<uint32_t> ends;
  std::vector<uint64_t> hashes;  // of threads [0, hashes.size()), for merging duplicates

  void clear() {
    frames.clear();
    ends.clear();
    hashes.clear();
  }
  size_t size() const { return ends.size(); }
  uint32_t begin_of(size_t i) const { return i == 0 ? 0 : ends[i - 1]; }
};

namespace {

using State = GrammarMatcher::State;

enum class ActionKind : uint8_t { kConsume, kFinish, kPush, kReplace };
struct Action {
  ActionKind kind;
  Frame top;                           // the new top frame (consume, push)
  const GrammarNode* child = nullptr;  // pushed or replacing node
};

// Reusable buffers for one step; one per thread of execution.
struct Scratch {
  std::vector<Frame> work;  // pending stacks, flat
  std::vector<uint32_t> work_ends;
  std::vector<Frame> current;
  std::vector<Action> actions;
  State ping, pong;
  std::vector<State> levels;  // grammar_allowed_tokens: one state per trie depth
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

uint64_t hash_frames(const Frame* f, size_t n) {
  uint64_t h = 1469598103934665603ull;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(f);
  for (size_t i = 0; i < n * sizeof(Frame); i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 29;
  }
  return h;
}

// Adds a thread unless an identical one is there; false when the thread limit is hit. Hashes
// are computed lazily: a state of one thread (the common case) never needs one.
bool emit(State& dst, const Frame* f, size_t n) {
  if (dst.size() == 0) {
    dst.frames.assign(f, f + n);
    dst.ends.push_back(static_cast<uint32_t>(n));
    return true;
  }
  while (dst.hashes.size() < dst.size()) {
    size_t i = dst.hashes.size();
    uint32_t b = dst.begin_of(i);
    dst.hashes.push_back(hash_frames(&dst.frames[b], dst.ends[i] - b));
  }
  uint64_t h = hash_frames(f, n);
  for (size_t i = 0; i < dst.size(); ++i) {
    if (dst.hashes[i] != h) continue;
    uint32_t b = dst.begin_of(i);
    if (dst.ends[i] - b == n && std::memcmp(&dst.frames[b], f, n * sizeof(Frame)) == 0) {
      return true;
    }
  }
  if (dst.size() >= kMaxThreads) return false;
  dst.frames.insert(dst.frames.end(), f, f + n);
  dst.ends.push_back(static_cast<uint32_t>(dst.frames.size()));
  dst.hashes.push_back(h);
  return true;
}

// ---- numbers
// ---------------------------------------------------------------------------------------

enum NumberPhase : uint32_t {
  kNumStart,
  kNumSign,
  kNumZero,
  kNumInt,
  kNumDot,
  kNumFrac,
  kNumE,
  kNumExpSign,
  kNumExp,
};

bool mag_intersects(int128 a, int128 b, int128 lo, int128 hi) {
  return a <= hi && b >= lo;
}

// Whether some completion of the number so far lies in range (bounded numbers only).
bool number_feasible(const NumberSpec& spec, bool neg, uint32_t phase, uint64_t int_value,
                     int32_t int_digits, int64_t frac_value, int32_t frac_digits) {
  const int128 lo = neg ? spec.neg_lo : spec.pos_lo;
  const int128 hi = neg ? spec.neg_hi : spec.pos_hi;
  if (lo > hi) return false;
  const int32_t k = spec.max_frac_digits;
  const int128 unit = pow10(k);
  if (phase == kNumSign) return mag_intersects(0, pow10(kMaxIntDigits + k) - 1, lo, hi);
  if (phase == kNumZero) return mag_intersects(0, unit - 1, lo, hi);
  if (phase == kNumInt) {
    int128 d = int_value;
    int128 scale = unit;
    for (int32_t extra = 0; int_digits + extra <= kMaxIntDigits; ++extra) {
      if (d * scale > hi) break;
      if (mag_intersects(d * scale, (d + 1) * scale - 1, lo, hi)) return true;
      scale *= 10;
    }
    return false;
  }
  // kNumDot, kNumFrac
  int128 step = pow10(k - frac_digits);
  int128 base = static_cast<int128>(int_value) * unit + static_cast<int128>(frac_value) * step;
  return mag_intersects(base, base + step - 1, lo, hi);
}

bool number_complete(const GrammarNode& n, const Frame& f) {
  uint32_t phase = f.phase & 0xFF;
  if (phase != kNumZero && phase != kNumInt && phase != kNumFrac && phase != kNumExp) return false;
  const NumberSpec& spec = n.number;
  if (!spec.bounded) return true;
  bool neg = (f.phase >> 8) & 1;
  int32_t k = spec.max_frac_digits;
  int128 mag = static_cast<int128>(f.bits) * pow10(k) + static_cast<int128>(f.b) * pow10(k - f.c);
  return neg ? (mag >= spec.neg_lo && mag <= spec.neg_hi)
             : (mag >= spec.pos_lo && mag <= spec.pos_hi);
}

// Appends the consume action for number byte c, if allowed.
void number_step(const GrammarNode& n, const Frame& f, int32_t c, std::vector<Action>& out) {
  const NumberSpec& spec = n.number;
  uint32_t phase = f.phase & 0xFF;
  bool neg = (f.phase >> 8) & 1;
  int32_t exp_digits = static_cast<int32_t>(f.phase >> 16);
  Frame t = f;
  auto set_phase = [&](uint32_t p) { t.phase = p | (neg ? 0x100u : 0u) | (exp_digits << 16); };
  bool digit = is_digit(c);
  bool ok = false;
  switch (phase) {
    case kNumStart:
      if (c == '-') {
        neg = true;
        set_phase(kNumSign);
        ok = true;
      } else if (digit) {
        set_phase(c == '0' ? kNumZero : kNumInt);
        t.bits = static_cast<uint64_t>(c - '0');
        t.a = 1;
        ok = true;
      }
      break;
    case kNumSign:
      if (digit) {
        set_phase(c == '0' ? kNumZero : kNumInt);
        t.bits = static_cast<uint64_t>(c - '0');
        t.a = 1;
        ok = true;
      }
      break;
    case kNumZero:
    case kNumInt:
      if (digit && phase == kNumInt && f.a < kMaxIntDigits) {
        t.bits = f.bits * 10 + static_cast<uint64_t>(c - '0');
        t.a = f.a + 1;
        ok = true;
      } else if (c == '.' && spec.max_frac_digits > 0) {
        set_phase(kNumDot);
        ok = true;
      } else if ((c == 'e' || c == 'E') && spec.allow_exponent) {
        set_phase(kNumE);
        ok = true;
      }
      break;
    case kNumDot:
    case kNumFrac:
      if (digit && f.c < spec.max_frac_digits) {
        set_phase(kNumFrac);
        if (spec.bounded) t.b = f.b * 10 + (c - '0');
        t.c = f.c + 1;
        ok = true;
      } else if (phase == kNumFrac && (c == 'e' || c == 'E') && spec.allow_exponent) {
        set_phase(kNumE);
        ok = true;
      }
      break;
    case kNumE:
      if (c == '+' || c == '-') {
        set_phase(kNumExpSign);
        ok = true;
      } else if (digit) {
        exp_digits = 1;
        set_phase(kNumExp);
        ok = true;
      }
      break;
    case kNumExpSign:
    case kNumExp:
      if (digit && exp_digits < kMaxExpDigits) {
        ++exp_digits;
        set_phase(kNumExp);
        ok = true;
      }
      break;
  }
  if (!ok) return;
  if (spec.bounded) {
    uint32_t p = t.phase & 0xFF;
    if (!number_feasible(spec, neg, p, t.bits, t.a, t.b, t.c)) return;
  }
  out.push_back({ActionKind::kConsume, t, nullptr});
}

// ---- strings
// -----------------------------------------------------------------------------------------

enum StringPhase : uint32_t {
  kStrOpen,
  kStrIn,
  kStrUtf8,  // c: continuation bytes left; phase bits 4-7: range of the next one
  kStrEscape,
  kStrHex,  // c: hex digits read; b: value so far; bit 8: this must be a low surrogate
  kStrSurrogateBackslash,
  kStrSurrogateU,
  kStrDone,
};
constexpr uint32_t kLowSurrogateFlag = 0x100;

// Allowed range of the first continuation byte after a lead byte (UTF-8, RFC 3629).
bool utf8_first_ok(uint32_t range, int32_t c) {
  switch (range) {
    case 1:
      return c >= 0xA0 && c <= 0xBF;  // after E0: no overlongs
    case 2:
      return c >= 0x80 && c <= 0x9F;  // after ED: no surrogates
    case 3:
      return c >= 0x90 && c <= 0xBF;  // after F0: no overlongs
    case 4:
      return c >= 0x80 && c <= 0x8F;  // after F4: not above U+10FFFF
    default:
      return c >= 0x80 && c <= 0xBF;
  }
}

// In key mode: the declared keys whose JSON text still matches after byte c at position pos.
uint64_t filter_keys(const GrammarNode& n, uint64_t candidates, int32_t pos, int32_t c) {
  uint64_t out = 0;
  while (candidates != 0) {
    int k = __builtin_ctzll(candidates);
    candidates &= candidates - 1;
    const std::string& key = n.forbidden_keys[static_cast<size_t>(k)];
    if (static_cast<size_t>(pos) < key.size() &&
        static_cast<unsigned char>(key[static_cast<size_t>(pos)]) == c) {
      out |= uint64_t{1} << k;
    }
  }
  return out;
}

void string_step(const GrammarNode& n, const Frame& f, int32_t c, std::vector<Action>& out) {
  uint32_t phase = f.phase & 0xF;
  Frame t = f;
  bool room = n.max < 0 || f.a < n.max;
  auto consume = [&](uint32_t p) {
    t.phase = p;
    out.push_back({ActionKind::kConsume, t, nullptr});
  };
  switch (phase) {
    case kStrOpen:
      if (c != '"') return;
      t.a = 0;
      t.b = 1;
      t.c = 0;
      if (n.key_mode) {
        size_t count = n.forbidden_keys.size();
        t.bits = count >= 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
        t.bits = filter_keys(n, t.bits, 0, c);
      }
      return consume(kStrIn);
    case kStrIn:
      if (c == '"') {
        if (f.a < n.min) return;
        if (n.key_mode) {
          uint64_t matched = filter_keys(n, f.bits, f.b, c);
          while (matched != 0) {
            int k = __builtin_ctzll(matched);
            matched &= matched - 1;
            if (n.forbidden_keys[static_cast<size_t>(k)].size() == static_cast<size_t>(f.b) + 1) {
              return;  // a declared key: its own thread matches it
            }
          }
        }
        return consume(kStrDone);
      }
      if (c == '\\') {
        if (n.key_mode || !room) return;
        t.a = f.a + 1;
        return consume(kStrEscape);
      }
      if (c < 0x20 || c == kEnd || !room) return;
      if (n.key_mode) {
        t.bits = filter_keys(n, f.bits, f.b, c);
        t.b = f.b + 1;
      }
      t.a = f.a + 1;
      if (c < 0x80) return consume(kStrIn);
      if (c >= 0xC2 && c <= 0xDF) {
        t.c = 1;
        return consume(kStrUtf8);
      }
      if (c >= 0xE0 && c <= 0xEF) {
        t.c = 2;
        uint32_t range = c == 0xE0 ? 1 : (c == 0xED ? 2 : 0);
        return consume(kStrUtf8 | (range << 4));
      }
      if (c >= 0xF0 && c <= 0xF4) {
        t.c = 3;
        uint32_t range = c == 0xF0 ? 3 : (c == 0xF4 ? 4 : 0);
        return consume(kStrUtf8 | (range << 4));
      }
      return;
    case kStrUtf8: {
      uint32_t range = (f.phase >> 4) & 0xF;
      if (c == kEnd || !utf8_first_ok(range, c)) return;
      if (n.key_mode) {
        t.bits = filter_keys(n, f.bits, f.b, c);
        t.b = f.b + 1;
      }
      t.c = f.c - 1;
      return consume(t.c == 0 ? kStrIn : kStrUtf8);
    }
    case kStrEscape:
      if (c == 'u') {
        t.b = 0;
        t.c = 0;
        return consume(kStrHex);
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        return consume(kStrIn);
      }
      return;
    case kStrHex: {
      int32_t h = hex_value(c);
      if (h < 0) return;
      bool low = (f.phase & kLowSurrogateFlag) != 0;
      t.b = f.b * 16 + h;
      t.c = f.c + 1;
      if (t.c == 1 && low && h != 0xD) return;
      if (t.c == 2) {
        bool is_low = t.b >= 0xDC && t.b <= 0xDF;
        if (low ? !is_low : is_low) return;
      }
      if (t.c < 4) {
        t.phase = f.phase;
        out.push_back({ActionKind::kConsume, t, nullptr});
        return;
      }
      if (!low && t.b >= 0xD800 && t.b <= 0xDBFF) return consume(kStrSurrogateBackslash);
      return consume(kStrIn);
    }
    case kStrSurrogateBackslash:
      if (c == '\\') return consume(kStrSurrogateU);
      return;
    case kStrSurrogateU:
      if (c == 'u') {
        t.b = 0;
        t.c = 0;
        return consume(kStrHex | kLowSurrogateFlag);
      }
      return;
    case kStrDone:
      out.push_back({ActionKind::kFinish, f, nullptr});
      return;
  }
}

// ---- objects and arrays
// ----------------------------------------------------------------------------

enum ObjectPhase : uint32_t {
  kObjOpen,
  kObjFirst,  // after '{'
  kObjAfterKey,
  kObjColon,  // after ':'
  kObjAfterValue,
  kObjComma,  // after ','
  kObjDone,
};

void object_keys(const GrammarNode& n, const Frame& f, std::vector<Action>& out) {
  uint64_t open = n.usable_mask & ~f.bits;
  while (open != 0) {
    int k = __builtin_ctzll(open);
    open &= open - 1;
    Frame t = f;
    t.phase = kObjAfterKey;
    t.a = 0;
    t.b = k;
    t.bits = f.bits | (uint64_t{1} << k);
    out.push_back({ActionKind::kPush, t, n.keys[static_cast<size_t>(k)].literal.get()});
  }
  if (n.additional != nullptr) {
    Frame t = f;
    t.phase = kObjAfterKey;
    t.a = 0;
    t.b = -1;
    out.push_back({ActionKind::kPush, t, n.key_string});
  }
}

void object_step(const GrammarNode& n, const Frame& f, int32_t c, std::vector<Action>& out) {
  Frame t = f;
  auto consume = [&](uint32_t p, int32_t ws) {
    t.phase = p;
    t.a = ws;
    out.push_back({ActionKind::kConsume, t, nullptr});
  };
  const uint32_t phase = f.phase;
  if (phase == kObjOpen) {
    if (c == '{') consume(kObjFirst, 0);
    return;
  }
  if (phase == kObjDone) {
    out.push_back({ActionKind::kFinish, f, nullptr});
    return;
  }
  if (is_ws(c)) {
    if (f.a < n.max_ws) consume(phase, f.a + 1);
    return;
  }
  const bool closable = (f.bits & n.required_mask) == n.required_mask;
  switch (phase) {
    case kObjFirst:
      if (c == '}' && closable) return consume(kObjDone, 0);
      if (c == '"') object_keys(n, f, out);
      return;
    case kObjAfterKey:
      if (c == ':') consume(kObjColon, 0);
      return;
    case kObjColon: {
      const GrammarNode* value = f.b >= 0 ? n.keys[static_cast<size_t>(f.b)].value : n.additional;
      if (c != kEnd && value->first[static_cast<size_t>(c)]) {
        t.phase = kObjAfterValue;
        t.a = 0;
        out.push_back({ActionKind::kPush, t, value});
      }
      return;
    }
    case kObjAfterValue:
      if (c == '}' && closable) return consume(kObjDone, 0);
      if (c == ',' && ((n.usable_mask & ~f.bits) != 0 || n.additional != nullptr)) {
        consume(kObjComma, 0);
      }
      return;
    case kObjComma:
      if (c == '"') object_keys(n, f, out);
      return;
  }
}

enum ArrayPhase : uint32_t { kArrOpen, kArrFirst, kArrAfterValue, kArrComma, kArrDone };

void array_step(const GrammarNode& n, const Frame& f, int32_t c, std::vector<Action>& out) {
  Frame t = f;
  const uint32_t phase = f.phase;
  auto consume = [&](uint32_t p, int32_t ws) {
    t.phase = p;
    t.a = ws;
    out.push_back({ActionKind::kConsume, t, nullptr});
  };
  if (phase == kArrOpen) {
    if (c == '[') consume(kArrFirst, 0);
    return;
  }
  if (phase == kArrDone) {
    out.push_back({ActionKind::kFinish, f, nullptr});
    return;
  }
  if (is_ws(c)) {
    if (f.a < n.max_ws) consume(phase, f.a + 1);
    return;
  }
  const GrammarNode* items = n.kids[0];
  auto push_item = [&]() {
    if (c == kEnd || (n.max >= 0 && f.b >= n.max) || !items->first[static_cast<size_t>(c)]) return;
    t.phase = kArrAfterValue;
    t.a = 0;
    t.b = f.b + 1;
    out.push_back({ActionKind::kPush, t, items});
  };
  switch (phase) {
    case kArrFirst:
      if (c == ']' && n.min == 0) return consume(kArrDone, 0);
      return push_item();
    case kArrAfterValue:
      if (c == ']' && f.b >= n.min) return consume(kArrDone, 0);
      if (c == ',' && (n.max < 0 || f.b < n.max)) consume(kArrComma, 0);
      return;
    case kArrComma:
      return push_item();
  }
}

// ---- the step
// ------------------------------------------------------------------------------------

// Proposes what the top frame can do with byte c (or kEnd). `depth`: frames in the thread.
void handle(const Frame& f, int32_t c, size_t depth, std::vector<Action>& out) {
  const GrammarNode& n = *f.node;
  switch (n.kind) {
    case NodeKind::kNever:
      return;
    case NodeKind::kLiteral:
      if (static_cast<size_t>(f.a) < n.text.size()) {
        if (c == static_cast<unsigned char>(n.text[static_cast<size_t>(f.a)])) {
          Frame t = f;
          t.a = f.a + 1;
          out.push_back({ActionKind::kConsume, t, nullptr});
        }
      } else {
        out.push_back({ActionKind::kFinish, f, nullptr});
      }
      return;
    case NodeKind::kWhitespace:
      if (is_ws(c) && f.a < n.max) {
        Frame t = f;
        t.a = f.a + 1;
        out.push_back({ActionKind::kConsume, t, nullptr});
      }
      out.push_back({ActionKind::kFinish, f, nullptr});
      return;
    case NodeKind::kSequence:
      if (static_cast<size_t>(f.a) < n.kids.size()) {
        Frame t = f;
        t.a = f.a + 1;
        out.push_back({ActionKind::kPush, t, n.kids[static_cast<size_t>(f.a)]});
      } else {
        out.push_back({ActionKind::kFinish, f, nullptr});
      }
      return;
    case NodeKind::kChoice:
      for (const GrammarNode* alt : n.kids) {
        if (alt->nullable || (c != kEnd && alt->first[static_cast<size_t>(c)])) {
          out.push_back({ActionKind::kReplace, f, alt});
        }
      }
      return;
    case NodeKind::kRepeat: {
      const GrammarNode* part = n.kids.empty() ? nullptr : n.kids[0];
      bool more = part != nullptr && !part->empty && (n.max < 0 || f.a < n.max);
      bool useful = part != nullptr && ((c != kEnd && part->first[static_cast<size_t>(c)]) ||
                                        (part->nullable && f.a < n.min));
      if (more && useful) {
        Frame t = f;
        t.a = f.a + 1;
        out.push_back({ActionKind::kPush, t, part});
      }
      if (f.a >= n.min) out.push_back({ActionKind::kFinish, f, nullptr});
      return;
    }
    case NodeKind::kAnyValue: {
      if (c == kEnd) return;
      size_t first_kind = depth >= kMaxAnyDepth ? 2 : 0;  // too deep: no containers
      for (size_t i = first_kind; i < n.kids.size(); ++i) {
        if (n.kids[i]->first[static_cast<size_t>(c)]) {
          out.push_back({ActionKind::kReplace, f, n.kids[i]});
        }
      }
      return;
    }
    case NodeKind::kString:
      return string_step(n, f, c, out);
    case NodeKind::kNumber:
      if (c != kEnd) number_step(n, f, c, out);
      if (number_complete(n, f)) out.push_back({ActionKind::kFinish, f, nullptr});
      return;
    case NodeKind::kObject:
      return object_step(n, f, c, out);
    case NodeKind::kArray:
      return array_step(n, f, c, out);
  }
}

// Advances every thread of `src` by byte c into `dst` (cleared first). For c == kEnd nothing is
// emitted; the return value then says whether some thread can end here. For a byte it says
// whether any thread survived (false also when the thread limit was hit).
bool step(const State& src, int32_t c, State& dst, Scratch& s) {
  dst.clear();
  bool completed = false;
  for (size_t i = 0; i < src.size(); ++i) {
    // Fast path: the top frame just consumes the byte (inside a string, a number, a literal).
    if (c != kEnd) {
      const uint32_t b = src.begin_of(i);
      const uint32_t n = src.ends[i] - b;
      s.actions.clear();
      handle(src.frames[b + n - 1], c, n, s.actions);
      if (s.actions.size() == 1 && s.actions[0].kind == ActionKind::kConsume) {
        s.current.assign(src.frames.begin() + b, src.frames.begin() + src.ends[i]);
        s.current.back() = s.actions[0].top;
        if (!emit(dst, s.current.data(), n)) return false;
        continue;
      }
    }
    s.work.assign(src.frames.begin() + src.begin_of(i), src.frames.begin() + src.ends[i]);
    s.work_ends.assign(1, static_cast<uint32_t>(s.work.size()));
    int32_t budget = kMaxEpsilonSteps;
    while (!s.work_ends.empty()) {
      uint32_t end = s.work_ends.back();
      s.work_ends.pop_back();
      uint32_t begin = s.work_ends.empty() ? 0 : s.work_ends.back();
      s.current.assign(s.work.begin() + begin, s.work.begin() + end);
      s.work.resize(begin);
      if (--budget < 0) break;
      s.actions.clear();
      handle(s.current.back(), c, s.current.size(), s.actions);
      for (const Action& act : s.actions) {
        const size_t n = s.current.size();
        switch (act.kind) {
          case ActionKind::kConsume:
            s.current.back() = act.top;
            if (!emit(dst, s.current.data(), n)) return false;
            break;
          case ActionKind::kFinish:
            if (n == 1) {
              if (c == kEnd) completed = true;
              break;
            }
            s.work.insert(s.work.end(), s.current.begin(), s.current.end() - 1);
            s.work_ends.push_back(static_cast<uint32_t>(s.work.size()));
            break;
          case ActionKind::kPush:
            if (n + 1 > kMaxFrames) break;
            s.work.insert(s.work.end(), s.current.begin(), s.current.end() - 1);
            s.work.push_back(act.top);
            s.work.push_back(fresh(act.child));
            s.work_ends.push_back(static_cast<uint32_t>(s.work.size()));
            break;
          case ActionKind::kReplace:
            s.work.insert(s.work.end(), s.current.begin(), s.current.end() - 1);
            s.work.push_back(fresh(act.child));
            s.work_ends.push_back(static_cast<uint32_t>(s.work.size()));
            break;
        }
        // A consume overwrites current's top; that is harmless, as every action replaces or
        // pops the top frame.
      }
      if (completed) break;
    }
    if (completed) return true;
  }
  return c == kEnd ? completed : dst.size() > 0;
}

// Feeds bytes through ping/pong buffers; returns the final state (one of them) or nullptr.
const State* run_bytes(const State& start, std::string_view bytes, Scratch& s) {
  const State* src = &start;
  State* bufs[2] = {&s.ping, &s.pong};
  for (size_t i = 0; i < bytes.size(); ++i) {
    State* dst = bufs[i & 1];
    if (!step(*src, static_cast<unsigned char>(bytes[i]), *dst, s)) return nullptr;
    src = dst;
  }
  return src;
}

}  // namespace

GrammarMatcher::GrammarMatcher(Grammar root) : root_(std::move(root)) {
  reset();
}

void GrammarMatcher::reset() {
  auto st = std::make_shared<State>();
  if (root_ && !root_->empty) {
    Frame f = fresh(root_.get());
    st->frames.push_back(f);
    st->ends.push_back(1);
  }
  state_ = std::move(st);
}

bool GrammarMatcher::accept(std::string_view bytes) {
  if (bytes.empty()) return true;
  Scratch& s = scratch();
  const State* out = run_bytes(*state_, bytes, s);
  if (out == nullptr) return false;
  if (state_.use_count() == 1) {
    *state_ = *out;
  } else {
    state_ = std::make_shared<State>(*out);
  }
  return true;
}

bool GrammarMatcher::can_accept(std::string_view bytes) const {
  if (bytes.empty()) return true;
  return run_bytes(*state_, bytes, scratch()) != nullptr;
}

bool GrammarMatcher::is_complete() const {
  Scratch& s = scratch();
  return step(*state_, kEnd, s.ping, s);
}

bool GrammarMatcher::can_continue() const {
  Scratch& s = scratch();
  for (int32_t c = 0; c < 256; ++c) {
    if (step(*state_, c, s.ping, s)) return true;
  }
  return false;
}

// ---- token index and masks
// -----------------------------------------------------------------------

struct TokenIndex::Impl {
  std::vector<std::string> pieces;  // (n_vocab) token bytes
  struct Node {
    uint32_t first_edge = 0, n_edges = 0;    // edges[first_edge .. +n_edges), sorted by byte
    uint32_t first_token = 0, n_tokens = 0;  // token_ids[first_token .. +n_tokens)
  };
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  std::vector<Node> nodes;  // nodes[0] is the root (the empty prefix)
  std::vector<Edge> edges;
  std::vector<int32_t> token_ids;
};

TokenIndex::TokenIndex(const Tokenizer& tok) {
  auto impl = std::make_shared<Impl>();
  const int32_t n = tok.n_vocab();
  impl->pieces.resize(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id)
    impl->pieces[static_cast<size_t>(id)] = tok.token_to_piece(id, true);

  // Build with map children, then flatten breadth-first.
  struct BuildNode {
    std::map<uint8_t, uint32_t> children;
    std::vector<int32_t> tokens;
  };
  std::vector<BuildNode> build(1);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& p = impl->pieces[static_cast<size_t>(id)];
    if (p.empty()) continue;
    uint32_t at = 0;
    for (unsigned char ch : p) {
      auto it = build[at].children.find(ch);
      if (it == build[at].children.end()) {
        uint32_t next = static_cast<uint32_t>(build.size());
        build[at].children.emplace(ch, next);
        build.emplace_back();
        at = next;
      } else {
        at = it->second;
      }
    }
    build[at].tokens.push_back(id);
  }
  impl->nodes.resize(build.size());
  for (size_t i = 0; i < build.size(); ++i) {
    Impl::Node& node = impl->nodes[i];
    node.first_edge = static_cast<uint32_t>(impl->edges.size());
    node.n_edges = static_cast<uint32_t>(build[i].children.size());
    for (const auto& [byte, child] : build[i].children) impl->edges.push_back({byte, child});
    node.first_token = static_cast<uint32_t>(impl->token_ids.size());
    node.n_tokens = static_cast<uint32_t>(build[i].tokens.size());
    impl->token_ids.insert(impl->token_ids.end(), build[i].tokens.begin(), build[i].tokens.end());
  }
  impl_ = std::move(impl);
}

int32_t TokenIndex::n_vocab() const {
  return static_cast<int32_t>(impl_->pieces.size());
}

const std::string& TokenIndex::piece(int32_t id) const {
  static const std::string kNone;
  if (id < 0 || id >= n_vocab()) return kNone;
  return impl_->pieces[static_cast<size_t>(id)];
}

namespace {

// Depth-first over the trie: a subtree is skipped as soon as its prefix is refused.
void walk(const TokenIndex::Impl& index, uint32_t node, size_t depth, Scratch& s,
          std::vector<uint8_t>& allowed) {
  const TokenIndex::Impl::Node& n = index.nodes[node];
  if (s.levels.size() < depth + 2) s.levels.resize(depth + 2);
  for (uint32_t e = n.first_edge; e < n.first_edge + n.n_edges; ++e) {
    const TokenIndex::Impl::Edge& edge = index.edges[e];
    if (!step(s.levels[depth], edge.byte, s.levels[depth + 1], s)) continue;
    const TokenIndex::Impl::Node& child = index.nodes[edge.child];
    for (uint32_t t = child.first_token; t < child.first_token + child.n_tokens; ++t) {
      allowed[static_cast<size_t>(index.token_ids[t])] = 1;
    }
    if (child.n_edges > 0) walk(index, edge.child, depth + 1, s, allowed);
  }
}

}  // namespace

void grammar_allowed_tokens(const GrammarMatcher& matcher, const TokenIndex& index,
                            std::vector<uint8_t>& allowed) {
  allowed.assign(static_cast<size_t>(index.n_vocab()), 0);
  Scratch& s = scratch();
  if (s.levels.empty()) s.levels.resize(1);
  s.levels[0] = *matcher.state_;
  walk(*index.impl_, 0, 0, s, allowed);
}

}  // namespace r1
