// JSON parsing with located errors, and validation of JSON values against a JSON Schema.
//
// Used wherever outside JSON is read: tool-call arguments, tool lists, HTTP bodies. Pure
// functions over nlohmann::json values; thread-safe. No exceptions escape: nlohmann's are caught
// here and turned into a Status.
//
// Supported keywords (others are ignored, as JSON Schema says unknown keywords must be):
// type (a name or a list), enum, const, properties, required, additionalProperties (bool or
// schema), items (a schema), minItems, maxItems, minLength, maxLength (in Unicode code points),
// minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, draft 6+ form), anyOf, oneOf,
// allOf, $ref to "#", "#/$defs/NAME" or "#/definitions/NAME". The boolean schemas true/false.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

// Parses JSON text. On failure: kInvalidArgument whose message says what was wrong and where
// ("line 1, column 17 (byte 16): unexpected '}'"). Trailing non-whitespace text is an error.
Result<nlohmann::json> parse_json(std::string_view text);

struct SchemaViolation {
  std::string instance_path;  // JSON Pointer into the instance: "" is the root, "/items/2"
  std::string message;  // e.g. "expected integer, got string", "missing required property \"city\""
};

// Every violation of `schema` by `instance`, in document order; empty when the instance is valid.
// A malformed schema (e.g. "type": 7) yields a violation at "" naming the schema keyword.
std::vector<SchemaViolation> validate_json(const nlohmann::json& schema,
                                           const nlohmann::json& instance);

// One line for people and models: "at /units: must be one of [\"c\",\"f\"]; at /days: ...".
std::string describe_violations(const std::vector<SchemaViolation>& violations);

// Checks that `schema` is a well-formed schema in the supported subset: kInvalidArgument naming
// the schema path (e.g. "schema at /properties/n/type: unknown type \"int\"") otherwise.
// Nested schemas (and $ref chains) deeper than this are rejected by check_json_schema.
constexpr int32_t kMaxSchemaDepth = 64;
Status check_json_schema(const nlohmann::json& schema);

// The schema a local reference names: "#", "#/$defs/NAME", "#/definitions/NAME" or any other
// JSON Pointer fragment into `root` ("~0" / "~1" unescaped). nullptr when it names nothing.
const nlohmann::json* resolve_schema_ref(const nlohmann::json& root, std::string_view ref);

}  // namespace r1
