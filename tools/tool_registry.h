// ToolRegistry: the tools an agent may call, and the one place where a call is executed.
//
// run() turns every failure into an is_error ToolOutput whose text the model can act on: an
// unknown tool (the known names are listed), arguments that are not JSON (with line/column),
// arguments that violate the tool's schema (each violation with its JSON Pointer), a handler
// error or exception, a timeout. It never throws and never blocks past the call's time limit.
//
// Threading: add() must not race with other calls (register tools before running). find(),
// list() and run() are const and safe to call concurrently from many threads.
//
// Timeouts and lifetime: each call runs its handler on a thread of its own. When the time limit
// (the earlier of Tool::timeout_s and ToolContext::deadline) passes or the caller's cancelled
// flag is set, run() sets the cancelled flag the handler sees and returns "timed out after N s"
// (or "cancelled") at once, leaving the handler thread to finish in the background. That thread
// owns copies of the handler, the arguments and the context strings, so it never touches the
// registry or the caller's stack. What the handler itself captured by reference (a FactStore,
// a database) must outlive it: the registry's destructor waits for every abandoned handler to
// return, so anything that outlives the registry is safe. Handlers must therefore honour
// cancellation (poll ctx.is_cancelled() or use a blocking call with its own timeout).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tools/tool.h"

namespace r1 {

class ToolRegistry {
 public:
  ToolRegistry();
  ~ToolRegistry();  // waits for abandoned (timed-out) handlers to return
  ToolRegistry(const ToolRegistry&) = delete;
  ToolRegistry& operator=(const ToolRegistry&) = delete;

  // Adds a tool. kInvalidArgument (registry unchanged) for a duplicate name, a name outside
  // [A-Za-z0-9_.-]{1,64}, a missing handler, a non-positive timeout or output cap, or a
  // malformed parameters schema (the message names the tool and the schema path).
  Status add(Tool tool);

  // The tool named `name`, or nullptr. Pointers stay valid until the registry is destroyed.
  const Tool* find(const std::string& name) const;

  // Every tool, in the order added.
  std::vector<const Tool*> list() const;

  // Parses `arguments_json` (empty text means {}), validates it against the tool's schema and
  // runs the handler with the time limit and output cap described above. Always returns an
  // output; is_error marks failures. metadata gains "duration_ms" and, when relevant,
  // "timed_out", "cancelled" and "truncated_bytes".
  ToolOutput run(const std::string& name, const std::string& arguments_json,
                 const ToolContext& ctx) const;

 private:
  struct InFlight;  // count of abandoned handler threads, shared with them
  std::vector<std::unique_ptr<Tool>> tools_;
  std::shared_ptr<InFlight> in_flight_;
};

// Cuts `text` to at most `max_bytes` bytes at a UTF-8 character boundary, silently. Returns the
// number of bytes dropped.
int64_t cut_utf8(std::string& text, int64_t max_bytes);

// Cuts `text` to at most `max_bytes` bytes at a UTF-8 character boundary and appends
// "\n[truncated N bytes]" when anything was dropped. Returns the number of bytes dropped.
int64_t truncate_utf8(std::string& text, int64_t max_bytes);

// Length of the longest prefix of `text` that is valid UTF-8 (text.size() when all of it is).
size_t valid_utf8_prefix(std::string_view text);

// True when `name` matches [A-Za-z0-9_.-]{1,64}.
bool is_valid_tool_name(const std::string& name);

}  // namespace r1
