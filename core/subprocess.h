// Runs a child process with an argument vector (no shell, so no quoting pitfalls) and waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace r1 {

// Runs argv[0] (looked up on PATH) with its output passed through to ours. Returns the exit
// status (0 on success); fails when the program cannot be started.
Result<int> run_process(const std::vector<std::string>& argv);

struct CaptureOptions {
  std::vector<std::string> env;      // the child's whole environment (NAME=VALUE) ...
  bool inherit_env = false;          // ... unless this is set: then ours, and `env` is ignored
  std::string workdir;               // "" = ours
  double timeout_s = 10;             // s; <= 0 means none
  int64_t max_output_bytes = 65536;  // bytes kept per stream; the rest is read and dropped
  const std::atomic<bool>* cancelled = nullptr;  // polled every few ms
};

struct CapturedProcess {
  int exit_code = -1;         // exit status, or 128 + signal
  bool timed_out = false;     // killed because timeout_s passed
  bool cancelled = false;     // killed because *cancelled became true
  std::string out, err;       // stdout, stderr (each at most max_output_bytes)
  int64_t dropped_bytes = 0;  // bytes read beyond the caps, both streams
};

// Runs `argv` with argv[0] an absolute path (no PATH lookup, no shell), stdin from /dev/null,
// stdout and stderr captured, in a process group of its own. On timeout or cancellation the
// whole group gets SIGKILL and the call returns once the child is reaped. Fails (kIoError) only
// when the program cannot be started. Thread-safe.
Result<CapturedProcess> run_process_captured(const std::vector<std::string>& argv,
                                             const CaptureOptions& options);

}  // namespace r1
