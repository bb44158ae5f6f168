// The sandbox for command tools: bubblewrap (bwrap) when it works here, nothing otherwise.
//
// bwrap runs the program with a read-only view of /usr, /bin, /lib*, a few files of /etc, a
// fresh /tmp (tmpfs), /proc and /dev, no network and new namespaces (--unshare-all), a new
// session, and dies with us (--die-with-parent). Whether bwrap works is probed once per process
// (unprivileged user namespaces are often disabled inside containers); when it does not, command
// tools run the program directly (still argv-only, scrubbed environment, timeout, output cap)
// and say so in ToolOutput::metadata ("sandbox": "none") and once on stderr. Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace r1 {

struct SandboxInfo {
  bool available = false;  // bwrap ran a probe program successfully
  std::string reason;      // why not, when unavailable
};

// Probes /usr/bin/bwrap once (cached). R1_NO_SANDBOX=1 in the environment disables it.
const SandboxInfo& sandbox_info();

// The argv that runs `argv` (argv[0] an absolute path) inside bwrap with `env` (NAME=VALUE) as
// its whole environment. `read_only_dirs` are bound read-only at the same path; the working
// directory is `workdir` when not empty (it must be one of them), /tmp otherwise.
std::vector<std::string> bwrap_argv(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env,
                                    const std::vector<std::string>& read_only_dirs,
                                    const std::string& workdir);

}  // namespace r1
