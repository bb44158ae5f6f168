// Registering your own tool in a few lines: an order lookup the agent may call.
//   build/examples/custom_tool examples/orders.yaml "Where is order 1234?"
#include <cstdio>
#include <map>

#include "agent/runtime.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s AGENT.yaml QUESTION\n", argv[0]);
    return 2;
  }
  static const std::map<int, std::string> orders = {
      {1234, "shipped on 2026-11-20, arriving Friday"}, {5678, "waiting for payment"}};
  r1::Runtime runtime;
  r1::Tool lookup;
  lookup.name = "lookup_order";
  lookup.description = "Finds the status of an order by its number";
  lookup.parameters = {{"type", "object"},
                       {"properties", {{"order_id", {{"type", "integer"}, {"minimum", 1}}}}},
                       {"required", {"order_id"}}};
  lookup.handler = [](const nlohmann::json& args,
                      const r1::ToolContext&) -> r1::Result<r1::ToolOutput> {
    auto it = orders.find(args.at("order_id").get<int>());
    if (it == orders.end()) return r1::tool_error("no such order");
    return r1::tool_ok("order " + std::to_string(it->first) + ": " + it->second);
  };
  if (r1::Status st = runtime.register_tool(lookup); !st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 2;
  }
  r1::Result<r1::AgentSpec> spec = runtime.load_agent(argv[1]);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.status().message().c_str());
    return 2;
  }
  r1::RunOptions run;
  run.input = argv[2];
  run.on_event = [](const r1::AgentEvent& e) {
    if (e.kind == r1::AgentEvent::Kind::kToolCall || e.kind == r1::AgentEvent::Kind::kToolResult)
      std::puts(e.to_json().dump().c_str());
  };
  r1::Result<r1::RunResult> result = runtime.run(*spec, run);
  if (!result) {
    std::fprintf(stderr, "%s\n", result.status().message().c_str());
    return 1;
  }
  std::printf("answer (%s, %d tool calls): %s\n", result->stop_reason.c_str(), result->tool_calls,
              result->answer.c_str());
  return result->stop_reason == "final" && result->tool_calls > 0 ? 0 : 1;
}
