// Subcommands of `r1`: options structs and entry points. Each returns the process exit code
// (0 ok, 1 runtime failure, 2 bad usage or input) after printing one clear line on failure.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/model.h"
#include "engine/sampler.h"

namespace CLI {
class App;
}

namespace r1::cli {

struct ModelOptions {
  std::string model;   // path or known name; empty: the default model
  int threads = 0;     // 0: all cores
  int64_t ctx = 4096;  // context to allocate (tokens)
  std::string device = "cpu";  // cpu, cuda or cuda:N
};

// How a chat turn is run: format, thinking budget, tools.
struct ChatRequestOptions {
  std::string format;  // chat format name; empty: detect from the model
  std::string system;
  int32_t thinking_budget = -1;
  int32_t grace = 24;
  int32_t min_thinking = 0;
  std::optional<std::string> wrap_up;
  bool think = false;
  std::string tools_file;
  std::string tool_choice = "auto";
  std::string response_schema_file;
  bool unconstrained = false;
};

struct GenerateOptions {
  ModelOptions model;
  bool chat = false;
  ChatRequestOptions request;
  SamplerParams sampling;
  std::string prompt;
  std::string prompt_file;
  int32_t n_predict = 128;
  bool json = false;
};

struct ChatOptions {
  ModelOptions model;
  SamplerParams sampling;
  ChatRequestOptions request;
  bool hide_reasoning = false;
  std::string prompt;
  int32_t n_predict = 1024;
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
void add_chat_request_options(CLI::App* app, ChatRequestOptions& o);

// Shared by the subcommands: print one line for a failure and return its exit code.
int fail(const Status& st);
struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
};
Result<Loaded> load(const ModelOptions& o);  // the model and a thread pool, --ctx checked
nlohmann::json timings_json(const GenerateTimings& t);

int run_generate(const GenerateOptions& o);
int run_generate_chat(const GenerateOptions& o, const std::string& prompt);
int run_chat(const ChatOptions& o);
int run_bench(const BenchOptions& o);
int run_models_fetch(const std::string& name);
int run_models_list();

}  // namespace r1::cli
