// The `r1` command: one binary, one subcommand per job. Argument parsing and printing only;
// the work happens in engine/ (and, later, agent/, retrieval/, server/).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/agent_command.h"
#include "cli/commands.h"
#include "cli/embed_command.h"
#include "cli/retrieval_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"r1: an on-prem agent runtime with a native DeepSeek-R1-family engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("r1 ") + R1_VERSION);

  r1::cli::GenerateOptions gen;
  CLI::App* generate = app.add_subcommand("generate", "Generate a continuation of a raw prompt");
  r1::cli::add_model_options(generate, gen.model);
  generate->add_option("-p,--prompt", gen.prompt, "Prompt text");
  generate->add_option("-f,--file", gen.prompt_file, "Read the prompt from a file")->excludes("-p");
  r1::cli::add_sampling_options(generate, gen.sampling);
  generate->add_option("-n,--n-predict", gen.n_predict, "Tokens to generate")
      ->check(CLI::Range(0, 1 << 20));
  generate->add_flag("--json", gen.json,
                     "Print one JSON object: prompt ids, generated ids, text, timings (with "
                     "--chat: reasoning, content, tool_calls, usage, finish_reason)");
  generate->add_flag("--chat", gen.chat,
                     "Send the prompt as a user message in the model's chat format");
  r1::cli::add_chat_request_options(generate, gen.request);

  r1::cli::ChatOptions chat;
  CLI::App* chat_cmd = app.add_subcommand("chat", "Chat with a model (reads turns from stdin)");
  r1::cli::add_model_options(chat_cmd, chat.model);
  r1::cli::add_sampling_options(chat_cmd, chat.sampling);
  r1::cli::add_chat_request_options(chat_cmd, chat.request);
  chat_cmd->add_flag("--hide-reasoning", chat.hide_reasoning, "Do not print the reasoning");
  chat_cmd->add_option("-p,--prompt", chat.prompt, "Ask one question, print the answer and exit");
  chat_cmd->add_option("-n,--n-predict", chat.n_predict, "Tokens per reply at most")
      ->check(CLI::Range(1, 1 << 20));

  r1::cli::BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Measure prefill and decode speed");
  r1::cli::add_model_options(bench_cmd, bench.model);
  bench_cmd->add_option("-p,--n-prompt", bench.n_prompt, "Prompt tokens to prefill")
      ->check(CLI::Range(1, 1 << 16));
  bench_cmd->add_option("-n,--n-gen", bench.n_gen, "Tokens to decode")
      ->check(CLI::Range(1, 1 << 16));
  bench_cmd->add_option("-r,--repeats", bench.repeats, "Runs (best is reported)")
      ->check(CLI::Range(1, 100));
  bench_cmd->add_flag("--json", bench.json, "Print JSON instead of a table");

  CLI::App* embed_cmd = r1::cli::add_embed_command(app);
  CLI::App* ingest_cmd = r1::cli::add_ingest_command(app);
  CLI::App* serve_cmd = r1::cli::add_serve_command(app);
  CLI::App* search_cmd = r1::cli::add_search_command(app);
  r1::cli::AgentCommands agent_cmds = r1::cli::add_agent_commands(app);

  CLI::App* models = app.add_subcommand("models", "Manage the local model cache");
  models->require_subcommand(1);
  std::string fetch_name;
  CLI::App* fetch = models->add_subcommand(
      "fetch", "Download and verify a known model (default: the default model)");
  fetch->add_option("name", fetch_name, "Model name (see `r1 models list`)");
  CLI::App* list = models->add_subcommand("list", "List known models and whether they are cached");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "r1: %s\n", e.what());
    return 2;
  }

  if (generate->parsed()) return r1::cli::run_generate(gen);
  if (chat_cmd->parsed()) return r1::cli::run_chat(chat);
  if (bench_cmd->parsed()) return r1::cli::run_bench(bench);
  if (embed_cmd->parsed()) return r1::cli::run_embed_command();
  if (ingest_cmd->parsed()) return r1::cli::run_ingest_command();
  if (serve_cmd->parsed()) return r1::cli::run_serve_command();
  if (search_cmd->parsed()) return r1::cli::run_search_command();
  if (agent_cmds.run->parsed()) return r1::cli::run_agent_command();
  if (agent_cmds.audit_verify->parsed()) return r1::cli::run_audit_verify_command();
  if (fetch->parsed()) return r1::cli::run_models_fetch(fetch_name);
  if (list->parsed()) return r1::cli::run_models_list();
  return 2;
}
