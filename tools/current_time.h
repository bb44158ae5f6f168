// The `current_time` tool: the current date and time, in ISO 8601.
//
// Arguments: {"timezone": "utc" | "local"} (optional; default: both are returned). Output is a
// JSON object: {"utc": "2025-01-31T09:30:00Z", "local": "2025-01-31T10:30:00+01:00",
// "unix": 1738315800}. "local" is the zone of this process (TZ / /etc/localtime); named zones
// are not offered. Thread-safe.
#pragma once

#include "tools/tool.h"

namespace r1 {

Tool make_current_time_tool();

}  // namespace r1
