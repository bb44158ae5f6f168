// Subcommands of `r1`: options structs and entry points. Each returns the process exit code
// (0 ok, 1 runtime failure, 2 bad usage or input) after printing one clear line on failure.
#pragma once

#include <string>

#include "engine/sampler.h"

namespace CLI {
class App;
}

namespace r1::cli {

struct ModelOptions {
  std::string model;   // path or known name; empty: the default model
  int threads = 0;     // 0: all cores
  int64_t ctx = 4096;  // context to allocate (tokens)
};

struct GenerateOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string prompt;
  std::string prompt_file;
  int32_t n_predict = 128;
  bool json = false;
};

struct ChatOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string system;
  std::string prompt;
  int32_t n_predict = 512;
};

struct BenchOptions {
  ModelOptions model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int repeats = 3;
  bool json = false;
};

void add_model_options(CLI::App* app, ModelOptions& o);
void add_sampling_options(CLI::App* app, SamplerParams& s);

int run_generate(const GenerateOptions& o);
int run_chat(const ChatOptions& o);
int run_bench(const BenchOptions& o);
int run_models_fetch(const std::string& name);
int run_models_list();

}  // namespace r1::cli
