// Decode and prefill speed of the CUDA engine on one GPU, against the memory-bandwidth roofline.
//
//   r1_cuda_bench MODEL.gguf [-p 512] [-n 128] [-r 3] [--device N] [--json]
//
// Prefill: one forward() of -p tokens from an empty cache (cuBLAS GEMM path). Decode: -n steps of
// one token from an empty cache, each feeding back the greedy token computed on the device
// (cuda_forward_greedy: the CUDA graph replay, no logits copy), as llama-bench's tg test does;
// "decode_with_logits" repeats it with the logits copied to the host every step (what the
// Generator's sampler pays). GB/s = decode tok/s * weight bytes read per token; the share is
// against both the device's nominal peak (memory clock * bus width) and a measured
// device-to-device copy. Best of -r rounds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cuda_model.h"
#include "kernels/cuda/device.h"

namespace {

int fail(const r1::Status& st) {
  std::fprintf(stderr, "r1_cuda_bench: %s\n", st.message().c_str());
  return st.exit_code() == 0 ? 1 : st.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int64_t n_prompt = 512, n_gen = 128;
  int rounds = 3, device = 0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "r1_cuda_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-p") {
      n_prompt = std::atoll(next());
    } else if (a == "-n") {
      n_gen = std::atoll(next());
    } else if (a == "-r") {
      rounds = std::atoi(next());
    } else if (a == "--device") {
      device = std::atoi(next());
    } else if (a == "--json") {
      json = true;
    } else if (!a.empty() && a[0] != '-' && path.empty()) {
      path = a;
    } else {
      std::fprintf(stderr,
                   "usage: r1_cuda_bench MODEL.gguf [-p N] [-n N] [-r N] [--device N] "
                   "[--json]\n");
      return 2;
    }
  }
  if (path.empty() || n_prompt < 1 || n_gen < 2 || rounds < 1) {
    std::fprintf(stderr, "usage: r1_cuda_bench MODEL.gguf [-p N>=1] [-n N>=2] [-r N>=1]\n");
    return 2;
  }
  using clock = std::chrono::steady_clock;
  const auto t_load = clock::now();
  r1::CudaModelOptions opt;
  opt.device = device;
  opt.n_ctx = n_prompt + n_gen + 8;
  opt.max_batch_tokens = std::max<int64_t>(n_prompt, 1);
  r1::Result<std::unique_ptr<r1::Model>> m = r1::load_model_cuda(path, opt);
  if (!m) return fail(m.status());
  const double load_s = std::chrono::duration<double>(clock::now() - t_load).count();
  r1::Model& model = **m;
  r1::Result<r1::cuda::DeviceInfo> info = r1::cuda::use_device(device);
  if (!info) return fail(info.status());
  r1::Result<double> copy_bw = r1::cuda::measure_copy_bandwidth_gb_s(1ull << 31);
  if (!copy_bw) return fail(copy_bw.status());

  r1::ThreadPool pool(1);
  auto kv = model.make_kv_cache(opt.n_ctx);
  auto scratch = model.make_scratch();
  const int64_t n_vocab = model.config().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  for (int64_t i = 0; i < n_prompt; ++i)
    prompt[i] = static_cast<int32_t>((i * 7919 + 13) % n_vocab);

  double best_pp = 0, best_tg = 0, best_tg_logits = 0;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up (graph capture, cuBLAS heuristics)
    kv->set_n_past(0);
    auto t0 = clock::now();
    r1::Status st = model.forward(pool, prompt.data(), n_prompt, *kv, *scratch, logits.data());
    if (!st) return fail(st);
    const double pp = n_prompt / std::chrono::duration<double>(clock::now() - t0).count();

    kv->set_n_past(0);
    int32_t tok = 1;
    t0 = clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      r1::Result<int32_t> next = r1::cuda_forward_greedy(model, &tok, 1, *kv, *scratch);
      if (!next) return fail(next.status());
      tok = *next;
    }
    const double tg = n_gen / std::chrono::duration<double>(clock::now() - t0).count();

    kv->set_n_past(0);
    tok = 1;
    t0 = clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      st = model.forward(pool, &tok, 1, *kv, *scratch, logits.data());
      if (!st) return fail(st);
      int32_t best = 0;
      for (int64_t v = 1; v < n_vocab; ++v)
        best = logits[v] > logits[best] ? static_cast<int32_t>(v) : best;
      tok = best;
    }
    const double tgl = n_gen / std::chrono::duration<double>(clock::now() - t0).count();
    if (r > 0) {
      best_pp = std::max(best_pp, pp);
      best_tg = std::max(best_tg, tg);
      best_tg_logits = std::max(best_tg_logits, tgl);
    }
  }
  const double bytes = static_cast<double>(model.bytes_per_token());
  const double gbs = best_tg * bytes / 1e9;
  const double peak = info->peak_bandwidth_gb_s;
  if (json) {
    nlohmann::json j = {{"model", model.config().name},
                        {"path", path},
                        {"type", model.config().file_type},
                        {"device", info->name},
                        {"load_s", load_s},
                        {"n_prompt", n_prompt},
                        {"n_gen", n_gen},
                        {"prefill_tok_s", best_pp},
                        {"decode_tok_s", best_tg},
                        {"decode_with_logits_tok_s", best_tg_logits},
                        {"weight_bytes_per_token", model.bytes_per_token()},
                        {"decode_gb_s", gbs},
                        {"peak_gb_s", peak},
                        {"copy_gb_s", *copy_bw},
                        {"decode_share_of_peak", peak > 0 ? gbs / peak : 0.0},
                        {"decode_share_of_copy", *copy_bw > 0 ? gbs / *copy_bw : 0.0}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model      %s (%s), %.2f GB of weights per token, loaded in %.1f s\n",
                model.config().name.c_str(), model.config().file_type.c_str(), bytes / 1e9, load_s);
    std::printf("device     %s: nominal %.0f GB/s, device copy %.0f GB/s\n", info->name.c_str(),
                peak, *copy_bw);
    std::printf("| test              | tok/s    | GB/s   | of nominal | of copy |\n");
    std::printf("|-------------------|----------|--------|------------|---------|\n");
    std::printf("| pp%-5lld           | %8.1f |        |            |         |\n",
                static_cast<long long>(n_prompt), best_pp);
    std::printf("| tg%-5lld (device)  | %8.1f | %6.0f | %9.0f%% | %6.0f%% |\n",
                static_cast<long long>(n_gen), best_tg, gbs, 100 * gbs / peak,
                100 * gbs / *copy_bw);
    std::printf("| tg%-5lld (logits)  | %8.1f | %6.0f |            |         |\n",
                static_cast<long long>(n_gen), best_tg_logits, best_tg_logits * bytes / 1e9);
  }
  return 0;
}
