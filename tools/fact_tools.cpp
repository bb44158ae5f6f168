#include "tools/fact_tools.h"

namespace r1 {

Tool make_remember_tool(FactStore& store) {
  Tool t;
  t.name = "remember";
  t.description =
      "Stores a fact in long-term memory so later conversations can recall it. "
      "Write it as a self-contained sentence.";
  t.parameters = {
      {"type", "object"},
      {"properties", {{"text", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4000}}}}},
      {"required", {"text"}},
      {"additionalProperties", false}};
  t.timeout_s = 10;
  FactStore* s = &store;
  t.handler = [s](const nlohmann::json& args, const ToolContext&) -> Result<ToolOutput> {
    Result<int64_t> id = s->remember(args.at("text").get<std::string>());
    if (!id) return tool_error("could not remember: " + id.status().message());
    ToolOutput out = tool_ok("remembered as fact #" + std::to_string(id.value()));
    out.metadata["fact_id"] = id.value();
    return out;
  };
  return t;
}

Tool make_recall_tool(FactStore& store) {
  Tool t;
  t.name = "recall";
  t.description =
      "Searches long-term memory and returns the stored facts most relevant to the "
      "query, best first, as a JSON array of strings.";
  t.parameters = {{"type", "object"},
                  {"properties",
                   {{"query", {{"type", "string"}, {"minLength", 1}}},
                    {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}}}}},
                  {"required", {"query"}},
                  {"additionalProperties", false}};
  t.timeout_s = 10;
  FactStore* s = &store;
  t.handler = [s](const nlohmann::json& args, const ToolContext&) -> Result<ToolOutput> {
    int k = args.value("k", 5);
    Result<std::vector<std::string>> facts = s->recall(args.at("query").get<std::string>(), k);
    if (!facts) return tool_error("could not recall: " + facts.status().message());
    nlohmann::json arr = facts.value();
    return tool_ok(arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  return t;
}

}  // namespace r1
