#include "cli/embed_command.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/embedder.h"
#include "engine/model_store.h"

namespace r1::cli {

namespace {

struct EmbedOptions {
  std::string model;  // path or known name; empty: all-minilm-l6-v2
  std::vector<std::string> texts;
  int threads = 0;  // 0: all cores
  bool json = false;
};

EmbedOptions& options() {
  static EmbedOptions o;
  return o;
}

int fail(const Status& st) {
  std::fprintf(stderr, "r1: %s\n", st.message().c_str());
  return st.exit_code();
}

}  // namespace

CLI::App* add_embed_command(CLI::App& app) {
  EmbedOptions& o = options();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Embed texts with a sentence-embedding model (default all-minilm-l6-v2)");
  cmd->add_option("-m,--model", o.model, "Model path or known name (see `r1 models list`)");
  cmd->add_option("texts", o.texts, "Texts to embed, one vector each")->required();
  cmd->add_option("-t,--threads", o.threads, "Threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", o.json, "Print one JSON object instead of one line per text");
  return cmd;
}

int run_embed_command() {
  const EmbedOptions& o = options();
  Result<std::string> path = resolve_embedding_model_path(o.model);
  if (!path) return fail(path.status());
  EmbedderOptions eo;
  eo.n_threads = o.threads;
  Result<std::unique_ptr<Embedder>> emb = Embedder::open(*path, eo);
  if (!emb) return fail(emb.status());
  const auto t0 = std::chrono::steady_clock::now();
  Result<std::vector<float>> vecs = (*emb)->embed(o.texts);
  if (!vecs) return fail(vecs.status());
  const double embed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const int64_t dim = (*emb)->dim();
  if (o.json) {
    nlohmann::json out = {{"model", *path},
                          {"dim", dim},
                          {"threads", (*emb)->n_threads()},
                          {"embed_ms", embed_ms},
                          {"embeddings", nlohmann::json::array()}};
    for (size_t i = 0; i < o.texts.size(); ++i) {
      const float* v = vecs->data() + i * static_cast<size_t>(dim);
      out["embeddings"].push_back({{"text", o.texts[i]},
                                   {"n_tokens", (*emb)->encode(o.texts[i]).size()},
                                   {"embedding", std::vector<float>(v, v + dim)}});
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  for (size_t i = 0; i < o.texts.size(); ++i) {
    const float* v = vecs->data() + i * static_cast<size_t>(dim);
    for (int64_t d = 0; d < dim; ++d) std::printf(d ? " %.6f" : "%.6f", v[d]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace r1::cli
