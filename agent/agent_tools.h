// The tools an agent gets: built-ins by name (configured by the spec's tool_options), tools
// declared in its YAML (http, command), tools the embedding program registered, its
// sub-agents, and long-term memory (remember/recall) over the agent database.
//
// Only the tools the spec names are built. Built-in names: calculator, current_time,
// read_file, list_dir (option root, default "."), http_get (allow_hosts, max_bytes, timeout_s),
// sqlite_query (db), command (allow, timeout_s, max_output_bytes), remember, recall.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/agent_spec.h"
#include "core/status.h"
#include "memory/agent_store.h"
#include "tools/fact_store.h"
#include "tools/tool_registry.h"

namespace r1 {

// Long-term facts in the agent database, scoped by agent name; its own connection, so tool
// threads never share the agent loop's. Thread-safe.
class MemoryFactStore : public FactStore {
 public:
  static Result<std::unique_ptr<MemoryFactStore>> open(const std::string& db_path,
                                                       const std::string& scope);
  Result<int64_t> remember(const std::string& text) override;
  Result<std::vector<std::string>> recall(const std::string& query, int k) override;

 private:
  MemoryFactStore(std::unique_ptr<AgentStore> store, std::string scope)
      : store_(std::move(store)), scope_(std::move(scope)) {}
  std::mutex mu_;
  std::unique_ptr<AgentStore> store_;
  std::string scope_;
};

// Makes the tool for one sub-agent (the runtime runs it as a nested agent).
using SubAgentToolFactory = std::function<Result<Tool>(const SubAgentSpec&)>;

// The registry for `spec`. `registered`: tools from the embedding program (used when named).
// `facts` may be null when the spec names neither remember nor recall. kInvalidArgument naming
// the tool for an unknown name or bad options.
Result<std::unique_ptr<ToolRegistry>> make_agent_tools(const AgentSpec& spec,
                                                       const std::vector<Tool>& registered,
                                                       FactStore* facts,
                                                       const SubAgentToolFactory& sub_agents);

}  // namespace r1
