// Command tools: run a program with an argument vector (never a shell).
//
// The program named by argv[0] must be a bare name (no '/'), is looked up on PATH=/usr/bin:/bin
// and must be on the allowlist. The child gets a scrubbed environment (PATH=/usr/bin:/bin and
// LANG=C.UTF-8, nothing else; under bwrap also PWD, which bwrap always sets), stdin from /dev/null,
// its own process group (killed with SIGKILL on timeout or cancellation), and runs in the bwrap
// sandbox when available (tools/sandbox.h). Output is stdout then stderr, each capped; the text
// starts with "exit code N".
//
// Declared command tools fill an argv template: "{param}" placeholders inside an element are
// replaced by the argument's value, and each element stays exactly one argv element whatever
// the value holds (spaces, quotes, ';' are inert). A value for an element that is exactly
// "{param}" may not start with '-' unless "--" comes earlier in the template (option injection).
// An element that is exactly "{param}" for an absent optional parameter is dropped.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "tools/tool.h"

namespace r1 {

struct CommandOptions {
  std::vector<std::string> allow;    // program names, e.g. {"wc", "grep"}; empty = nothing
  double timeout_s = 10;             // s
  int64_t max_output_bytes = 65536;  // bytes of stdout + stderr kept
  // Directory the program runs in (bound read-only inside the sandbox); "" = a private /tmp.
  std::string workdir;
};

// Tool "command": arguments {"argv": [string, ...]} (argv[0] is the program).
Tool make_command_tool(CommandOptions options);

// A declared command tool. kInvalidArgument for a bad name or schema, an empty template, a
// program that is not a bare name or not found on PATH, or a placeholder naming no parameter.
Result<Tool> make_declared_command_tool(const std::string& name, const std::string& description,
                                        const nlohmann::json& parameters,
                                        std::vector<std::string> argv_template,
                                        double timeout_s = 10, int64_t max_output_bytes = 65536,
                                        const std::string& workdir = "");

// Looks `program` (a bare name) up in /usr/bin:/bin. kNotFound / kInvalidArgument otherwise.
Result<std::string> resolve_program(const std::string& program);

}  // namespace r1
