// JSON parsing with located errors, and a JSON Schema validator for the subset in the header.
//
// validate_json first checks the schema (check_json_schema), so the evaluator below may assume
// well-formed keywords and acyclic $ref chains; it still bounds its own depth, because a
// recursive schema (a tree type) follows the instance, and an instance can be deep.
#include "core/json_schema.h"

#include <cmath>
#include <cstdio>
#include <set>

#include <utf8proc.h>

namespace r1 {
namespace {

using json = nlohmann::json;

constexpr int32_t kMaxTextDepth = 512;  // nesting of arrays/objects in parsed text
constexpr int32_t kMaxEvalDepth = 256;  // nested schema evaluations during validation

std::string dump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

void append_pointer_token(std::string& path, std::string_view token) {
  path += '/';
  for (char ch : token) {
    if (ch == '~') {
      path += "~0";
    } else if (ch == '/') {
      path += "~1";
    } else {
      path += ch;
    }
  }
}

// Line and column (both 1-based) of byte `offset` in `text`.
std::string location(std::string_view text, size_t offset) {
  if (offset > text.size()) offset = text.size();
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
         std::to_string(offset) + ")";
}

// `s` with every byte that is not part of a valid UTF-8 sequence written as \xNN, so a
// message that quotes input can always be printed and sent as JSON.
std::string printable_utf8(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                                static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n > 0) {
      out.append(s, i, static_cast<size_t>(n));
      i += static_cast<size_t>(n);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
    }
  }
  return out;
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at ...: " prefix.
// It quotes the last bytes read, which may end inside a UTF-8 character.
std::string bare_message(const char* what) {
  std::string s = what;
  if (size_t col = s.find("column "); col != std::string::npos) {
    if (size_t colon = s.find(": ", col); colon != std::string::npos) {
      return printable_utf8(s.substr(colon + 2));
    }
  }
  if (size_t bracket = s.find("] "); bracket != std::string::npos) {
    return printable_utf8(s.substr(bracket + 2));
  }
  return printable_utf8(s);
}

// Byte offset of the first bracket nested deeper than kMaxTextDepth, or npos.
size_t too_deep_at(std::string_view text) {
  int32_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxTextDepth) return i;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

bool is_integer_value(const json& v) {
  if (v.is_number_integer()) return true;  // signed and unsigned
  if (!v.is_number_float()) return false;
  double x = v.get<double>();
  return std::isfinite(x) && std::floor(x) == x;
}

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return is_integer_value(v) ? "integer" : "number";
  }
}

bool has_type(const json& v, const std::string& name) {
  if (name == "null") return v.is_null();
  if (name == "boolean") return v.is_boolean();
  if (name == "string") return v.is_string();
  if (name == "array") return v.is_array();
  if (name == "object") return v.is_object();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_number() && is_integer_value(v);
  return false;
}

// -1, 0, 1 as a <, ==, > b; exact for two integers, through double otherwise.
int compare_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    bool a_neg = a.is_number_unsigned() ? false : a.get<int64_t>() < 0;
    bool b_neg = b.is_number_unsigned() ? false : b.get<int64_t>() < 0;
    if (a_neg != b_neg) return a_neg ? -1 : 1;
    if (a_neg) {
      int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  double x = a.get<double>(), y = b.get<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

// ---- schema checking ---------------------------------------------------------------------------

class SchemaChecker {
 public:
  explicit SchemaChecker(const json& root) : root_(root) {}

  Status check(const json& s, const std::string& path, int32_t depth) {
    if (depth > kMaxSchemaDepth) {
      return error(path, "nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (s.is_boolean()) return Status::ok();
    if (!s.is_object()) return error(path, "a schema must be an object or a boolean");
    if (!visited_.insert(&s).second) return Status::ok();

    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        R1_RETURN_IF_ERROR(check_type_name(*it, path + "/type"));
      } else if (it->is_array() && !it->empty()) {
        for (size_t i = 0; i < it->size(); ++i) {
          R1_RETURN_IF_ERROR(check_type_name((*it)[i], path + "/type/" + std::to_string(i)));
        }
      } else {
        return error(path + "/type", "must be a type name or a non-empty array of them");
      }
    }
    if (auto it = s.find("enum"); it != s.end() && !it->is_array()) {
      return error(path + "/enum", "must be an array");
    }
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) return error(path + "/properties", "must be an object");
      for (const auto& [key, sub] : it->items()) {
        std::string sub_path = path + "/properties";
        append_pointer_token(sub_path, key);
        R1_RETURN_IF_ERROR(check(sub, sub_path, depth + 1));
      }
    }
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) return error(path + "/required", "must be an array of strings");
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) {
          return error(path + "/required/" + std::to_string(i), "must be a string");
        }
      }
    }
    if (auto it = s.find("additionalProperties"); it != s.end()) {
      R1_RETURN_IF_ERROR(check(*it, path + "/additionalProperties", depth + 1));
    }
    if (auto it = s.find("items"); it != s.end()) {
      if (it->is_array()) {
        return error(path + "/items", "the array (tuple) form of items is not supported");
      }
      R1_RETURN_IF_ERROR(check(*it, path + "/items", depth + 1));
    }
    for (const char* key : {"minItems", "maxItems", "minLength", "maxLength"}) {
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_number() || !is_integer_value(*it) || it->get<double>() < 0) {
          return error(path + "/" + key, "must be a non-negative integer");
        }
      }
    }
    for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (auto it = s.find(key); it != s.end() && !it->is_number()) {
        return error(path + "/" + key, it->is_boolean()
                                           ? "must be a number (the draft 4 boolean form is not "
                                             "supported)"
                                           : "must be a number");
      }
    }
    for (const char* key : {"anyOf", "oneOf", "allOf"}) {
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty()) {
          return error(path + "/" + key, "must be a non-empty array of schemas");
        }
        for (size_t i = 0; i < it->size(); ++i) {
          R1_RETURN_IF_ERROR(
              check((*it)[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
        }
      }
    }
    for (const char* key : {"$defs", "definitions"}) {
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_object()) return error(path + "/" + key, "must be an object");
        for (const auto& [name, sub] : it->items()) {
          std::string sub_path = path + "/" + key;
          append_pointer_token(sub_path, name);
          R1_RETURN_IF_ERROR(check(sub, sub_path, depth + 1));
        }
      }
    }
    if (auto it = s.find("$ref"); it != s.end()) {
      if (!it->is_string()) return error(path + "/$ref", "must be a string");
      const json* target = resolve_schema_ref(root_, it->get<std::string>());
      if (target == nullptr) {
        return error(path + "/$ref", "cannot resolve " + dump(*it) +
                                         " (only local references \"#...\" are supported)");
      }
      R1_RETURN_IF_ERROR(check(*target, it->get<std::string>().substr(1), depth + 1));
      if (reaches_without_descent(*target, &s, 0)) {
        return error(path + "/$ref", "a $ref cycle that never descends into the instance");
      }
    }
    return Status::ok();
  }

 private:
  Status error(const std::string& path, const std::string& what) {
    return Status::invalid("schema at " + (path.empty() ? std::string("/") : path) + ": " + what);
  }

  Status check_type_name(const json& t, const std::string& path) {
    static const std::set<std::string> kNames = {"null",   "boolean", "object", "array",
                                                 "number", "string",  "integer"};
    if (!t.is_string()) return error(path, "must be a type name");
    if (!kNames.count(t.get<std::string>())) return error(path, "unknown type " + dump(t));
    return Status::ok();
  }

  // True when evaluating `from` can reach `target` through $ref / allOf / anyOf / oneOf only,
  // i.e. without moving into the instance: validation would loop forever.
  bool reaches_without_descent(const json& from, const json* target, int32_t depth) {
    if (&from == target) return true;
    if (depth > kMaxSchemaDepth || !from.is_object()) return false;
    if (auto it = from.find("$ref"); it != from.end() && it->is_string()) {
      const json* next = resolve_schema_ref(root_, it->get<std::string>());
      if (next != nullptr && reaches_without_descent(*next, target, depth + 1)) return true;
    }
    for (const char* key : {"anyOf", "oneOf", "allOf"}) {
      if (auto it = from.find(key); it != from.end() && it->is_array()) {
        for (const json& sub : *it) {
          if (reaches_without_descent(sub, target, depth + 1)) return true;
        }
      }
    }
    return false;
  }

  const json& root_;
  std::set<const json*> visited_;
};

// ---- validation --------------------------------------------------------------------------------

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  void validate(const json& s, const json& v, std::string& path, int32_t depth,
                std::vector<SchemaViolation>& out) {
    if (depth > kMaxEvalDepth) {
      out.push_back({path, "nested deeper than " + std::to_string(kMaxEvalDepth) +
                               " schema levels, not validated"});
      return;
    }
    if (s.is_boolean()) {
      if (!s.get<bool>()) out.push_back({path, "no value is allowed here (schema false)"});
      return;
    }
    if (!s.is_object()) return;

    if (auto it = s.find("$ref"); it != s.end()) {
      if (const json* target = resolve_schema_ref(root_, it->get<std::string>())) {
        validate(*target, v, path, depth + 1, out);
      }
    }
    if (auto it = s.find("type"); it != s.end()) {
      bool ok = false;
      std::string expected;
      if (it->is_string()) {
        ok = has_type(v, it->get<std::string>());
        expected = it->get<std::string>();
      } else {
        for (size_t i = 0; i < it->size(); ++i) {
          ok = ok || has_type(v, (*it)[i].get<std::string>());
          if (i > 0) expected += i + 1 == it->size() ? " or " : ", ";
          expected += (*it)[i].get<std::string>();
        }
      }
      if (!ok) {
        out.push_back({path, "expected " + expected + ", got " + type_of(v)});
        return;  // the type-specific keywords below would only repeat this
      }
    }
    if (auto it = s.find("enum"); it != s.end()) {
      bool found = false;
      for (const json& option : *it) found = found || option == v;
      if (!found) out.push_back({path, "must be one of " + dump(*it)});
    }
    if (auto it = s.find("const"); it != s.end() && !(*it == v)) {
      out.push_back({path, "must be " + dump(*it)});
    }
    if (v.is_number()) check_number(s, v, path, out);
    if (v.is_string()) {
      size_t n = code_points(v.get_ref<const std::string&>());
      if (auto it = s.find("maxLength"); it != s.end() && n > it->get<double>()) {
        out.push_back(
            {path, "has " + std::to_string(n) + " characters, more than maxLength " + dump(*it)});
      }
      if (auto it = s.find("minLength"); it != s.end() && n < it->get<double>()) {
        out.push_back(
            {path, "has " + std::to_string(n) + " characters, fewer than minLength " + dump(*it)});
      }
    }
    if (v.is_array()) check_array(s, v, path, depth, out);
    if (v.is_object()) check_object(s, v, path, depth, out);

    if (auto it = s.find("allOf"); it != s.end()) {
      for (const json& sub : *it) validate(sub, v, path, depth + 1, out);
    }
    if (auto it = s.find("anyOf"); it != s.end()) {
      std::string summary;
      size_t matches = count_matches(*it, v, path, depth, summary, nullptr);
      if (matches == 0) {
        out.push_back({path, "does not match any alternative of anyOf: " + summary});
      }
    }
    if (auto it = s.find("oneOf"); it != s.end()) {
      std::string summary;
      std::string which;
      size_t matches = count_matches(*it, v, path, depth, summary, &which);
      if (matches == 0) {
        out.push_back({path, "does not match any alternative of oneOf: " + summary});
      } else if (matches > 1) {
        out.push_back({path, "matches " + std::to_string(matches) + " alternatives of oneOf (" +
                                 which + "), exactly one is required"});
      }
    }
  }

 private:
  void check_number(const json& s, const json& v, const std::string& path,
                    std::vector<SchemaViolation>& out) {
    const std::string text = dump(v);
    if (auto it = s.find("minimum"); it != s.end() && compare_numbers(v, *it) < 0) {
      out.push_back({path, text + " is less than minimum " + dump(*it)});
    }
    if (auto it = s.find("maximum"); it != s.end() && compare_numbers(v, *it) > 0) {
      out.push_back({path, text + " is more than maximum " + dump(*it)});
    }
    if (auto it = s.find("exclusiveMinimum"); it != s.end() && compare_numbers(v, *it) <= 0) {
      out.push_back({path, text + " is not more than exclusiveMinimum " + dump(*it)});
    }
    if (auto it = s.find("exclusiveMaximum"); it != s.end() && compare_numbers(v, *it) >= 0) {
      out.push_back({path, text + " is not less than exclusiveMaximum " + dump(*it)});
    }
  }

  void check_array(const json& s, const json& v, std::string& path, int32_t depth,
                   std::vector<SchemaViolation>& out) {
    if (auto it = s.find("minItems"); it != s.end() && v.size() < it->get<double>()) {
      out.push_back(
          {path, "has " + std::to_string(v.size()) + " items, fewer than minItems " + dump(*it)});
    }
    if (auto it = s.find("maxItems"); it != s.end() && v.size() > it->get<double>()) {
      out.push_back(
          {path, "has " + std::to_string(v.size()) + " items, more than maxItems " + dump(*it)});
    }
    if (auto it = s.find("items"); it != s.end()) {
      const size_t base = path.size();
      for (size_t i = 0; i < v.size(); ++i) {
        path += '/';
        path += std::to_string(i);
        validate(*it, v[i], path, depth + 1, out);
        path.resize(base);
      }
    }
  }

  void check_object(const json& s, const json& v, std::string& path, int32_t depth,
                    std::vector<SchemaViolation>& out) {
    if (auto it = s.find("required"); it != s.end()) {
      for (const json& key : *it) {
        if (!v.contains(key.get<std::string>())) {
          out.push_back({path, "missing required property " + dump(key)});
        }
      }
    }
    auto props = s.find("properties");
    auto additional = s.find("additionalProperties");
    const size_t base = path.size();
    for (const auto& [key, value] : v.items()) {
      append_pointer_token(path, key);
      if (props != s.end() && props->contains(key)) {
        validate((*props)[key], value, path, depth + 1, out);
      } else if (additional != s.end()) {
        if (additional->is_boolean() && !additional->get<bool>()) {
          path.resize(base);
          out.push_back({path, "additional property " + dump(json(key)) + " is not allowed"});
          continue;
        }
        validate(*additional, value, path, depth + 1, out);
      }
      path.resize(base);
    }
  }

  // How many of `alternatives` accept v; `summary` lists each failing branch's first problem.
  size_t count_matches(const json& alternatives, const json& v, std::string& path, int32_t depth,
                       std::string& summary, std::string* which) {
    size_t matches = 0;
    for (size_t i = 0; i < alternatives.size(); ++i) {
      std::vector<SchemaViolation> branch;
      validate(alternatives[i], v, path, depth + 1, branch);
      if (branch.empty()) {
        if (which != nullptr) *which += (matches > 0 ? ", " : "") + std::to_string(i);
        ++matches;
        continue;
      }
      if (!summary.empty()) summary += "; ";
      summary += "(" + std::to_string(i) + ") ";
      if (branch[0].instance_path != path) summary += "at " + branch[0].instance_path + ": ";
      summary += branch[0].message;
    }
    return matches;
  }

  const json& root_;
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text) {
  if (size_t at = too_deep_at(text); at != std::string_view::npos) {
    return Status::invalid(location(text, at) + ": nested deeper than " +
                           std::to_string(kMaxTextDepth) + " levels");
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return Status::invalid(location(text, offset) + ": " + bare_message(e.what()));
  } catch (const json::exception& e) {
    return Status::invalid(bare_message(e.what()));
  } catch (const std::exception& e) {
    return Status::invalid(e.what());
  }
}

const nlohmann::json* resolve_schema_ref(const nlohmann::json& root, std::string_view ref) {
  if (ref.empty() || ref[0] != '#') return nullptr;
  const json* at = &root;
  size_t pos = 1;
  if (pos == ref.size()) return at;
  if (ref[pos] != '/') return nullptr;
  while (pos < ref.size()) {
    size_t end = ref.find('/', pos + 1);
    if (end == std::string_view::npos) end = ref.size();
    std::string token;
    for (size_t i = pos + 1; i < end; ++i) {
      if (ref[i] == '~' && i + 1 < end && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
        token += ref[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += ref[i];
      }
    }
    if (at->is_object()) {
      auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      if (token.empty() || token.size() > 9 ||
          token.find_first_not_of("0123456789") != std::string::npos) {
        return nullptr;
      }
      size_t index = std::stoul(token);
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
    pos = end;
  }
  return at;
}

Status check_json_schema(const nlohmann::json& schema) {
  try {
    return SchemaChecker(schema).check(schema, "", 0);
  } catch (const std::exception& e) {
    return Status::internal(std::string("checking a schema: ") + e.what());
  }
}

std::vector<SchemaViolation> validate_json(const nlohmann::json& schema,
                                           const nlohmann::json& instance) {
  std::vector<SchemaViolation> out;
  if (Status s = check_json_schema(schema); !s.is_ok()) {
    out.push_back({"", "invalid " + s.message()});
    return out;
  }
  try {
    std::string path;
    Validator(schema).validate(schema, instance, path, 0, out);
  } catch (const std::exception& e) {
    out.push_back({"", std::string("validation failed: ") + e.what()});
  }
  return out;
}

std::string describe_violations(const std::vector<SchemaViolation>& violations) {
  std::string out;
  for (const SchemaViolation& v : violations) {
    if (!out.empty()) out += "; ";
    out +=
        "at " + (v.instance_path.empty() ? std::string("/") : v.instance_path) + ": " + v.message;
  }
  return out;
}

}  // namespace r1
