// Runtime: the public C++ API for embedding r1. Load YAML agents, register your own tools, run
// agents and stream their events.
//
//   r1::Runtime rt;
//   rt.register_tool({"lookup_order", "Finds an order by id", schema, handler});
//   r1::Result<r1::AgentSpec> spec = rt.load_agent("support.yaml");
//   r1::RunOptions run;
//   run.input = "Where is order 1234?";
//   run.on_event = [](const r1::AgentEvent& e) { std::puts(e.to_json().dump().c_str()); };
//   r1::Result<r1::RunResult> result = rt.run(*spec, run);
//
// Models, engines and agent databases are opened on first use and kept for later runs (a
// second run of the same agent reuses the loaded model and its cached prompt prefix). Runs are
// serialised per engine; register tools before the first run. Sub-agents run through the same
// runtime as tools of their parent (nesting depth at most 4).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_spec.h"
#include "agent/agent_tools.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/model.h"
#include "memory/agent_store.h"
#include "tools/tool.h"

namespace r1 {

struct RuntimeOptions {
  int threads = 0;  // CPU threads for native engines; 0 = all cores
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // A tool agents may name in their `tools:` list. kInvalidArgument for a bad name, a duplicate
  // or a malformed schema.
  Status register_tool(Tool tool);

  // load_agent_spec (errors name file, line and column).
  Result<AgentSpec> load_agent(const std::string& path) const;

  // Runs `spec` to a stop reason (see agent/agent.h). Errors: the model or database cannot be
  // opened, a tool cannot be built, the session or run to resume does not exist.
  Result<RunResult> run(const AgentSpec& spec, const RunOptions& options);

  // The agent database a spec uses (memory.db, or the default path).
  static std::string db_path_for(const AgentSpec& spec);

  // For tests and custom backends: use `engine` for every agent instead of building one from
  // the spec's model section. The engine must outlive the runtime.
  void set_engine(Engine* engine) { engine_override_ = engine; }

 private:
  class LockedEngine;
  Result<Engine*> engine_for(const ModelSpec& model);
  Result<AgentStore*> store_for(const std::string& path, int depth);
  Result<FactStore*> facts_for(const std::string& path, const std::string& scope);
  Result<RunResult> run_nested(const AgentSpec& spec, const RunOptions& options, int depth);

  RuntimeOptions options_;
  std::mutex mu_;  // guards the maps below
  std::vector<Tool> registered_;
  std::unique_ptr<ThreadPool> pool_;
  std::map<std::string, std::unique_ptr<Model>> models_;
  std::map<std::string, std::unique_ptr<LockedEngine>> engines_;
  std::map<std::string, std::unique_ptr<AgentStore>> stores_;
  std::map<std::string, std::unique_ptr<MemoryFactStore>> facts_;
  Engine* engine_override_ = nullptr;
};

}  // namespace r1
