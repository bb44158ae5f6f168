// Agent: one AgentSpec bound to an Engine, a ToolRegistry and an AgentStore, and the loop that
// runs it.
//
// A run: render -> generate (thinking budget) -> parse -> policy -> run approved tools in
// parallel -> append results -> repeat, until a final answer or a limit. Stop reasons:
// final, max_steps, max_tool_calls, token_budget, timeout, policy_denied, error, cancelled.
// Durability: each call is recorded as running before its tool executes and its result when it
// ends; each step is committed (assistant message, tool results, audit rows) before the next
// begins. A run killed at any point resumes with RunOptions::resume_run_id: completed calls are
// never executed again (their stored results are reused) and a call that was running is
// reported to the model as interrupted, not retried.
// Tool results enter the prompt wrapped as untrusted data (tools/untrusted.h); everything is
// redacted (policies/redactor.h) before it is stored or logged.
//
// The Agent borrows its Engine, ToolRegistry and AgentStore; they must outlive it. One run at a
// time per Agent (the engine and the store are not thread-safe).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/agent_spec.h"
#include "core/status.h"
#include "engine/engine.h"
#include "memory/agent_store.h"
#include "policies/policy.h"
#include "policies/redactor.h"
#include "tools/tool_registry.h"

namespace r1 {

struct AgentEvent {
  enum class Kind {
    kRunStart,        // run_id, text = input
    kStepStart,       // step
    kReasoning,       // text = delta
    kContent,         // text = delta
    kToolCall,        // call (parsed and valid)
    kToolCallError,   // text = what was wrong (fed back to the model)
    kPolicyDecision,  // call, decision (allow | deny | ask), reason
    kToolResult,      // call, status (ok | error | denied | timeout | interrupted), text = result
    kFinal,           // stop_reason, text = answer (may be empty when not "final")
  };
  Kind kind = Kind::kRunStart;
  std::string run_id;
  int32_t step = 0;
  std::string text;
  ToolCall call;
  std::string decision;
  std::string reason;
  std::string status;
  std::string stop_reason;
  std::vector<std::string> citations;  // kToolResult: "[n] source" of passages it returned
  nlohmann::json to_json() const;  // one object per event, for `r1 run --events json`
};
const char* agent_event_kind_name(AgentEvent::Kind kind);

using AgentEventCallback = std::function<void(const AgentEvent&)>;
// Asked when a policy says "ask"; returns true to approve. Called on the run's thread.
using ApprovalCallback = std::function<bool(const ToolCall& call, const std::string& reason)>;

struct RunOptions {
  std::string input;                          // the user's message
  std::map<std::string, std::string> inputs;  // values for {placeholders} in the instructions
  std::string session_id;                     // continue this session; "" = memory.session decides
  std::string resume_run_id;  // resume this interrupted run (input and session come from it)
  AgentEventCallback on_event;
  ApprovalCallback approve;  // null: "ask" decisions are denied (nobody can answer)
  const std::atomic<bool>* cancelled = nullptr;
};

struct RunResult {
  std::string run_id;
  std::string session_id;
  std::string stop_reason;
  std::string answer;  // the final answer ("" unless stop_reason is "final")
  std::string error;   // stop_reason "error": what went wrong
  int32_t steps = 0;
  int32_t tool_calls = 0;
  int64_t tokens = 0;  // generated, thinking included
};

class Agent {
 public:
  // Checks the spec against the registry (every tool the spec names is registered) and builds
  // its policy and redactor. kInvalidArgument naming the tool or pattern otherwise.
  static Result<std::unique_ptr<Agent>> create(const AgentSpec& spec, Engine& engine,
                                               const ToolRegistry& tools, AgentStore& store);

  // Runs until a stop reason. Returns an error only when the run cannot be started or recorded
  // (bad session or run id, database failure); everything else ends in a RunResult.
  Result<RunResult> run(const RunOptions& options);

  const AgentSpec& spec() const { return spec_; }

 private:
  Agent(const AgentSpec& spec, Engine& engine, const ToolRegistry& tools, AgentStore& store,
        Policy policy, Redactor redactor);

  AgentSpec spec_;
  Engine& engine_;
  const ToolRegistry& tools_;
  AgentStore& store_;
  Policy policy_;
  Redactor redactor_;
};

// The spec's policies section as a Policy.
Policy policy_from_spec(const PolicySpecYaml& spec);

}  // namespace r1
