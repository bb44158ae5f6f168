// JSON parsing and JSON Schema validation: each keyword with a passing and a failing instance,
// the instance paths and messages people and models read, located parse errors, malformed
// schemas, and inputs deep enough to break a naive recursive implementation.
#include "core/json_schema.h"

#include <doctest/doctest.h>

#include <string>

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

using json = nlohmann::json;

json parse(const std::string& text) {
  Result<json> r = parse_json(text);
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return r.value();
}

// The violations as one line, "" when valid.
std::string check(const std::string& schema, const std::string& instance) {
  return describe_violations(validate_json(parse(schema), parse(instance)));
}

TEST_CASE("json schema: parse_json reads JSON and names the location of an error") {
  CHECK(parse("{\"a\": [1, 2.5, \"x\", null, true]}")["a"][1] == 2.5);

  Result<json> r = parse_json("{\"a\": 1,\n  \"b\": }");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(r.status().message().find("line 2, column 8 (byte 16)") == 0, r.status().message());
  CHECK(r.status().message().find("unexpected '}'") != std::string::npos);

  SUBCASE("trailing text is an error") {
    Result<json> t = parse_json("{} x");
    REQUIRE_FALSE(t.is_ok());
    CHECK_MESSAGE(t.status().message().find("byte 3") != std::string::npos, t.status().message());
  }
  SUBCASE("empty text and truncated text are errors") {
    CHECK_FALSE(parse_json("").is_ok());
    CHECK_FALSE(parse_json("[1, 2").is_ok());
    CHECK_FALSE(parse_json("\"abc").is_ok());
  }
  SUBCASE("whitespace around the value is fine") {
    CHECK(parse_json(" \n[1]\t ").is_ok());
  }
  SUBCASE("ill-formed UTF-8 in a string is an error") {
    CHECK_FALSE(parse_json("\"\xC0\xAF\"").is_ok());
  }
  SUBCASE("nesting deeper than 512 levels is refused with its location") {
    Result<json> deep = parse_json(std::string(100000, '['));
    REQUIRE_FALSE(deep.is_ok());
    CHECK_MESSAGE(deep.status().message().find("byte 512") != std::string::npos,
                  deep.status().message());
    CHECK(parse_json(std::string(100, '[') + std::string(100, ']')).is_ok());
  }
}

TEST_CASE("json schema: type names, lists, and integer as a number without a fraction") {
  CHECK(check(R"({"type":"integer"})", "5") == "");
  CHECK(check(R"({"type":"integer"})", "5.0") == "");
  CHECK(check(R"({"type":"integer"})", "5.5") == "at /: expected integer, got number");
  CHECK(check(R"({"type":"integer"})", "\"5\"") == "at /: expected integer, got string");
  CHECK(check(R"({"type":"number"})", "-1e3") == "");
  CHECK(check(R"({"type":"string"})", "null") == "at /: expected string, got null");
  CHECK(check(R"({"type":"boolean"})", "false") == "");
  CHECK(check(R"({"type":"null"})", "0") == "at /: expected null, got integer");
  CHECK(check(R"({"type":"array"})", "{}") == "at /: expected array, got object");
  CHECK(check(R"({"type":"object"})", "[]") == "at /: expected object, got array");
  CHECK(check(R"({"type":["string","null"]})", "null") == "");
  CHECK(check(R"({"type":["string","null"]})", "1") ==
        "at /: expected string or null, got integer");
}

TEST_CASE("json schema: enum and const compare JSON values, numbers by value") {
  CHECK(check(R"({"enum":["c","f"]})", "\"c\"") == "");
  CHECK(check(R"({"enum":["c","f"]})", "\"k\"") == "at /: must be one of [\"c\",\"f\"]");
  CHECK(check(R"({"enum":[1,[2],{"a":null}]})", "[2.0]") == "");
  CHECK(check(R"({"const":{"a":1}})", "{\"a\":1}") == "");
  CHECK(check(R"({"const":"x"})", "\"y\"") == "at /: must be \"x\"");
}

TEST_CASE("json schema: numeric bounds, inclusive and exclusive") {
  const std::string s = R"({"type":"number","minimum":10,"maximum":20.5,"exclusiveMaximum":20.5})";
  CHECK(check(s, "10") == "");
  CHECK(check(s, "20.4") == "");
  CHECK(check(s, "9.99") == "at /: 9.99 is less than minimum 10");
  CHECK(check(s, "21") ==
        "at /: 21 is more than maximum 20.5; at /: 21 is not less than exclusiveMaximum 20.5");
  CHECK(check(R"({"exclusiveMinimum":0})", "0") == "at /: 0 is not more than exclusiveMinimum 0");
  CHECK(check(R"({"minimum":-5})", "-5") == "");
  CHECK(check(R"({"maximum":18446744073709551615})", "18446744073709551615") == "");
}

TEST_CASE("json schema: string lengths count code points") {
  CHECK(check(R"({"maxLength":5})", "\"h\u00e9llo\"") == "");
  CHECK(check(R"({"maxLength":5})", "\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"") == "");
  CHECK(check(R"({"maxLength":5})", "\"abcdefg\"") ==
        "at /: has 7 characters, more than maxLength 5");
  CHECK(check(R"({"minLength":3})", "\"\xF0\x9F\x98\x80\"") ==
        "at /: has 1 characters, fewer than minLength 3");
}

TEST_CASE("json schema: arrays, items and their paths") {
  const std::string s = R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})";
  CHECK(check(s, "[1,2,3]") == "");
  CHECK(check(s, "[]") == "at /: has 0 items, fewer than minItems 1");
  CHECK(check(s, "[1,2,3,4]") == "at /: has 4 items, more than maxItems 3");
  CHECK(check(s, "[1,\"x\",3.5]") ==
        "at /1: expected integer, got string; at /2: expected integer, got number");
}

TEST_CASE("json schema: objects, required, properties and additionalProperties") {
  const std::string s = R"({"type":"object",
    "properties":{"city":{"type":"string"},"units":{"enum":["c","f"]},"days":{"type":"integer"}},
    "required":["city"],"additionalProperties":false})";
  CHECK(check(s, R"({"city":"Oslo","units":"c"})") == "");
  CHECK(check(s, R"({"units":"k"})") ==
        "at /: missing required property \"city\"; at /units: must be one of [\"c\",\"f\"]");
  CHECK(check(s, R"({"city":"Oslo","x":1})") == "at /: additional property \"x\" is not allowed");
  CHECK(check(s, R"({"city":"Oslo","days":"3"})") == "at /days: expected integer, got string");
  CHECK(check(R"({"additionalProperties":{"type":"string"}})", R"({"a":"x","b":2})") ==
        "at /b: expected string, got integer");
  CHECK(check(R"({"properties":{"a":{"type":"string"}}})", R"({"z":1})") == "");

  SUBCASE("instance paths escape ~ and / as JSON Pointer says") {
    CHECK(check(R"({"additionalProperties":{"type":"string"}})", R"({"a/b~c":1})") ==
          "at /a~1b~0c: expected string, got integer");
  }
}

TEST_CASE("json schema: anyOf, oneOf and allOf summarise their branches") {
  const std::string any = R"({"anyOf":[{"type":"string"},{"type":"integer","minimum":0}]})";
  CHECK(check(any, "\"x\"") == "");
  CHECK(check(any, "3") == "");
  CHECK(check(any, "-1") ==
        "at /: does not match any alternative of anyOf: (0) expected string, got integer; "
        "(1) -1 is less than minimum 0");
  const std::string one = R"({"oneOf":[{"type":"number"},{"type":"integer"}]})";
  CHECK(check(one, "1.5") == "");
  CHECK(check(one, "1") == "at /: matches 2 alternatives of oneOf (0, 1), exactly one is required");
  CHECK(check(one, "null").find("does not match any alternative of oneOf") != std::string::npos);
  CHECK(check(R"({"allOf":[{"minimum":1},{"maximum":2}]})", "3") ==
        "at /: 3 is more than maximum 2");
}

TEST_CASE("json schema: $ref to the root, $defs and definitions, including recursive trees") {
  const std::string s = R"({"$defs":{"pos":{"type":"integer","minimum":1}},
    "definitions":{"name":{"type":"string"}},
    "properties":{"n":{"$ref":"#/$defs/pos"},"s":{"$ref":"#/definitions/name"},
                  "child":{"$ref":"#"}}})";
  CHECK(check(s, R"({"n":1,"s":"a","child":{"n":2,"child":{"s":"b"}}})") == "");
  CHECK(check(s, R"({"child":{"child":{"n":0}}})") ==
        "at /child/child/n: 0 is less than minimum 1");
  CHECK(check(s, R"({"s":3})") == "at /s: expected string, got integer");
}

TEST_CASE("json schema: boolean schemas") {
  CHECK(check("true", "[1]") == "");
  CHECK(check("false", "1") == "at /: no value is allowed here (schema false)");
  CHECK(check(R"({"properties":{"a":false}})", R"({"a":1})") ==
        "at /a: no value is allowed here (schema false)");
}

TEST_CASE("json schema: check_json_schema names the schema path of a malformed keyword") {
  auto message = [](const std::string& schema) {
    Status s = check_json_schema(parse(schema));
    return s.is_ok() ? std::string("ok") : s.message();
  };
  CHECK(message(R"({"type":"object","properties":{"a":{"type":"string"}}})") == "ok");
  CHECK(message(R"({"properties":{"n":{"type":"int"}}})") ==
        "schema at /properties/n/type: unknown type \"int\"");
  CHECK(message(R"({"type":7})") ==
        "schema at /type: must be a type name or a non-empty array of them");
  CHECK(message(R"({"required":["a",1]})") == "schema at /required/1: must be a string");
  CHECK(message(R"({"required":"a"})") == "schema at /required: must be an array of strings");
  CHECK(message(R"({"minimum":"3"})") == "schema at /minimum: must be a number");
  CHECK(message(R"({"exclusiveMinimum":true})").find("draft 4") != std::string::npos);
  CHECK(message(R"({"maxLength":-1})") == "schema at /maxLength: must be a non-negative integer");
  CHECK(message(R"({"maxItems":1.5})") == "schema at /maxItems: must be a non-negative integer");
  CHECK(message(R"({"anyOf":[]})") == "schema at /anyOf: must be a non-empty array of schemas");
  CHECK(message(R"({"items":[{}]})").find("schema at /items:") == 0);
  CHECK(message(R"({"properties":{"a":3}})") ==
        "schema at /properties/a: a schema must be an object or a boolean");
  CHECK(message(R"({"$ref":"#/$defs/missing"})").find("schema at /$ref: cannot resolve") == 0);
  CHECK(message(R"({"$ref":"http://example.com/s.json"})").find("cannot resolve") !=
        std::string::npos);
  CHECK(message("3") == "schema at /: a schema must be an object or a boolean");
  CHECK(message(R"({"title":3,"description":[],"x-anything":{}})") == "ok");

  SUBCASE("a $ref cycle that never reaches the instance is refused, a recursive tree is fine") {
    CHECK(message(R"({"$ref":"#"})").find("$ref cycle") != std::string::npos);
    CHECK(message(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}},
                      "$ref":"#/$defs/a"})")
              .find("$ref cycle") != std::string::npos);
    CHECK(message(R"({"properties":{"next":{"$ref":"#"}}})") == "ok");
  }
  SUBCASE("a malformed schema is reported by validate_json as one violation at the root") {
    std::vector<SchemaViolation> v = validate_json(parse(R"({"type":"int"})"), json(1));
    REQUIRE(v.size() == 1);
    CHECK(v[0].instance_path == "");
    CHECK(v[0].message.find("unknown type \"int\"") != std::string::npos);
  }
}

TEST_CASE("json schema: deep nesting is an error, not a crash") {
  json schema = json::object();
  for (int i = 0; i < 200; ++i) schema = json{{"items", schema}};
  Status s = check_json_schema(schema);
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.message().find("nested deeper than 64 levels") != std::string::npos);

  // A recursive schema follows the instance; a deep instance stops at the evaluation limit.
  json tree = json::parse(R"({"type":"array","items":{"$ref":"#"}})");
  json deep = json::array();
  for (int i = 0; i < 400; ++i) deep = json::array({deep});
  std::vector<SchemaViolation> v = validate_json(tree, deep);
  REQUIRE(v.size() == 1);
  CHECK(v[0].message.find("nested deeper than") != std::string::npos);
}

TEST_CASE("json schema: describe_violations joins one line for people and models") {
  CHECK(describe_violations({}) == "");
  CHECK(describe_violations({{"/units", "must be one of [\"c\",\"f\"]"}, {"", "x"}}) ==
        "at /units: must be one of [\"c\",\"f\"]; at /: x");
}

TEST_CASE("json schema: resolve_schema_ref follows local JSON Pointers only") {
  json root = parse(R"({"$defs":{"a/b":{"type":"string"}},"definitions":{"x":true}})");
  CHECK(resolve_schema_ref(root, "#") == &root);
  CHECK(resolve_schema_ref(root, "#/$defs/a~1b") == &root["$defs"]["a/b"]);
  CHECK(resolve_schema_ref(root, "#/definitions/x") == &root["definitions"]["x"]);
  CHECK(resolve_schema_ref(root, "#/definitions/y") == nullptr);
  CHECK(resolve_schema_ref(root, "other.json#") == nullptr);
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
