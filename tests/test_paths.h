// Where tests find their inputs: the repo, ../shared/reference, and the model cache.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace r1::test {

inline std::string source_path(const std::string& rel) {
  return std::string(R1_SOURCE_DIR) + "/" + rel;
}
inline std::string shared_path(const std::string& rel) {
  return std::string(R1_SHARED_DIR) + "/" + rel;
}

// The model cache the setup script fills: $R1_MODELS_DIR, else $XDG_CACHE_HOME/r1/models,
// else ~/.cache/r1/models.
inline std::string models_dir() {
  if (const char* d = std::getenv("R1_MODELS_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME")) return std::string(x) + "/r1/models";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/r1/models";
}
inline std::string model_path(const std::string& file) {
  return models_dir() + "/" + file;
}

}  // namespace r1::test
