// The `list_dir` tool: lists a directory beneath a root directory.
//
// Arguments: {"path": string (relative to the root; default ".")}. Output: one entry per line,
// sorted by name, directories with a trailing '/', files with their size in bytes, symbolic
// links as "name -> (link)". At most `max_entries` entries, then a note with the number left
// out. Confined with ConfinedRoot. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "tools/tool.h"

namespace r1 {

Tool make_list_dir_tool(const std::string& root, int32_t max_entries = 1000);

}  // namespace r1
