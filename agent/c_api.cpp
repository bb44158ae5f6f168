#include "agent/c_api.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/runtime.h"
#include "core/json_schema.h"

struct r1_runtime {
  r1::Runtime runtime;
  explicit r1_runtime(int threads) : runtime(r1::RuntimeOptions{threads}) {}
};

namespace {

char* dup_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

int fail(const r1::Status& st, char** error) {
  if (error) *error = dup_string(st.message());
  return st.exit_code() == 0 ? 1 : st.exit_code();
}

}  // namespace

extern "C" {

r1_runtime* r1_runtime_new(int threads) {
  try {
    return new r1_runtime(threads);
  } catch (...) {
    return nullptr;
  }
}

void r1_runtime_free(r1_runtime* rt) {
  delete rt;
}

void r1_string_free(char* s) {
  std::free(s);
}

int r1_runtime_register_tool(r1_runtime* rt, const char* name, const char* description,
                             const char* parameters_schema_json, r1_tool_fn fn, void* user_data,
                             char** error) {
  if (!rt || !name || !fn)
    return fail(r1::Status::invalid("runtime, name and fn are required"), error);
  r1::Tool tool;
  tool.name = name;
  tool.description = description ? description : "";
  if (parameters_schema_json) {
    r1::Result<nlohmann::json> schema = r1::parse_json(parameters_schema_json);
    if (!schema)
      return fail(r1::Status::invalid("parameters: " + schema.status().message()), error);
    tool.parameters = *schema;
  }
  tool.handler = [fn, user_data](const nlohmann::json& args,
                                 const r1::ToolContext&) -> r1::Result<r1::ToolOutput> {
    char* out = nullptr;
    const int rc = fn(args.dump().c_str(), user_data, &out);
    std::string text = out ? out : "";
    std::free(out);
    return rc == 0 ? r1::tool_ok(text) : r1::tool_error(text.empty() ? "the tool failed" : text);
  };
  r1::Status st = rt->runtime.register_tool(std::move(tool));
  return st ? 0 : fail(st, error);
}

int r1_run(r1_runtime* rt, const char* agent_yaml_path, const char* input, const char* session_id,
           r1_event_fn on_event, void* user_data, char** result_json, char** error) {
  if (!rt || !agent_yaml_path)
    return fail(r1::Status::invalid("runtime and agent path are required"), error);
  try {
    r1::Result<r1::AgentSpec> spec = rt->runtime.load_agent(agent_yaml_path);
    if (!spec) return fail(spec.status(), error);
    r1::RunOptions o;
    o.input = input ? input : "";
    o.session_id = session_id ? session_id : "";
    if (on_event) {
      o.on_event = [on_event, user_data](const r1::AgentEvent& e) {
        const std::string j =
            e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        on_event(j.c_str(), user_data);
      };
    }
    r1::Result<r1::RunResult> r = rt->runtime.run(*spec, o);
    if (!r) return fail(r.status(), error);
    if (result_json) {
      nlohmann::json j = {{"run_id", r->run_id},
                          {"session_id", r->session_id},
                          {"stop_reason", r->stop_reason},
                          {"answer", r->answer},
                          {"error", r->error},
                          {"steps", r->steps},
                          {"tool_calls", r->tool_calls},
                          {"tokens", r->tokens}};
      *result_json = dup_string(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    return 0;
  } catch (const std::exception& e) {
    return fail(r1::Status::internal(e.what()), error);
  }
}

}  // extern "C"
