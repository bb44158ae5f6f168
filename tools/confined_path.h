// Opening files beneath a root directory without escaping it.
//
// A relative path from a model is resolved beneath `root` so that no `..`, absolute path or
// symbolic link (at any component, including a symlinked directory in the middle of the path)
// can reach anything outside the root. On Linux 5.6+ this is openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS), which the kernel enforces atomically (no check-then-use race);
// where openat2 is missing, each component is opened with openat(O_NOFOLLOW), so symbolic links
// are refused altogether. Absolute paths and paths whose `..` climbs above the root are refused
// before any system call, with a message saying so. Thread-safe.
#pragma once

#include <string>

#include "core/status.h"

namespace r1 {

class ConfinedRoot {
 public:
  // Opens `root` (must be an existing directory). kNotFound / kInvalidArgument otherwise.
  static Result<ConfinedRoot> open(const std::string& root);
  ConfinedRoot(ConfinedRoot&& other) noexcept;
  ConfinedRoot& operator=(ConfinedRoot&& other) noexcept;
  ConfinedRoot(const ConfinedRoot&) = delete;
  ConfinedRoot& operator=(const ConfinedRoot&) = delete;
  ~ConfinedRoot();

  // Opens `relative` beneath the root with `flags` (O_RDONLY, O_DIRECTORY, ...; O_CLOEXEC is
  // added). Returns a file descriptor the caller closes. kInvalidArgument when the path would
  // escape ("path escapes the root"), kNotFound when it does not exist, kIoError otherwise.
  Result<int> open_beneath(const std::string& relative, int flags) const;

  const std::string& path() const { return path_; }

 private:
  ConfinedRoot(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Lexically normalises a relative path: drops "." and empty components, folds "a/.." away.
// Fails (kInvalidArgument) for an absolute path, or when ".." climbs above the start.
Result<std::string> normalize_relative_path(const std::string& path);

}  // namespace r1
