// Tool: a named function the model may call, described by a JSON Schema.
//
// A Tool is a plain value: its name, a description for the model, the JSON Schema of its
// arguments (an object schema), a handler, and the limits the registry enforces when it runs
// (wall time, output size). Handlers receive arguments that already satisfy `parameters` and a
// ToolContext whose `cancelled` flag they should poll in long loops; the registry sets it when
// the call times out or the caller cancels. A handler must be safe to call from several threads
// at once (the agent runs approved calls in parallel) and must not assume it runs on the
// caller's thread.
//
// Expected failures (file not found, host not allowed) are returned as ToolOutput with
// is_error = true and a message the model can act on; a non-OK Result means the handler itself
// broke (the registry turns both into an error output, so the model sees text either way).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace r1 {

struct ToolContext {
  const std::atomic<bool>* cancelled = nullptr;  // may be null: never cancelled
  // Absolute deadline of the whole run; the registry stops the call at the earlier of this and
  // the tool's own timeout. time_point::max() = none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string session_id;
  std::string run_id;

  bool is_cancelled() const {
    return (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) ||
           std::chrono::steady_clock::now() >= deadline;
  }
  // Seconds left before `deadline` (a large number when there is none; never negative).
  double seconds_left() const;
};

struct ToolOutput {
  std::string content;  // UTF-8 text for the model (JSON or prose)
  bool is_error = false;
  // Optional facts for events and the audit log, never shown to the model: e.g.
  // {"sandbox": "bwrap"|"none", "timed_out": true, "truncated_bytes": 1234, "exit_code": 0}.
  nlohmann::json metadata;
};

using ToolHandler =
    std::function<Result<ToolOutput>(const nlohmann::json& args, const ToolContext& ctx)>;

struct Tool {
  std::string name;         // [A-Za-z0-9_.-]{1,64}
  std::string description;  // for the model: what it does, what it returns, its limits
  nlohmann::json parameters = nlohmann::json::object();  // JSON Schema of the arguments object
  ToolHandler handler;
  double timeout_s = 30;             // s, wall time per call
  int64_t max_output_bytes = 65536;  // bytes of `content`; longer output is cut and noted
};

// Helpers for handlers.
inline ToolOutput tool_ok(std::string content) {
  return ToolOutput{std::move(content), false, {}};
}
inline ToolOutput tool_error(std::string content) {
  return ToolOutput{std::move(content), true, {}};
}

}  // namespace r1
