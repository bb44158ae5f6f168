// libFuzzer target for JSON parsing and JSON Schema validation. The input is split at the first
// NUL byte into a schema text and an instance text (no NUL: the whole input is both). Any input
// must parse or fail with a Status; check_json_schema, validate_json and describe_violations must
// then run to completion under ASan/UBSan without crashing or recursing without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\0');
  std::string_view schema_text = input.substr(0, split);
  std::string_view instance_text =
      split == std::string_view::npos ? input : input.substr(split + 1);

  auto schema = r1::parse_json(schema_text);
  auto instance = r1::parse_json(instance_text);
  if (!schema.is_ok()) {
    if (schema.status().message().empty()) __builtin_trap();  // errors always say something
    return 0;
  }
  r1::Status checked = r1::check_json_schema(schema.value());
  if (!instance.is_ok()) return 0;
  std::vector<r1::SchemaViolation> v = r1::validate_json(schema.value(), instance.value());
  // A malformed schema is reported as exactly one violation at the root.
  if (!checked.is_ok() && (v.size() != 1 || !v[0].instance_path.empty())) __builtin_trap();
  volatile size_t sink = r1::describe_violations(v).size();
  (void)sink;
  return 0;
}
