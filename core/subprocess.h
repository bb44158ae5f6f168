// Runs a child process with an argument vector (no shell, so no quoting pitfalls) and waits.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace r1 {

// Runs argv[0] (looked up on PATH) with its output passed through to ours. Returns the exit
// status (0 on success); fails when the program cannot be started.
Result<int> run_process(const std::vector<std::string>& argv);

}  // namespace r1
