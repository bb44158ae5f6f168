#include "cli/commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/membw.h"
#include "engine/cuda_model.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/model_store.h"
#include "kernels/cpu/quant.h"

namespace r1::cli {

void add_model_options(CLI::App* app, ModelOptions& o) {
  app->add_option("-m,--model", o.model,
                  "GGUF file or known model name (default: the default model)");
  app->add_option("-t,--threads", o.threads, "Threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  app->add_option("-c,--ctx", o.ctx, "Context length to allocate, in tokens")
      ->check(CLI::Range(16, 1 << 22));
  app->add_option("--device", o.device, "cpu (default), cuda or cuda:N (an NVIDIA GPU)");
}

void add_sampling_options(CLI::App* app, SamplerParams& s) {
  app->add_option("--temp", s.temperature, "Temperature (0: greedy)")
      ->check(CLI::Range(0.0, 100.0));
  app->add_option("--top-k", s.top_k, "Top-k (0: off)")->check(CLI::Range(0, 1 << 20));
  app->add_option("--top-p", s.top_p, "Top-p (1: off)")->check(CLI::Range(0.0, 1.0));
  app->add_option("--min-p", s.min_p, "Min-p (0: off)")->check(CLI::Range(0.0, 1.0));
  app->add_option("--repeat-penalty", s.repeat_penalty, "Repetition penalty (1: off)")
      ->check(CLI::Range(0.0, 100.0));
  app->add_option("--presence-penalty", s.presence_penalty, "Presence penalty")
      ->check(CLI::Range(-100.0, 100.0));
  app->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty")
      ->check(CLI::Range(-100.0, 100.0));
  app->add_option("--seed", s.seed, "Random seed (same seed, same output)");
}

int fail(const Status& st) {
  std::fprintf(stderr, "r1: %s\n", st.message().c_str());
  return st.exit_code();
}

Result<Loaded> load(const ModelOptions& o) {
  Result<std::string> path = resolve_model_path(o.model);
  if (!path) return path.status();
  Result<std::unique_ptr<Model>> model = load_model_on(*path, o.device, o.ctx);
  if (!model) return model.status();
  Status ctx = (*model)->check_context(o.ctx);
  if (!ctx) return Status::invalid("--ctx: " + ctx.message());
  Loaded l;
  l.model = std::move(model.value());
  l.pool = std::make_unique<ThreadPool>(o.threads);
  return l;
}

nlohmann::json timings_json(const GenerateTimings& t) {
  return {{"prompt_tokens", t.prompt_tokens},
          {"cached_tokens", t.cached_tokens},
          {"generated_tokens", t.generated_tokens},
          {"prefill_ms", t.prefill_ms},
          {"decode_ms", t.decode_ms},
          {"prefill_tok_s", t.prefill_tok_s()},
          {"decode_tok_s", t.decode_tok_s()}};
}

int run_generate(const GenerateOptions& o) {
  std::string prompt = o.prompt;
  if (!o.prompt_file.empty()) {
    std::ifstream in(o.prompt_file, std::ios::binary);
    if (!in) return fail(Status::invalid(o.prompt_file + ": cannot read the prompt file"));
    std::stringstream ss;
    ss << in.rdbuf();
    prompt = ss.str();
  }
  if (prompt.empty()) return fail(Status::invalid("generate: give a prompt with -p or -f"));
  if (o.chat) return run_generate_chat(o, prompt);
  Result<Loaded> l = load(o.model);
  if (!l) return fail(l.status());
  Generator gen(*l->model, *l->pool, o.model.ctx);
  GenerateParams params;
  params.max_tokens = o.n_predict;
  params.sampling = o.sampling;
  TokenCallback stream;
  if (!o.json) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    stream = [](int32_t, const std::string& piece) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  Result<GenerateResult> r = gen.generate_text(prompt, params, stream);
  if (!r) return fail(r.status());
  if (o.json) {
    nlohmann::json j = {{"model", l->model->config().name},
                        {"prompt", prompt},
                        {"prompt_ids", r->prompt_ids},
                        {"ids", r->ids},
                        {"text", r->text},
                        {"stop_reason", stop_reason_name(r->stop_reason)},
                        {"timings", timings_json(r->timings)}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::fprintf(stdout, "\n");
    std::fprintf(stderr,
                 "\nr1: %lld prompt tokens at %.1f tok/s, %lld generated at %.1f tok/s (%s)\n",
                 static_cast<long long>(r->timings.prompt_tokens), r->timings.prefill_tok_s(),
                 static_cast<long long>(r->timings.generated_tokens), r->timings.decode_tok_s(),
                 stop_reason_name(r->stop_reason));
  }
  return 0;
}

int run_bench(const BenchOptions& o) {
  Result<Loaded> l = load(o.model);
  if (!l) return fail(l.status());
  const Model& model = *l->model;
  ThreadPool& pool = *l->pool;
  const ModelConfig& c = model.config();
  const int64_t n_ctx = std::max<int64_t>(o.n_prompt, o.n_gen) + 8;
  auto kv = model.make_kv_cache(n_ctx);
  auto scratch = model.make_scratch();
  std::vector<float> logits(static_cast<size_t>(c.n_vocab * 1));
  std::vector<int32_t> prompt(static_cast<size_t>(o.n_prompt));
  for (int64_t i = 0; i < o.n_prompt; ++i)
    prompt[i] = static_cast<int32_t>((i * 7919 + 13) % c.n_vocab);

  const double bw = measure_read_bandwidth(pool);
  using clock = std::chrono::steady_clock;
  double best_pp = 0.0;
  double best_tg = 0.0;
  // Warm-up: touch every weight page once so the first run does not pay for page faults.
  {
    int32_t t = 1;
    kv->set_n_past(0);
    Status st = model.forward(pool, &t, 1, *kv, *scratch, logits.data());
    if (!st) return fail(st);
  }
  for (int r = 0; r < o.repeats; ++r) {
    kv->set_n_past(0);
    auto t0 = clock::now();
    Status st = model.forward(pool, prompt.data(), o.n_prompt, *kv, *scratch, logits.data());
    if (!st) return fail(st);
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    best_pp = std::max(best_pp, o.n_prompt / s);

    // Decode from an empty cache, feeding back the greedy token (as llama-bench's tg test).
    kv->set_n_past(0);
    int32_t tok = 1;
    t0 = clock::now();
    for (int64_t i = 0; i < o.n_gen; ++i) {
      st = model.forward(pool, &tok, 1, *kv, *scratch, logits.data());
      if (!st) return fail(st);
      tok = argmax(logits.data(), c.n_vocab);
    }
    s = std::chrono::duration<double>(clock::now() - t0).count();
    best_tg = std::max(best_tg, o.n_gen / s);
  }
  const double gbs = best_tg * static_cast<double>(model.bytes_per_token()) / 1e9;
  if (o.json) {
    nlohmann::json j = {{"model", c.name},
                        {"path", model.gguf().path()},
                        {"type", c.file_type},
                        {"threads", pool.n_threads()},
                        {"isa", cpu_isa_name()},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"prefill_tok_s", best_pp},
                        {"decode_tok_s", best_tg},
                        {"weight_bytes_per_token", model.bytes_per_token()},
                        {"decode_gb_s", gbs},
                        {"memory_read_gb_s", bw},
                        {"decode_share_of_bandwidth", bw > 0 ? gbs / bw : 0.0}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf("model      %s (%s, %s)\n", c.name.c_str(), c.arch.c_str(), c.file_type.c_str());
    std::printf("threads    %d (%s kernels)\n", pool.n_threads(), cpu_isa_name());
    std::printf("memory     %.1f GB/s measured read bandwidth\n", bw);
    std::printf("| test   | tok/s   | GB/s  | share of bandwidth |\n");
    std::printf("|--------|---------|-------|--------------------|\n");
    std::printf("| pp%-4lld | %7.1f |       |                    |\n",
                static_cast<long long>(o.n_prompt), best_pp);
    std::printf("| tg%-4lld | %7.1f | %5.1f | %17.0f%% |\n", static_cast<long long>(o.n_gen),
                best_tg, gbs, bw > 0 ? 100.0 * gbs / bw : 0.0);
  }
  return 0;
}

int run_models_fetch(const std::string& name) {
  Result<std::string> p = fetch_model(name);
  if (!p) return fail(p.status());
  std::printf("%s\n", p->c_str());
  return 0;
}

int run_models_list() {
  for (const KnownModel& m : known_models()) {
    const std::string path = models_dir() + "/" + m.file;
    std::printf("%-28s %-8s %s\n", m.name.c_str(), std::filesystem::exists(path) ? "cached" : "-",
                m.description.c_str());
  }
  return 0;
}

}  // namespace r1::cli
