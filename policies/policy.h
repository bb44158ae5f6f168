// Policies: pure decisions about tool calls and run budgets. No I/O, no clocks, no state.
//
// decide() judges one call in this order, first match wins:
//   1. the tool is on `deny`                                  -> kDeny  ("denied by policy")
//   2. the tool is on `allow`                                 -> go to 4 (skips 3)
//   3. deny_by_default                                        -> kDeny  ("not on the allow list")
//   4. every ArgumentRule for this tool holds                 -> else kDeny naming the rule
//   5. approval (per tool, else approval_default) is kAlways  -> kAsk
//   6.                                                        -> kAllow
// Argument rules: `arg` names a top-level argument (or a JSON Pointer when it starts with '/').
// A rule on a missing or wrong-typed argument denies. path_prefix: the path, lexically
// normalised (".", "//" and "a/.." folded), must equal a prefix or lie beneath it component by
// component ("notes" admits "notes/a.txt", not "notes2/a.txt"); a ".." that climbs above the
// start is a deny. hosts: the URL is parsed with tools/url.h (the same parser http_get uses) and
// its host must equal an allowed host or be a subdomain of one. min/max: the number must lie in
// [min, max]. Wildcard "*" in allow/deny names every tool.
// Thread-safe (pure functions over values).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace r1 {

struct ArgumentRule {
  std::string tool;                      // tool name the rule applies to
  std::string arg;                       // argument name, or a JSON Pointer ("/options/path")
  std::vector<std::string> path_prefix;  // allowed path prefixes (relative or absolute)
  std::vector<std::string> hosts;        // allowed URL hosts (subdomains included)
  std::optional<double> min, max;        // inclusive numeric bounds
};

struct Policy {
  bool deny_by_default = false;
  std::vector<std::string> allow, deny;  // tool names; "*" = all
  enum class Approval { kNever, kAlways };
  Approval approval_default = Approval::kNever;
  std::map<std::string, Approval> approval;  // per tool; overrides approval_default
  std::vector<ArgumentRule> rules;
};

struct Decision {
  enum class Kind { kAllow, kDeny, kAsk };
  Kind kind = Kind::kAllow;
  std::string reason;  // one line for the model, the events and the audit log
};

// Judges a call of `tool` with `args` (the parsed arguments object) under `policy`.
Decision decide(const Policy& policy, const std::string& tool, const nlohmann::json& args);

// "allow" | "deny" | "ask".
const char* decision_kind_name(Decision::Kind kind);

struct RunCounters {
  int32_t steps = 0;       // steps started so far
  int32_t tool_calls = 0;  // tool calls executed so far
  int64_t tokens = 0;      // tokens generated so far, thinking included
  double elapsed_s = 0;    // s since the run started
};

// A limit of 0 (or less) means no limit.
struct Budgets {
  int32_t max_steps = 0;
  int32_t max_tool_calls = 0;
  int64_t max_tokens = 0;
  double timeout_s = 0;  // s
};

// The stop reason when a counter has reached its limit (counter >= limit), checked in this
// order: "max_steps", "max_tool_calls", "token_budget", "timeout". nullopt while all are under.
// Call it before starting a step (and before each tool call for max_tool_calls).
std::optional<std::string> exceeded_budget(const Budgets& budgets, const RunCounters& counters);

}  // namespace r1
