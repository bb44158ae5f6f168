// libFuzzer target for the AgentSpec loader. Seeds: tests/data/agents/good and
// tests/data/agents/bad (copy both into a corpus directory). Any input must load or fail with a
// Status whose message is "FILE:LINE:COLUMN: ..." — never crash, hang or leak under ASan/UBSan.
// When it loads, rendering the instructions and converting the document to JSON must also hold.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "agent/agent_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  r1::Result<r1::AgentSpec> spec = r1::parse_agent_spec(text, "fuzz.yaml");
  if (!spec.is_ok()) {
    const std::string& msg = spec.status().message();
    // Every failure is located: "fuzz.yaml:LINE:COLUMN: ...".
    if (msg.rfind("fuzz.yaml:", 0) != 0) __builtin_trap();
    if (spec.status().code() != r1::StatusCode::kInvalidArgument) __builtin_trap();
  } else {
    const r1::AgentSpec& s = spec.value();
    if (s.name.empty() || s.name.size() > 64) __builtin_trap();
    r1::Result<std::string> rendered = r1::render_instructions(s, {});
    volatile size_t sink = rendered.is_ok() ? rendered.value().size() : 0;
    for (const r1::ToolRef& t : s.tools) sink = sink + t.parameters.dump().size();
    sink = sink + s.tool_options.dump().size();
    (void)sink;
  }
  r1::Result<nlohmann::json> doc = r1::agent_yaml_to_json(text, "fuzz.yaml");
  if (doc.is_ok()) {
    volatile size_t n = doc.value().dump().size();
    (void)n;
  } else if (spec.is_ok()) {
    __builtin_trap();  // a spec that loads is also valid JSON-shaped YAML
  }
  return 0;
}
