// AgentSpec loader: yaml-cpp builds the node tree, then a strict walker checks every key, type,
// enum and range and reports "FILE:LINE:COLUMN: what" (1-based) at the offending node.
//
// The format (full reference with examples: docs/agents.md; for editors: schemas/agent.schema.json)
// is a YAML mapping whose keys are listed in kTopKeys below. Scalars are typed by the YAML 1.2
// core schema, not by yaml-cpp's YAML 1.1 habits:
//   - quoted and block scalars ("x", 'x', |, >) are always strings;
//   - plain scalars: ~, null, Null, NULL and the empty value are null; true/True/TRUE and
//     false/False/FALSE are booleans; [-+]?[0-9]+, 0x[0-9a-fA-F]+ and 0o[0-7]+ are integers
//     (64-bit; larger is an error); [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?, .inf and
//     .nan are floats; everything else, including yes/no/on/off, is a string;
//   - the tags !!str, !!int, !!float, !!bool, !!null, !!seq and !!map are honoured; any other tag
//     is an error.
// Mapping keys are strings; a key repeated in one mapping is an error. Only one document.
//
// Defences against hostile input (the loader reads files users are handed): yaml-cpp's own
// depth guard stops flow/block nesting (its DeepRecursion is reported as "nesting too deep");
// our walk of free-form parts (tool parameters, tool_options) stops at kMaxDepth levels, which
// also stops aliases that contain themselves (`&a [*a]`); alias expansion ("billion laughs") is
// bounded by a node budget proportional to the input size; redaction regexes are bounded in
// length and repetition counts before std::regex compiles them.
#include "agent/agent_spec.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/json_schema.h"
#include "engine/chat/chat_format.h"

namespace r1 {
namespace {

using json = nlohmann::json;

constexpr int32_t kMaxDepth = 100;          // nesting levels we walk in free-form values
constexpr size_t kMaxRegexLength = 1024;    // bytes per redaction pattern
constexpr double kMaxRegexStates = 200000;  // length x product of {n,m} bounds, roughly

const char* const kTopKeys[] = {"name",   "description", "model",        "instructions",
                                "inputs", "tools",       "tool_options", "limits",
                                "memory", "policies",    "sub_agents",   "retrieval"};

// Built-in tools whose options this file knows; options of other (registered or declared) tools
// are free-form mappings handed to the tool.
struct BuiltinOptions {
  const char* tool;
  std::vector<const char*> keys;
};
const BuiltinOptions kBuiltinOptions[] = {
    {"read_file", {"root"}},
    {"list_dir", {"root"}},
    {"http_get", {"allow_hosts", "max_bytes", "timeout_s"}},
    {"sqlite_query", {"db"}},
    {"command", {"allow", "timeout_s", "max_output_bytes"}},
    {"calculator", {}},
    {"current_time", {}},
    {"remember", {}},
    {"recall", {}},
};

// ---- small helpers ----------------------------------------------------------------------------

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Optimal string alignment distance: a swapped pair ("modle") costs 1.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The closest known key when it is close enough to be a typo; "" otherwise.
std::string suggest(std::string_view key, const std::vector<std::string>& known) {
  if (key.size() > 64) return "";
  std::string best;
  size_t best_d = key.size() < 4 ? 1 : 2;
  for (const std::string& k : known) {
    size_t d = edit_distance(key, k);
    if (d <= best_d && (best.empty() || d < best_d)) {
      best = k;
      best_d = d;
    }
  }
  return best;
}

std::string quote_text(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, surrogates or
// code points past U+10FFFF) or, unless allowed, a control character YAML does not allow; npos
// when the text is valid. Strings end up in JSON, whose
// serializer throws on invalid UTF-8, so it is refused at the door.
size_t invalid_utf8_offset(std::string_view text, bool allow_controls) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      // YAML's printable set: no C0 controls but tab, LF and CR; no DEL. (yaml-cpp would
      // otherwise read through them, NUL included.)
      if (!allow_controls && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)) {
        return i;
      }
      ++i;
      continue;
    }
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || i + n > text.size()) return i;
    unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k < n; ++k) {
      unsigned char ck = static_cast<unsigned char>(text[i + k]);
      if (ck < 0x80 || ck > 0xBF) return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

// ---- {placeholder} templates --------------------------------------------------------------------

struct Placeholder {
  std::string name;
  size_t offset = 0;  // of the "{" in the text
};

bool valid_placeholder_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return false;
  return valid_name(s);
}

// Splits a template into placeholders; "{{" and "}}" are literal braces. On a stray brace,
// *error_offset is where it is and the message says what is wrong.
Status scan_placeholders(std::string_view text, std::vector<Placeholder>* out,
                         size_t* error_offset) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      ++i;
    } else if (c == '}') {
      *error_offset = i;
      return Status::invalid("a lone \"}\" (write \"}}\" for a literal brace)");
    } else if (c == '{') {
      size_t close = text.find('}', i + 1);
      std::string_view name =
          close == std::string_view::npos ? std::string_view() : text.substr(i + 1, close - i - 1);
      if (close == std::string_view::npos || !valid_placeholder_name(name)) {
        *error_offset = i;
        return Status::invalid(
            "\"{\" starts a placeholder {name} (letters, digits, _ . -); write \"{{\" for a "
            "literal brace");
      }
      out->push_back({std::string(name), i});
      i = close;
    }
  }
  return Status::ok();
}

// ---- ~ and ${VAR} expansion
// ------------------------------------------------------------------------

// "~" or "~/..." at the start: $HOME. "${NAME}" and "${NAME:-default}": the environment variable
// (an unset or, with ":-", empty one takes the default; unset without a default is an error).
Result<std::string> expand_path(const std::string& s) {
  std::string out;
  size_t i = 0;
  if (!s.empty() && s[0] == '~' && (s.size() == 1 || s[1] == '/')) {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') return Status::invalid("\"~\" used but HOME is not set");
    out = home;
    i = 1;
  }
  while (i < s.size()) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      size_t close = s.find('}', i + 2);
      if (close == std::string::npos) return Status::invalid("unclosed \"${\"");
      std::string inner = s.substr(i + 2, close - i - 2);
      std::string name = inner, fallback;
      bool has_fallback = false;
      if (size_t dash = inner.find(":-"); dash != std::string::npos) {
        name = inner.substr(0, dash);
        fallback = inner.substr(dash + 2);
        has_fallback = true;
      }
      if (!valid_env_name(name))
        return Status::invalid("bad variable name in \"${" + inner + "}\"");
      const char* v = std::getenv(name.c_str());
      if (v != nullptr && (*v != '\0' || !has_fallback)) {
        out += v;
      } else if (has_fallback) {
        Result<std::string> f = expand_path(fallback);  // "${XDG_DATA_HOME:-~/.local/share}"
        if (!f.is_ok()) return f.status();
        out += f.value();
      } else {
        return Status::invalid("environment variable " + name + " is not set");
      }
      i = close + 1;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// ---- typed YAML values
// ----------------------------------------------------------------------------

enum class Kind { kNull, kBool, kInt, kFloat, kString, kList, kMap };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kList:
      return "a list";
    case Kind::kMap:
      return "a mapping";
  }
  return "?";
}

struct Value {
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // the scalar's text (for every scalar kind)
};

bool is_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 10 ? (c >= '0' && c <= '9')
              : base == 8
                  ? (c >= '0' && c <= '7')
                  : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    if (!ok) return false;
  }
  return true;
}

// YAML 1.2 core schema integer; false when the text is not one, *overflow when it is but does
// not fit in 64 bits.
bool parse_core_int(std::string_view t, int64_t* out, bool* overflow) {
  *overflow = false;
  int base = 10;
  std::string digits;
  bool negative = false;
  if (t.size() > 2 && t[0] == '0' && t[1] == 'x') {
    base = 16;
    digits = t.substr(2);
  } else if (t.size() > 2 && t[0] == '0' && t[1] == 'o') {
    base = 8;
    digits = t.substr(2);
  } else {
    std::string_view rest = t;
    if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
      negative = rest[0] == '-';
      rest.remove_prefix(1);
    }
    digits = rest;
  }
  if (!is_digits(digits, base)) return false;
  errno = 0;
  unsigned long long mag = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) {
    *overflow = true;
    return true;
  }
  if (negative) {
    if (mag > static_cast<unsigned long long>(INT64_MAX) + 1ULL) {
      *overflow = true;
    } else {
      *out = mag == static_cast<unsigned long long>(INT64_MAX) + 1ULL ? INT64_MIN
                                                                      : -static_cast<int64_t>(mag);
    }
  } else if (mag > static_cast<unsigned long long>(INT64_MAX)) {
    *overflow = true;
  } else {
    *out = static_cast<int64_t>(mag);
  }
  return true;
}

bool parse_core_float(std::string_view t, double* out) {
  std::string_view body = t;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    *out = negative ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (t == ".nan" || t == ".NaN" || t == ".NAN") {
    *out = std::nan("");
    return true;
  }
  // (\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != body.size()) return false;
  *out = std::strtod(std::string(t).c_str(), nullptr);
  return true;
}

// ---- the reader --------------------------------------------------------------------------------

struct Entry {
  YAML::Node key;  // for list items: the item itself
  YAML::Node value;
  std::string name;
};

class MapView {
 public:
  std::vector<Entry> entries;
  const Entry* get(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries[it->second];
  }
  void add(Entry e) {
    index_.emplace(e.name, entries.size());
    entries.push_back(std::move(e));
  }

 private:
  std::unordered_map<std::string, size_t> index_;  // name -> entries[i]: big mappings stay linear
};

class Reader {
 public:
  Reader(std::string file, std::string_view text)
      : file_(file.empty() ? "<agent>" : std::move(file)),
        text_(text),
        node_budget_(text.size() + 1024) {}

  // ---- locations

  Status error(const YAML::Mark& m, const std::string& msg) const {
    int line = m.line >= 0 ? m.line + 1 : 1;
    int col = m.column >= 0 ? m.column + 1 : 1;
    return Status::invalid(file_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                           msg);
  }
  // A value's position; for an empty value (`key:` with nothing after it) yaml-cpp marks the next
  // token, so point at the key instead.
  YAML::Mark mark_of(const Entry& e) const {
    if (e.value.IsNull() && e.value.Mark().pos != e.key.Mark().pos &&
        !explicit_null(e.value, e.key)) {
      return e.key.Mark();
    }
    return e.value.Mark();
  }
  // True when a null value is written out (`key: ~`, `key: null`, `key: !!null`) on its key's line.
  bool explicit_null(const YAML::Node& value, const YAML::Node& key) const {
    YAML::Mark m = value.Mark();
    if (m.pos < 0 || static_cast<size_t>(m.pos) >= text_.size()) return false;
    if (m.line != key.Mark().line) return false;
    std::string_view rest = text_.substr(static_cast<size_t>(m.pos));
    for (std::string_view token : {"~", "null", "Null", "NULL", "!"}) {
      if (rest.substr(0, token.size()) == token) return true;
    }
    return false;
  }
  // Where `needle` occurs in the source at or after node `n` (block scalars hold their text
  // verbatim); the node's own mark when it cannot be found.
  YAML::Mark mark_in_text(const YAML::Mark& start, std::string_view needle) const {
    if (start.pos < 0) return start;
    size_t at = text_.find(needle, static_cast<size_t>(start.pos));
    if (at == std::string_view::npos) return start;
    YAML::Mark m = start;
    for (size_t i = static_cast<size_t>(start.pos); i < at; ++i) {
      if (text_[i] == '\n') {
        ++m.line;
        m.column = 0;
      } else {
        ++m.column;
      }
    }
    m.pos = static_cast<int>(at);
    return m;
  }

  static std::string path_of(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }
  static std::string in_where(const std::string& where) {
    return where.empty() ? "at top level" : "in " + where;
  }

  // ---- classification

  Status classify(const YAML::Node& n, Value* v) const {
    const std::string& tag = n.Tag();
    const std::string core = "tag:yaml.org,2002:";
    if (n.IsMap() || n.IsSequence()) {
      v->kind = n.IsMap() ? Kind::kMap : Kind::kList;
      if (tag == "?" || tag == "!" || tag.empty() || tag == core + (n.IsMap() ? "map" : "seq")) {
        return Status::ok();
      }
      return error(n.Mark(), "unsupported tag " + quote_text(tag));
    }
    if (n.IsNull()) {
      v->kind = Kind::kNull;
      if (tag.empty() || tag == "?" || tag == core + "null") return Status::ok();
      if (tag == "!" || tag == core + "str") {  // `!!str` with no text
        v->kind = Kind::kString;
        return Status::ok();
      }
      return error(n.Mark(), "unsupported tag " + quote_text(tag));
    }
    if (!n.IsScalar()) return error(n.Mark(), "undefined value");
    v->s = n.Scalar();
    const std::string& t = v->s;
    if (tag == "!" || tag == core + "str") {
      v->kind = Kind::kString;
      // Escapes in double quotes can spell what UTF-8 cannot ("\ud800").
      if (invalid_utf8_offset(t, true) != std::string_view::npos) {
        return error(n.Mark(), "the string is not valid UTF-8 (an escaped surrogate?)");
      }
      return Status::ok();
    }
    bool plain = tag == "?";
    if (!plain && tag.rfind(core, 0) != 0)
      return error(n.Mark(), "unsupported tag " + quote_text(tag));
    std::string want = plain ? "" : tag.substr(core.size());
    if (plain || want == "null") {
      if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") {
        v->kind = Kind::kNull;
        return Status::ok();
      }
    }
    if (plain || want == "bool") {
      if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" ||
          t == "FALSE") {
        v->kind = Kind::kBool;
        v->b = t[0] == 't' || t[0] == 'T';
        return Status::ok();
      }
    }
    if (plain || want == "int") {
      bool overflow = false;
      if (parse_core_int(t, &v->i, &overflow)) {
        if (overflow) return error(n.Mark(), "integer " + t + " does not fit in 64 bits");
        v->kind = Kind::kInt;
        return Status::ok();
      }
    }
    if (plain || want == "float") {
      if (parse_core_float(t, &v->f)) {
        v->kind = Kind::kFloat;
        return Status::ok();
      }
      if (want == "float") {
        bool overflow = false;
        int64_t i = 0;
        if (parse_core_int(t, &i, &overflow) && !overflow) {
          v->kind = Kind::kFloat;
          v->f = static_cast<double>(i);
          return Status::ok();
        }
      }
    }
    if (plain) {
      v->kind = Kind::kString;
      return Status::ok();
    }
    return error(n.Mark(), quote_text(t) + " is not a valid !!" + want);
  }

  Status wrong_type(const Entry& e, const std::string& path, const char* expected,
                    const Value& got) const {
    std::string msg = path + ": expected " + expected + ", got " + kind_name(got.kind);
    if (got.kind == Kind::kString && std::string_view(expected) == "a boolean") {
      msg += " (" + quote_text(got.s) + "; write true or false)";
    } else if (got.kind == Kind::kString && got.s.size() <= 40) {
      msg += " (" + quote_text(got.s) + ")";
    }
    return error(mark_of(e), msg);
  }

  // ---- typed readers. A missing entry (nullptr) leaves *out unchanged.

  Status mapping(const Entry& e, const std::string& where, const std::vector<std::string>& known,
                 MapView* out) const {
    Value v;
    R1_RETURN_IF_ERROR(classify(e.value, &v));
    if (v.kind != Kind::kMap) {
      return wrong_type(e, where.empty() ? "the document" : where, "a mapping", v);
    }
    return entries(e.value, where, &known, out);
  }

  // Every key of a mapping, checked: scalar, unique, known (when `known` is given).
  Status entries(const YAML::Node& map, const std::string& where,
                 const std::vector<std::string>* known, MapView* out) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      // A copy: `it->first` lives in a proxy that dies with the full expression.
      const YAML::Node k = it->first;
      Value kv;
      R1_RETURN_IF_ERROR(classify(k, &kv));
      if (kv.kind == Kind::kList || kv.kind == Kind::kMap || kv.kind == Kind::kNull) {
        return error(k.Mark(), "a key must be a string, got " + std::string(kind_name(kv.kind)) +
                                   " " + in_where(where));
      }
      std::string name = kv.s;
      if (const Entry* prev = out->get(name)) {
        YAML::Mark pm = prev->key.Mark();
        return error(k.Mark(), "duplicate key " + quote_text(name) + " " + in_where(where) +
                                   " (first at " + std::to_string(pm.line + 1) + ":" +
                                   std::to_string(pm.column + 1) + ")");
      }
      if (known != nullptr && std::find(known->begin(), known->end(), name) == known->end()) {
        std::string msg = "unknown key " + quote_text(name) + " " + in_where(where);
        std::string s = suggest(name, *known);
        if (!s.empty()) {
          msg += " (did you mean \"" + s + "\"?)";
        } else {
          msg += " (known: " + join(*known, ", ") + ")";
        }
        return error(k.Mark(), msg);
      }
      out->add({k, it->second, std::move(name)});
    }
    return Status::ok();
  }

  Status list(const Entry& e, const std::string& path, std::vector<Entry>* out) const {
    Value v;
    R1_RETURN_IF_ERROR(classify(e.value, &v));
    if (v.kind != Kind::kList) return wrong_type(e, path, "a list", v);
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      out->push_back({*it, *it, ""});
    }
    return Status::ok();
  }

  Status string(const Entry* e, const std::string& path, std::string* out) const {
    if (e == nullptr) return Status::ok();
    Value v;
    R1_RETURN_IF_ERROR(classify(e->value, &v));
    if (v.kind != Kind::kString) return wrong_type(*e, path, "a string", v);
    *out = v.s;
    return Status::ok();
  }

  Status nonempty_string(const Entry* e, const std::string& path, std::string* out) const {
    R1_RETURN_IF_ERROR(string(e, path, out));
    if (e != nullptr && out->empty()) return error(mark_of(*e), path + ": must not be empty");
    return Status::ok();
  }

  Status boolean(const Entry* e, const std::string& path, bool* out) const {
    if (e == nullptr) return Status::ok();
    Value v;
    R1_RETURN_IF_ERROR(classify(e->value, &v));
    if (v.kind != Kind::kBool) return wrong_type(*e, path, "a boolean", v);
    *out = v.b;
    return Status::ok();
  }

  template <typename T>
  Status integer(const Entry* e, const std::string& path, int64_t lo, int64_t hi, T* out) const {
    if (e == nullptr) return Status::ok();
    Value v;
    R1_RETURN_IF_ERROR(classify(e->value, &v));
    if (v.kind != Kind::kInt) return wrong_type(*e, path, "an integer", v);
    if (v.i < lo || v.i > hi) {
      std::string range = hi == std::numeric_limits<T>::max()
                              ? "at least " + std::to_string(lo)
                              : "between " + std::to_string(lo) + " and " + std::to_string(hi);
      return error(mark_of(*e), path + ": must be " + range + ", got " + std::to_string(v.i));
    }
    *out = static_cast<T>(v.i);
    return Status::ok();
  }

  // A number (an integer is fine) in [lo, hi], or in (lo, hi] when lo_open.
  template <typename T>
  Status number(const Entry* e, const std::string& path, double lo, double hi, bool lo_open,
                T* out) const {
    if (e == nullptr) return Status::ok();
    Value v;
    R1_RETURN_IF_ERROR(classify(e->value, &v));
    double x = 0;
    if (v.kind == Kind::kInt) {
      x = static_cast<double>(v.i);
    } else if (v.kind == Kind::kFloat) {
      x = v.f;
    } else {
      return wrong_type(*e, path, "a number", v);
    }
    bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && x <= hi;
    if (!ok) {
      std::string range;
      if (std::isinf(hi)) {
        range = lo_open ? "greater than " + number_text(lo) : "at least " + number_text(lo);
      } else {
        range = "between " + number_text(lo) + (lo_open ? " (exclusive)" : "") + " and " +
                number_text(hi);
      }
      return error(mark_of(*e), path + ": must be " + range + ", got " + v.s);
    }
    *out = static_cast<T>(x);
    return Status::ok();
  }

  Status enumeration(const Entry* e, const std::string& path,
                     const std::vector<std::string>& allowed, std::string* out) const {
    if (e == nullptr) return Status::ok();
    std::string s;
    R1_RETURN_IF_ERROR(string(e, path, &s));
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::vector<std::string> q;
      for (const std::string& a : allowed) q.push_back("\"" + a + "\"");
      return error(mark_of(*e),
                   path + ": must be one of " + join(q, ", ") + ", got " + quote_text(s));
    }
    *out = s;
    return Status::ok();
  }

  Status string_list(const Entry* e, const std::string& path, std::vector<std::string>* out,
                     std::vector<Entry>* items = nullptr) const {
    if (e == nullptr) return Status::ok();
    std::vector<Entry> local;
    std::vector<Entry>& list_items = items ? *items : local;
    R1_RETURN_IF_ERROR(list(*e, path, &list_items));
    out->clear();
    for (size_t i = 0; i < list_items.size(); ++i) {
      std::string s;
      R1_RETURN_IF_ERROR(string(&list_items[i], path + "[" + std::to_string(i) + "]", &s));
      out->push_back(std::move(s));
    }
    return Status::ok();
  }

  Status tool_name_list(const Entry* e, const std::string& path,
                        std::vector<std::string>* out) const {
    std::vector<Entry> items;
    R1_RETURN_IF_ERROR(string_list(e, path, out, &items));
    for (size_t i = 0; i < out->size(); ++i) {
      if (!valid_name((*out)[i])) {
        return error(mark_of(items[i]),
                     path + "[" + std::to_string(i) +
                         "]: not a tool name ([A-Za-z0-9_.-]{1,64}): " + quote_text((*out)[i]));
      }
    }
    return Status::ok();
  }

  // ---- YAML to JSON (free-form parts) -------------------------------------------------------

  Status to_json(const YAML::Node& n, int32_t depth, json* out) {
    if (depth > kMaxDepth) {
      return error(n.Mark(), "nested deeper than " + std::to_string(kMaxDepth) +
                                 " levels (or an alias that contains itself)");
    }
    if (node_budget_ == 0) {
      return error(n.Mark(), "too many values after alias expansion (an alias bomb?)");
    }
    --node_budget_;
    Value v;
    R1_RETURN_IF_ERROR(classify(n, &v));
    switch (v.kind) {
      case Kind::kNull:
        *out = nullptr;
        return Status::ok();
      case Kind::kBool:
        *out = v.b;
        return Status::ok();
      case Kind::kInt:
        *out = v.i;
        return Status::ok();
      case Kind::kFloat:
        if (!std::isfinite(v.f)) {
          return error(n.Mark(), quote_text(v.s) + " has no JSON equivalent (not a finite number)");
        }
        *out = v.f;
        return Status::ok();
      case Kind::kString:
        *out = v.s;
        return Status::ok();
      case Kind::kList: {
        *out = json::array();
        for (auto it = n.begin(); it != n.end(); ++it) {
          json item;
          R1_RETURN_IF_ERROR(to_json(*it, depth + 1, &item));
          out->push_back(std::move(item));
        }
        return Status::ok();
      }
      case Kind::kMap: {
        *out = json::object();
        MapView view;
        R1_RETURN_IF_ERROR(entries(n, "a mapping", nullptr, &view));
        for (const Entry& e : view.entries) {
          json item;
          R1_RETURN_IF_ERROR(to_json(e.value, depth + 1, &item));
          (*out)[e.name] = std::move(item);
        }
        return Status::ok();
      }
    }
    return Status::ok();
  }

  // ---- the spec -----------------------------------------------------------------------------

  Status read(const YAML::Node& root, AgentSpec* spec) {
    if (root.IsNull() && root.Mark().line < 0) {
      return error(YAML::Mark(), "empty document: an agent needs at least a name");
    }
    Entry top{root, root, ""};
    MapView m;
    R1_RETURN_IF_ERROR(mapping(top, "", {std::begin(kTopKeys), std::end(kTopKeys)}, &m));

    const Entry* name = m.get("name");
    if (name == nullptr) return error(root.Mark(), "missing required key \"name\" at top level");
    R1_RETURN_IF_ERROR(string(name, "name", &spec->name));
    if (!valid_name(spec->name)) {
      return error(mark_of(*name),
                   "name: must match [A-Za-z0-9_.-]{1,64}, got " + quote_text(spec->name));
    }
    R1_RETURN_IF_ERROR(string(m.get("description"), "description", &spec->description));
    if (const Entry* e = m.get("model")) R1_RETURN_IF_ERROR(read_model(*e, &spec->model));
    R1_RETURN_IF_ERROR(string(m.get("instructions"), "instructions", &spec->instructions));
    if (const Entry* e = m.get("inputs")) R1_RETURN_IF_ERROR(read_inputs(*e, spec));
    if (const Entry* e = m.get("instructions")) R1_RETURN_IF_ERROR(check_instructions(*e, *spec));
    if (const Entry* e = m.get("tools")) R1_RETURN_IF_ERROR(read_tools(*e, spec));
    if (const Entry* e = m.get("limits")) R1_RETURN_IF_ERROR(read_limits(*e, &spec->limits));
    if (const Entry* e = m.get("memory")) R1_RETURN_IF_ERROR(read_memory(*e, &spec->memory));
    if (const Entry* e = m.get("policies")) R1_RETURN_IF_ERROR(read_policies(*e, spec));
    if (const Entry* e = m.get("sub_agents")) R1_RETURN_IF_ERROR(read_sub_agents(*e, spec));
    if (const Entry* e = m.get("tool_options")) R1_RETURN_IF_ERROR(read_tool_options(*e, spec));
    if (const Entry* e = m.get("retrieval")) {
      R1_RETURN_IF_ERROR(read_retrieval(*e, &spec->retrieval));
    }
    return check_tool_choice(m, *spec);
  }

  Status read_model(const Entry& e, ModelSpec* model) {
    MapView m;
    R1_RETURN_IF_ERROR(mapping(e, "model",
                               {"engine", "path", "url", "model", "api_key_env", "format",
                                "context", "sampling", "thinking", "tool_choice"},
                               &m));
    R1_RETURN_IF_ERROR(
        enumeration(m.get("engine"), "model.engine", {"native", "remote"}, &model->engine));
    bool remote = model->engine == "remote";
    for (const char* key : {"url", "model", "api_key_env"}) {
      if (!remote && m.get(key) != nullptr) {
        return error(m.get(key)->key.Mark(),
                     "model." + std::string(key) + " applies to engine: remote only");
      }
    }
    if (remote && m.get("path") != nullptr) {
      return error(m.get("path")->key.Mark(), "model.path applies to engine: native only");
    }
    if (remote && m.get("context") != nullptr) {
      return error(m.get("context")->key.Mark(), "model.context applies to engine: native only");
    }
    if (const Entry* p = m.get("path")) {
      std::string raw;
      R1_RETURN_IF_ERROR(string(p, "model.path", &raw));
      Result<std::string> expanded = expand_path(raw);
      if (!expanded.is_ok())
        return error(mark_of(*p), "model.path: " + expanded.status().message());
      model->path = expanded.value();
    }
    if (remote) {
      for (const char* key : {"url", "model"}) {
        if (m.get(key) == nullptr) {
          return error(e.value.Mark(), "missing required key \"" + std::string(key) +
                                           "\" in model (engine: remote)");
        }
      }
      R1_RETURN_IF_ERROR(nonempty_string(m.get("url"), "model.url", &model->url));
      if (model->url.rfind("http://", 0) != 0 && model->url.rfind("https://", 0) != 0) {
        return error(
            mark_of(*m.get("url")),
            "model.url: must start with http:// or https://, got " + quote_text(model->url));
      }
      R1_RETURN_IF_ERROR(nonempty_string(m.get("model"), "model.model", &model->model));
      R1_RETURN_IF_ERROR(string(m.get("api_key_env"), "model.api_key_env", &model->api_key_env));
      if (m.get("api_key_env") != nullptr && !valid_env_name(model->api_key_env)) {
        return error(mark_of(*m.get("api_key_env")),
                     "model.api_key_env: not an environment variable name: " +
                         quote_text(model->api_key_env));
      }
    }
    if (const Entry* f = m.get("format")) {
      R1_RETURN_IF_ERROR(string(f, "model.format", &model->format));
      if (!make_chat_format(model->format).is_ok()) {
        return error(mark_of(*f),
                     "model.format: must be one of \"deepseek-r1\", \"chatml\", "
                     "\"llama3\", got " +
                         quote_text(model->format));
      }
    }
    R1_RETURN_IF_ERROR(integer(m.get("context"), "model.context", 1, INT64_MAX, &model->context));

    if (const Entry* s = m.get("sampling")) {
      MapView sm;
      R1_RETURN_IF_ERROR(
          mapping(*s, "model.sampling", {"temperature", "top_p", "top_k", "min_p", "seed"}, &sm));
      R1_RETURN_IF_ERROR(number(sm.get("temperature"), "model.sampling.temperature", 0.0, 2.0,
                                false, &model->temperature));
      R1_RETURN_IF_ERROR(
          number(sm.get("top_p"), "model.sampling.top_p", 0.0, 1.0, true, &model->top_p));
      R1_RETURN_IF_ERROR(
          integer(sm.get("top_k"), "model.sampling.top_k", 0, INT32_MAX, &model->top_k));
      R1_RETURN_IF_ERROR(
          number(sm.get("min_p"), "model.sampling.min_p", 0.0, 1.0, false, &model->min_p));
      int64_t seed = 0;
      if (sm.get("seed") != nullptr) {
        R1_RETURN_IF_ERROR(integer(sm.get("seed"), "model.sampling.seed", 0, INT64_MAX, &seed));
        model->seed = static_cast<uint64_t>(seed);
      }
    }
    if (const Entry* t = m.get("thinking")) {
      MapView tm;
      R1_RETURN_IF_ERROR(
          mapping(*t, "model.thinking", {"budget", "min", "grace", "wrap_up", "think"}, &tm));
      R1_RETURN_IF_ERROR(integer(tm.get("budget"), "model.thinking.budget", -1, INT32_MAX,
                                 &model->thinking_budget));
      R1_RETURN_IF_ERROR(
          integer(tm.get("min"), "model.thinking.min", 0, INT32_MAX, &model->thinking_min));
      R1_RETURN_IF_ERROR(
          integer(tm.get("grace"), "model.thinking.grace", 0, INT32_MAX, &model->thinking_grace));
      if (model->thinking_budget >= 0 && model->thinking_min > model->thinking_budget) {
        return error(mark_of(*tm.get("min")), "model.thinking.min: must not exceed the budget (" +
                                                  std::to_string(model->thinking_budget) + ")");
      }
      if (const Entry* w = tm.get("wrap_up")) {
        std::string s;
        R1_RETURN_IF_ERROR(string(w, "model.thinking.wrap_up", &s));
        model->wrap_up = s;
      }
      R1_RETURN_IF_ERROR(boolean(tm.get("think"), "model.thinking.think", &model->think));
    }
    if (const Entry* c = m.get("tool_choice")) {
      R1_RETURN_IF_ERROR(string(c, "model.tool_choice", &model->tool_choice));
      if (!valid_name(model->tool_choice)) {
        return error(mark_of(*c),
                     "model.tool_choice: must be auto, required, none or a tool "
                     "name, got " +
                         quote_text(model->tool_choice));
      }
    }
    return Status::ok();
  }

  // A named tool_choice must name a tool the agent has (checked once tools and sub-agents are
  // read).
  Status check_tool_choice(const MapView& top, const AgentSpec& spec) const {
    const std::string& choice = spec.model.tool_choice;
    if (choice == "auto" || choice == "required" || choice == "none") return Status::ok();
    std::vector<std::string> names;
    for (const ToolRef& t : spec.tools) names.push_back(t.name);
    for (const SubAgentSpec& a : spec.sub_agents) names.push_back(a.name);
    if (!spec.retrieval.index.empty()) names.push_back("search_documents");  // retrieval's tool
    if (std::find(names.begin(), names.end(), choice) != names.end()) return Status::ok();
    MapView m;
    R1_RETURN_IF_ERROR(entries(top.get("model")->value, "model", nullptr, &m));
    std::string msg = "model.tool_choice: " + quote_text(choice) +
                      " is not auto, required, none or one of the agent's tools";
    std::string s = suggest(choice, names);
    if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
    return error(mark_of(*m.get("tool_choice")), msg);
  }

  Status read_inputs(const Entry& e, AgentSpec* spec) {
    MapView m;
    Value v;
    R1_RETURN_IF_ERROR(classify(e.value, &v));
    if (v.kind != Kind::kMap) return wrong_type(e, "inputs", "a mapping", v);
    R1_RETURN_IF_ERROR(entries(e.value, "inputs", nullptr, &m));
    for (const Entry& in : m.entries) {
      if (!valid_placeholder_name(in.name)) {
        return error(in.key.Mark(), "inputs: " + quote_text(in.name) +
                                        " is not a placeholder name ([A-Za-z_][A-Za-z0-9_.-]*)");
      }
      Value iv;
      R1_RETURN_IF_ERROR(classify(in.value, &iv));
      std::string path = "inputs." + in.name;
      if (iv.kind == Kind::kNull) {
        spec->required_inputs.push_back(in.name);
      } else if (iv.kind == Kind::kList || iv.kind == Kind::kMap) {
        return wrong_type(in, path, "a string (or a number, a boolean, or ~ for no default)", iv);
      } else {
        spec->inputs[in.name] = iv.s;  // numbers and booleans as written
      }
    }
    return Status::ok();
  }

  Status check_instructions(const Entry& e, const AgentSpec& spec) const {
    std::vector<Placeholder> found;
    size_t bad = 0;
    Status st = scan_placeholders(spec.instructions, &found, &bad);
    if (!st.is_ok()) {
      // Point at the brace when the text is where the scalar starts; the scalar otherwise.
      return error(mark_in_text(e.value.Mark(), spec.instructions.substr(bad, 8)),
                   "instructions: " + st.message());
    }
    for (const Placeholder& p : found) {
      bool known = spec.inputs.count(p.name) > 0 ||
                   std::find(spec.required_inputs.begin(), spec.required_inputs.end(), p.name) !=
                       spec.required_inputs.end();
      if (!known) {
        return error(mark_in_text(e.value.Mark(), "{" + p.name + "}"),
                     "unknown placeholder {" + p.name +
                         "} in instructions (declare it under inputs, with a default or ~)");
      }
    }
    return Status::ok();
  }

  // Placeholders in an http url or a command argument must name declared parameters.
  Status check_tool_template(const Entry& e, const std::string& path, const std::string& text,
                             const json& parameters) const {
    std::vector<Placeholder> found;
    size_t bad = 0;
    Status st = scan_placeholders(text, &found, &bad);
    if (!st.is_ok()) {
      return error(mark_in_text(e.value.Mark(), text.substr(bad, 8)), path + ": " + st.message());
    }
    for (const Placeholder& p : found) {
      const json* props = parameters.is_object() && parameters.contains("properties")
                              ? &parameters["properties"]
                              : nullptr;
      if (props == nullptr || !props->is_object() || !props->contains(p.name)) {
        std::vector<std::string> names;
        if (props != nullptr && props->is_object()) {
          for (auto it = props->begin(); it != props->end(); ++it) names.push_back(it.key());
        }
        return error(mark_in_text(e.value.Mark(), "{" + p.name + "}"),
                     "unknown placeholder {" + p.name + "} in " + path + " (parameters: " +
                         (names.empty() ? std::string("none") : join(names, ", ")) + ")");
      }
    }
    return Status::ok();
  }

  // check_json_schema names the fault as "schema at /properties/a/type: ..."; follow that pointer
  // through the YAML nodes so the error lands on the offending line.
  YAML::Mark schema_error_mark(const Entry& parameters, const std::string& message) const {
    const std::string prefix = "schema at ";
    YAML::Mark mark = mark_of(parameters);
    if (message.rfind(prefix, 0) != 0) return mark;
    std::string pointer = message.substr(prefix.size(), message.find(": ") - prefix.size());
    YAML::Node node = parameters.value;
    size_t at = 0;
    for (int32_t steps = 0; at < pointer.size() && pointer[at] == '/' && steps < kMaxDepth;
         ++steps) {
      size_t next = pointer.find('/', at + 1);
      std::string token =
          pointer.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      at = next == std::string::npos ? pointer.size() : next;
      YAML::Node child;
      bool found = false;
      if (node.IsMap()) {
        for (auto it = node.begin(); it != node.end() && !found; ++it) {
          if (it->first.IsScalar() && it->first.Scalar() == token) {
            child.reset(it->second);  // reset, not =: Node::operator= writes into the tree
            found = true;
          }
        }
      } else if (node.IsSequence() && !token.empty() && token.size() < 9 && is_digits(token, 10)) {
        size_t index = std::stoul(token);
        if (index < node.size()) {
          const YAML::Node& sequence = node;
          child.reset(sequence[index]);
          found = true;
        }
      }
      if (!found || !child.IsDefined() || child.Mark().line < 0) break;
      node.reset(child);
      mark = node.Mark();
    }
    return mark;
  }

  Status read_tools(const Entry& e, AgentSpec* spec) {
    std::vector<Entry> items;
    R1_RETURN_IF_ERROR(list(e, "tools", &items));
    for (size_t i = 0; i < items.size(); ++i) {
      std::string where = "tools[" + std::to_string(i) + "]";
      const Entry& item = items[i];
      ToolRef tool;
      tool.line = item.value.Mark().line + 1;
      tool.column = item.value.Mark().column + 1;
      Value v;
      R1_RETURN_IF_ERROR(classify(item.value, &v));
      const Entry* name_entry = &item;
      MapView m;  // outlives the branch: name_entry may point into it
      if (v.kind == Kind::kString) {
        tool.name = v.s;
      } else if (v.kind == Kind::kMap) {
        R1_RETURN_IF_ERROR(entries(item.value, where, &kToolKeys, &m));
        name_entry = m.get("name");
        if (name_entry == nullptr) {
          return error(item.value.Mark(), "missing required key \"name\" in " + where);
        }
        R1_RETURN_IF_ERROR(string(name_entry, where + ".name", &tool.name));
        R1_RETURN_IF_ERROR(read_tool_declaration(item, m, where, &tool));
      } else {
        return wrong_type(item, where, "a tool name or a mapping", v);
      }
      if (!valid_name(tool.name)) {
        return error(mark_of(*name_entry),
                     where + ": not a tool name ([A-Za-z0-9_.-]{1,64}): " + quote_text(tool.name));
      }
      if (auto first = tool_index_.find(tool.name); first != tool_index_.end()) {
        const ToolRef& other = spec->tools[first->second];
        return error(mark_of(*name_entry), "duplicate tool name " + quote_text(tool.name) +
                                               " (first at " + std::to_string(other.line) + ":" +
                                               std::to_string(other.column) + ")");
      }
      tool_index_.emplace(tool.name, spec->tools.size());
      spec->tools.push_back(std::move(tool));
    }
    return Status::ok();
  }

  Status read_tool_declaration(const Entry& item, const MapView& m, const std::string& where,
                               ToolRef* tool) {
    const Entry* http = m.get("http");
    const Entry* command = m.get("command");
    if (http == nullptr && command == nullptr) {
      for (const char* key : {"description", "parameters"}) {
        if (const Entry* x = m.get(key)) {
          return error(x->key.Mark(), where + ": " + key +
                                          " is only for a declared tool (add http or command); "
                                          "a reference is just the name");
        }
      }
      return Status::ok();  // {name: X}: a reference
    }
    if (http != nullptr && command != nullptr) {
      return error(command->key.Mark(), where + ": a tool is either http or command, not both");
    }
    const Entry* desc = m.get("description");
    if (desc == nullptr) {
      return error(item.value.Mark(), "missing required key \"description\" in " + where);
    }
    R1_RETURN_IF_ERROR(nonempty_string(desc, where + ".description", &tool->description));
    tool->parameters = json{{"type", "object"}, {"properties", json::object()}};
    if (const Entry* p = m.get("parameters")) {
      std::string path = where + ".parameters";
      Value pv;
      R1_RETURN_IF_ERROR(classify(p->value, &pv));
      if (pv.kind != Kind::kMap) return wrong_type(*p, path, "a mapping (a JSON Schema)", pv);
      R1_RETURN_IF_ERROR(to_json(p->value, 0, &tool->parameters));
      Status st = check_json_schema(tool->parameters);
      if (!st.is_ok())
        return error(schema_error_mark(*p, st.message()), path + ": " + st.message());
      if (!tool->parameters.contains("type") || tool->parameters["type"] != "object") {
        return error(mark_of(*p), path + ": must be an object schema (type: object)");
      }
    }
    if (http != nullptr) {
      std::string hw = where + ".http";
      MapView hm;
      R1_RETURN_IF_ERROR(
          mapping(*http, hw, {"method", "url", "headers", "timeout_s", "max_bytes"}, &hm));
      HttpToolDecl spec;
      R1_RETURN_IF_ERROR(enumeration(hm.get("method"), hw + ".method",
                                     {"GET", "POST", "PUT", "PATCH", "DELETE"}, &spec.method));
      const Entry* url = hm.get("url");
      if (url == nullptr) return error(http->value.Mark(), "missing required key \"url\" in " + hw);
      R1_RETURN_IF_ERROR(nonempty_string(url, hw + ".url", &spec.url));
      if (spec.url.rfind("http://", 0) != 0 && spec.url.rfind("https://", 0) != 0) {
        return error(mark_of(*url),
                     hw + ".url: must start with http:// or https://, got " + quote_text(spec.url));
      }
      R1_RETURN_IF_ERROR(check_tool_template(*url, hw + ".url", spec.url, tool->parameters));
      if (const Entry* h = hm.get("headers")) {
        MapView headers;
        Value hv;
        R1_RETURN_IF_ERROR(classify(h->value, &hv));
        if (hv.kind != Kind::kMap) return wrong_type(*h, hw + ".headers", "a mapping", hv);
        R1_RETURN_IF_ERROR(entries(h->value, hw + ".headers", nullptr, &headers));
        for (const Entry& he : headers.entries) {
          R1_RETURN_IF_ERROR(string(&he, hw + ".headers." + he.name, &spec.headers[he.name]));
        }
      }
      R1_RETURN_IF_ERROR(
          number(hm.get("timeout_s"), hw + ".timeout_s", 0.0, HUGE_VAL, true, &spec.timeout_s));
      R1_RETURN_IF_ERROR(
          integer(hm.get("max_bytes"), hw + ".max_bytes", 1, INT64_MAX, &spec.max_bytes));
      tool->http = std::move(spec);
    } else {
      std::string cw = where + ".command";
      MapView cm;
      R1_RETURN_IF_ERROR(mapping(*command, cw, {"argv", "timeout_s", "max_output_bytes"}, &cm));
      CommandToolDecl spec;
      const Entry* argv = cm.get("argv");
      if (argv == nullptr) {
        return error(command->value.Mark(), "missing required key \"argv\" in " + cw);
      }
      std::vector<Entry> args;
      R1_RETURN_IF_ERROR(string_list(argv, cw + ".argv", &spec.argv, &args));
      if (spec.argv.empty()) return error(mark_of(*argv), cw + ".argv: must not be empty");
      if (spec.argv[0].empty()) return error(mark_of(args[0]), cw + ".argv[0]: must not be empty");
      if (spec.argv[0].find('{') != std::string::npos) {
        return error(mark_of(args[0]),
                     cw + ".argv[0]: the program cannot be a placeholder (the model would choose "
                          "what runs)");
      }
      for (size_t i = 0; i < args.size(); ++i) {
        R1_RETURN_IF_ERROR(check_tool_template(args[i], cw + ".argv[" + std::to_string(i) + "]",
                                               spec.argv[i], tool->parameters));
      }
      R1_RETURN_IF_ERROR(
          number(cm.get("timeout_s"), cw + ".timeout_s", 0.0, HUGE_VAL, true, &spec.timeout_s));
      R1_RETURN_IF_ERROR(integer(cm.get("max_output_bytes"), cw + ".max_output_bytes", 1, INT64_MAX,
                                 &spec.max_output_bytes));
      tool->command = std::move(spec);
    }
    return Status::ok();
  }

  Status read_tool_options(const Entry& e, AgentSpec* spec) {
    Value v;
    R1_RETURN_IF_ERROR(classify(e.value, &v));
    if (v.kind != Kind::kMap) return wrong_type(e, "tool_options", "a mapping", v);
    MapView m;
    R1_RETURN_IF_ERROR(entries(e.value, "tool_options", nullptr, &m));
    spec->tool_options = json::object();
    for (const Entry& te : m.entries) {
      std::string where = "tool_options." + te.name;
      const BuiltinOptions* builtin = nullptr;
      for (const BuiltinOptions& b : kBuiltinOptions) {
        if (te.name == b.tool) builtin = &b;
      }
      bool listed = tool_index_.count(te.name) > 0;
      if (builtin == nullptr && !listed) {
        std::vector<std::string> names;
        for (const BuiltinOptions& b : kBuiltinOptions) names.push_back(b.tool);
        for (const ToolRef& t : spec->tools) names.push_back(t.name);
        std::string msg = "tool_options: " + quote_text(te.name) +
                          " is neither a built-in tool nor listed under tools";
        std::string s = suggest(te.name, names);
        if (!s.empty()) msg += " (did you mean \"" + s + "\"?)";
        return error(te.key.Mark(), msg);
      }
      json options;
      if (builtin != nullptr) {
        std::vector<std::string> keys(builtin->keys.begin(), builtin->keys.end());
        MapView om;
        R1_RETURN_IF_ERROR(mapping(te, where, keys, &om));
        options = json::object();
        for (const Entry& oe : om.entries) {
          std::string path = where + "." + oe.name;
          if (oe.name == "root" || oe.name == "db") {
            std::string s;
            R1_RETURN_IF_ERROR(nonempty_string(&oe, path, &s));
            options[oe.name] = s;
          } else if (oe.name == "allow_hosts" || oe.name == "allow") {
            std::vector<std::string> list_value;
            R1_RETURN_IF_ERROR(string_list(&oe, path, &list_value));
            options[oe.name] = list_value;
          } else if (oe.name == "timeout_s") {
            double t = 0;
            R1_RETURN_IF_ERROR(number(&oe, path, 0.0, HUGE_VAL, true, &t));
            options[oe.name] = t;
          } else {  // max_bytes, max_output_bytes
            int64_t n = 0;
            R1_RETURN_IF_ERROR(integer(&oe, path, 1, INT64_MAX, &n));
            options[oe.name] = n;
          }
        }
      } else {
        Value ov;
        R1_RETURN_IF_ERROR(classify(te.value, &ov));
        if (ov.kind != Kind::kMap) return wrong_type(te, where, "a mapping", ov);
        R1_RETURN_IF_ERROR(to_json(te.value, 0, &options));
      }
      spec->tool_options[te.name] = std::move(options);
    }
    return Status::ok();
  }

  Status read_limits(const Entry& e, LimitsSpec* limits) const {
    MapView m;
    R1_RETURN_IF_ERROR(mapping(e, "limits",
                               {"max_steps", "max_tool_calls", "max_tokens", "timeout_s",
                                "max_tokens_per_step", "max_malformed_calls"},
                               &m));
    R1_RETURN_IF_ERROR(
        integer(m.get("max_steps"), "limits.max_steps", 1, INT32_MAX, &limits->max_steps));
    R1_RETURN_IF_ERROR(integer(m.get("max_tool_calls"), "limits.max_tool_calls", 0, INT32_MAX,
                               &limits->max_tool_calls));
    R1_RETURN_IF_ERROR(
        integer(m.get("max_tokens"), "limits.max_tokens", 1, INT64_MAX, &limits->max_tokens));
    R1_RETURN_IF_ERROR(
        number(m.get("timeout_s"), "limits.timeout_s", 0.0, HUGE_VAL, true, &limits->timeout_s));
    R1_RETURN_IF_ERROR(integer(m.get("max_tokens_per_step"), "limits.max_tokens_per_step", 1,
                               INT32_MAX, &limits->max_tokens_per_step));
    R1_RETURN_IF_ERROR(integer(m.get("max_malformed_calls"), "limits.max_malformed_calls", 0,
                               INT32_MAX, &limits->max_malformed_calls));
    return Status::ok();
  }

  Status read_memory(const Entry& e, MemorySpec* memory) const {
    MapView m;
    R1_RETURN_IF_ERROR(mapping(e, "memory", {"db", "session"}, &m));
    if (const Entry* db = m.get("db")) {
      std::string raw;
      R1_RETURN_IF_ERROR(nonempty_string(db, "memory.db", &raw));
      Result<std::string> expanded = expand_path(raw);
      if (!expanded.is_ok())
        return error(mark_of(*db), "memory.db: " + expanded.status().message());
      memory->db = expanded.value();
    }
    return enumeration(m.get("session"), "memory.session", {"continue", "new"}, &memory->session);
  }

  Status read_policies(const Entry& e, AgentSpec* spec) const {
    PolicySpecYaml& p = spec->policies;
    MapView m;
    R1_RETURN_IF_ERROR(
        mapping(e, "policies", {"default", "allow", "deny", "approval", "rules", "redact"}, &m));
    R1_RETURN_IF_ERROR(
        enumeration(m.get("default"), "policies.default", {"allow", "deny"}, &p.default_decision));
    R1_RETURN_IF_ERROR(tool_name_list(m.get("allow"), "policies.allow", &p.allow));
    R1_RETURN_IF_ERROR(tool_name_list(m.get("deny"), "policies.deny", &p.deny));
    if (const Entry* a = m.get("approval")) {
      MapView am;
      R1_RETURN_IF_ERROR(mapping(*a, "policies.approval", {"default", "tools"}, &am));
      R1_RETURN_IF_ERROR(enumeration(am.get("default"), "policies.approval.default",
                                     {"never", "always"}, &p.approval_default));
      if (const Entry* t = am.get("tools")) {
        Value tv;
        R1_RETURN_IF_ERROR(classify(t->value, &tv));
        if (tv.kind != Kind::kMap)
          return wrong_type(*t, "policies.approval.tools", "a mapping", tv);
        MapView tm;
        R1_RETURN_IF_ERROR(entries(t->value, "policies.approval.tools", nullptr, &tm));
        for (const Entry& te : tm.entries) {
          if (!valid_name(te.name)) {
            return error(te.key.Mark(),
                         "policies.approval.tools: not a tool name: " + quote_text(te.name));
          }
          R1_RETURN_IF_ERROR(enumeration(&te, "policies.approval.tools." + te.name,
                                         {"never", "always"}, &p.approval[te.name]));
        }
      }
    }
    if (const Entry* r = m.get("rules")) {
      std::vector<Entry> items;
      R1_RETURN_IF_ERROR(list(*r, "policies.rules", &items));
      for (size_t i = 0; i < items.size(); ++i) {
        std::string where = "policies.rules[" + std::to_string(i) + "]";
        MapView rm;
        R1_RETURN_IF_ERROR(
            mapping(items[i], where, {"tool", "arg", "path_prefix", "hosts", "min", "max"}, &rm));
        ArgumentRuleSpec rule;
        for (const char* key : {"tool", "arg"}) {
          if (rm.get(key) == nullptr) {
            return error(items[i].value.Mark(),
                         "missing required key \"" + std::string(key) + "\" in " + where);
          }
        }
        R1_RETURN_IF_ERROR(nonempty_string(rm.get("tool"), where + ".tool", &rule.tool));
        R1_RETURN_IF_ERROR(nonempty_string(rm.get("arg"), where + ".arg", &rule.arg));
        R1_RETURN_IF_ERROR(
            string_list(rm.get("path_prefix"), where + ".path_prefix", &rule.path_prefix));
        R1_RETURN_IF_ERROR(string_list(rm.get("hosts"), where + ".hosts", &rule.hosts));
        double x = 0;
        if (rm.get("min") != nullptr) {
          R1_RETURN_IF_ERROR(number(rm.get("min"), where + ".min", -HUGE_VAL, HUGE_VAL, false, &x));
          rule.min = x;
        }
        if (rm.get("max") != nullptr) {
          R1_RETURN_IF_ERROR(number(rm.get("max"), where + ".max", -HUGE_VAL, HUGE_VAL, false, &x));
          rule.max = x;
        }
        if (rm.get("path_prefix") == nullptr && rm.get("hosts") == nullptr && !rule.min &&
            !rule.max) {
          return error(items[i].value.Mark(),
                       where + ": a rule needs path_prefix, hosts, min or max");
        }
        if (rule.min && rule.max && *rule.min > *rule.max) {
          return error(mark_of(*rm.get("max")), where + ".max: is less than min");
        }
        // A rule on a tool declared in this file must name one of its parameters.
        auto ti = tool_index_.find(rule.tool);
        if (ti != tool_index_.end() && !spec->tools[ti->second].parameters.is_null()) {
          const ToolRef& t = spec->tools[ti->second];
          const json& props = t.parameters.value("properties", json::object());
          if (!props.is_object() || !props.contains(rule.arg)) {
            std::vector<std::string> names;
            if (props.is_object()) {
              for (auto it = props.begin(); it != props.end(); ++it) names.push_back(it.key());
            }
            std::string msg = where + ".arg: " + quote_text(rule.arg) + " is not a parameter of " +
                              quote_text(rule.tool);
            std::string s = suggest(rule.arg, names);
            if (!s.empty()) {
              msg += " (did you mean \"" + s + "\"?)";
            } else {
              msg += " (parameters: " + (names.empty() ? std::string("none") : join(names, ", ")) +
                     ")";
            }
            return error(mark_of(*rm.get("arg")), msg);
          }
        }
        p.rules.push_back(std::move(rule));
      }
    }
    if (const Entry* r = m.get("redact")) {
      MapView rm;
      R1_RETURN_IF_ERROR(mapping(*r, "policies.redact", {"builtin", "patterns"}, &rm));
      R1_RETURN_IF_ERROR(boolean(rm.get("builtin"), "policies.redact.builtin", &p.redact_builtin));
      std::vector<Entry> items;
      R1_RETURN_IF_ERROR(
          string_list(rm.get("patterns"), "policies.redact.patterns", &p.redact_patterns, &items));
      for (size_t i = 0; i < items.size(); ++i) {
        std::string why = check_regex(p.redact_patterns[i]);
        if (!why.empty()) {
          return error(mark_of(items[i]), "policies.redact.patterns[" + std::to_string(i) +
                                              "]: bad regular expression " +
                                              quote_text(p.redact_patterns[i]) + ": " + why);
        }
      }
    }
    return Status::ok();
  }

  // "" when std::regex (ECMAScript) compiles the pattern; why not otherwise. Patterns that would
  // blow up the compiler (long, or with huge repetition counts) are refused before compiling.
  static std::string check_regex(const std::string& pattern) {
    if (pattern.empty()) return "empty pattern";
    if (pattern.size() > kMaxRegexLength) {
      return "longer than " + std::to_string(kMaxRegexLength) + " bytes";
    }
    double repetition = 1;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '\\') {
        ++i;
        continue;
      }
      if (pattern[i] != '{') continue;
      // {n}, {n,} or {n,m}: the automaton holds up to max(n, m) copies of the repeated atom.
      size_t j = i + 1;
      double bound = 0, part = 0;
      bool digits = false;
      for (; j < pattern.size(); ++j) {
        char c = pattern[j];
        if (c >= '0' && c <= '9') {
          part = std::min(part * 10 + (c - '0'), 1e12);
          digits = true;
        } else if (c == ',') {
          bound = std::max(bound, part);
          part = 0;
        } else {
          break;
        }
      }
      if (!digits) continue;
      bound = std::max(bound, part);
      repetition *= std::max(bound, 1.0);
      if (repetition * static_cast<double>(pattern.size()) > kMaxRegexStates) {
        return "repetition counts too large (the compiled automaton would exceed " +
               number_text(kMaxRegexStates) + " states)";
      }
    }
    try {
      std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& ex) {
      return ex.what();
    }
    return "";
  }

  Status read_sub_agents(const Entry& e, AgentSpec* spec) const {
    std::vector<Entry> items;
    R1_RETURN_IF_ERROR(list(e, "sub_agents", &items));
    std::filesystem::path base = std::filesystem::path(spec->file).parent_path();
    std::unordered_set<std::string> sub_agent_names;
    for (size_t i = 0; i < items.size(); ++i) {
      std::string where = "sub_agents[" + std::to_string(i) + "]";
      MapView m;
      R1_RETURN_IF_ERROR(mapping(items[i], where, {"name", "path", "description"}, &m));
      for (const char* key : {"name", "path"}) {
        if (m.get(key) == nullptr) {
          return error(items[i].value.Mark(),
                       "missing required key \"" + std::string(key) + "\" in " + where);
        }
      }
      SubAgentSpec sub;
      R1_RETURN_IF_ERROR(string(m.get("name"), where + ".name", &sub.name));
      if (!valid_name(sub.name)) {
        return error(mark_of(*m.get("name")), where +
                                                  ".name: not a tool name "
                                                  "([A-Za-z0-9_.-]{1,64}): " +
                                                  quote_text(sub.name));
      }
      if (auto t = tool_index_.find(sub.name); t != tool_index_.end()) {
        return error(mark_of(*m.get("name")), where + ".name: " + quote_text(sub.name) +
                                                  " is also a tool (line " +
                                                  std::to_string(spec->tools[t->second].line) +
                                                  "); a sub-agent is called as a tool");
      }
      if (!sub_agent_names.insert(sub.name).second) {
        return error(mark_of(*m.get("name")),
                     where + ".name: duplicate sub-agent name " + quote_text(sub.name));
      }
      std::string path;
      R1_RETURN_IF_ERROR(nonempty_string(m.get("path"), where + ".path", &path));
      std::filesystem::path p(path);
      sub.path = (p.is_absolute() || base.empty() ? p : base / p).lexically_normal().string();
      R1_RETURN_IF_ERROR(string(m.get("description"), where + ".description", &sub.description));
      spec->sub_agents.push_back(std::move(sub));
    }
    return Status::ok();
  }

  Status read_retrieval(const Entry& e, RetrievalSpec* retrieval) const {
    MapView m;
    R1_RETURN_IF_ERROR(mapping(e, "retrieval", {"index", "k", "mode"}, &m));
    if (m.get("index") == nullptr) {
      return error(e.value.Mark(), "missing required key \"index\" in retrieval");
    }
    R1_RETURN_IF_ERROR(nonempty_string(m.get("index"), "retrieval.index", &retrieval->index));
    if (!valid_name(retrieval->index)) {
      return error(mark_of(*m.get("index")),
                   "retrieval.index: not an index name "
                   "([A-Za-z0-9_.-]{1,64}): " +
                       quote_text(retrieval->index));
    }
    R1_RETURN_IF_ERROR(integer(m.get("k"), "retrieval.k", 1, 1000, &retrieval->k));
    return enumeration(m.get("mode"), "retrieval.mode", {"hybrid", "vector", "keyword"},
                       &retrieval->mode);
  }

  const std::string& file() const { return file_; }

 private:
  static const std::vector<std::string> kToolKeys;
  std::string file_;
  std::string_view text_;
  size_t node_budget_;  // values to_json may still produce (bounds alias expansion)
  std::unordered_map<std::string, size_t> tool_index_;  // tool name -> AgentSpec::tools[i]
};

const std::vector<std::string> Reader::kToolKeys = {"name", "description", "parameters", "http",
                                                    "command"};

// Counts documents and remembers where the second one starts; builds nothing.
class DocumentCounter : public YAML::EventHandler {
 public:
  int32_t documents = 0;
  YAML::Mark second_start;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second_start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp's parse of the text: one document, or a located error. yaml-cpp exceptions stop here.
Result<YAML::Node> load_yaml(const Reader& reader, const std::string& text) {
  if (size_t bad = invalid_utf8_offset(text, false); bad != std::string_view::npos) {
    YAML::Mark m;
    m.line = static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n'));
    size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    line_start = (line_start == std::string::npos || bad == 0) ? 0 : line_start + 1;
    m.column = static_cast<int>(bad - line_start);
    return reader.error(
        m, "not UTF-8 text, or a control character (byte " + std::to_string(bad) + ")");
  }
  try {
    YAML::Node root = YAML::Load(text);
    // A second document is an error. Not YAML::LoadAll: yaml-cpp 0.7 loops forever on some
    // inputs ("!x,") when asked for documents past the first, so ask for exactly two.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentCounter counter;
    if (parser.HandleNextDocument(counter) && parser.HandleNextDocument(counter) &&
        counter.documents == 2) {
      return reader.error(counter.second_start,
                          "more than one YAML document (\"---\" starts another)");
    }
    return root;
  } catch (const YAML::DeepRecursion& ex) {
    // yaml-cpp marks where it gave up (often the end of the input); point at the bracket where
    // flow nesting first got deep, when that is what happened.
    YAML::Mark mark = ex.mark, at;
    at.line = 0;
    at.column = 0;
    int32_t depth = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      depth += (c == '[' || c == '{') ? 1 : (c == ']' || c == '}') ? -1 : 0;
      if (depth > kMaxDepth) {
        mark = at;
        break;
      }
      if (c == '\n') {
        ++at.line;
        at.column = 0;
      } else {
        ++at.column;
      }
    }
    return reader.error(mark, "malformed YAML: nested too deep");
  } catch (const YAML::Exception& ex) {
    // yaml-cpp reports a tab in indentation as whatever it tripped on next ("illegal map
    // value"); name the tab when one precedes the error.
    size_t line_start = 0;
    for (int line = 0; line_start < text.size() && line <= ex.mark.line; ++line) {
      if (line + 1 < ex.mark.line) {  // only the error's line and the one before it
        size_t nl = text.find('\n', line_start);
        if (nl == std::string::npos) break;
        line_start = nl + 1;
        continue;
      }
      size_t i = line_start;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      size_t tab = text.find('\t', line_start);
      if (tab < i && i < text.size() && text[i] != '\n' && text[i] != '\r' && text[i] != '#') {
        YAML::Mark m;
        m.line = line;
        m.column = static_cast<int>(tab - line_start);
        return reader.error(m, "malformed YAML: tab character in indentation (indent with spaces)");
      }
      size_t nl = text.find('\n', line_start);
      if (nl == std::string::npos) break;
      line_start = nl + 1;
    }
    return reader.error(ex.mark, "malformed YAML: " + ex.msg);
  }
}

}  // namespace

Result<AgentSpec> parse_agent_spec(const std::string& yaml_text, const std::string& file_name) {
  Reader reader(file_name, yaml_text);
  Result<YAML::Node> root = load_yaml(reader, yaml_text);
  if (!root.is_ok()) return root.status();
  AgentSpec spec;
  spec.file = file_name;
  try {
    R1_RETURN_IF_ERROR(reader.read(root.value(), &spec));
  } catch (const YAML::Exception& ex) {  // not expected: the walk only reads what it checked
    return reader.error(ex.mark, "malformed YAML: " + ex.msg);
  } catch (const nlohmann::json::exception& ex) {
    return Status::invalid(reader.file() + ": " + ex.what());
  }
  return spec;
}

Result<AgentSpec> load_agent_spec(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) {
    return Status::invalid(path + ": is a directory, not an agent YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io_error(path + ": read failed");
  return parse_agent_spec(text.str(), path);
}

Result<nlohmann::json> agent_yaml_to_json(const std::string& yaml_text,
                                          const std::string& file_name) {
  Reader reader(file_name, yaml_text);
  Result<YAML::Node> root = load_yaml(reader, yaml_text);
  if (!root.is_ok()) return root.status();
  json out;
  try {
    R1_RETURN_IF_ERROR(reader.to_json(root.value(), 0, &out));
  } catch (const YAML::Exception& ex) {
    return reader.error(ex.mark, "malformed YAML: " + ex.msg);
  }
  return out;
}

Result<std::string> render_instructions(const AgentSpec& spec,
                                        const std::map<std::string, std::string>& values) {
  std::string out;
  const std::string& text = spec.instructions;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') return Status::invalid("instructions: a lone \"}\" (write \"}}\")");
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string::npos) return Status::invalid("instructions: unclosed \"{\"");
    std::string name = text.substr(i + 1, close - i - 1);
    if (auto it = values.find(name); it != values.end()) {
      out += it->second;
    } else if (auto d = spec.inputs.find(name); d != spec.inputs.end()) {
      out += d->second;
    } else if (std::find(spec.required_inputs.begin(), spec.required_inputs.end(), name) !=
               spec.required_inputs.end()) {
      return Status::invalid("instructions: input {" + name + "} has no value (it has no default)");
    } else {
      return Status::invalid("instructions: unknown placeholder {" + name + "}");
    }
    i = close;
  }
  return out;
}

}  // namespace r1
