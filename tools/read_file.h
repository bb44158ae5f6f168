// The `read_file` tool: reads a UTF-8 text file beneath a root directory.
//
// Arguments: {"path": string (relative to the root), "offset": integer >= 0 (bytes, optional)}.
// Returns up to `max_bytes` bytes from `offset`; when the file is longer, the output ends with a
// note giving the file size and the offset to continue from. Paths are confined with
// ConfinedRoot (no `..`, absolute path or symlink escape). Binary files (not valid UTF-8, or
// containing NUL) are refused. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "tools/tool.h"

namespace r1 {

// `root` is opened when the tool is made; a missing root yields a tool whose calls all fail
// with a message naming it (so an agent spec loads, and the model learns why).
Tool make_read_file_tool(const std::string& root, int64_t max_bytes = 65536);

}  // namespace r1
