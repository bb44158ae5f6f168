// `r1 serve`: argument parsing, keys from a file or the environment, signal handling.
#include "cli/serve_command.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "server/server.h"

namespace r1::cli {

namespace {

struct ServeOptions {
  server::ServerOptions server;
  std::string api_keys_file;
  double prefix_cache_mb = 256;
  double max_body_mb = 8;
};

ServeOptions& options() {
  static ServeOptions o;
  return o;
}

server::Server* g_server = nullptr;

void on_signal(int) {
  if (g_server) g_server->stop();
}

}  // namespace

CLI::App* add_serve_command(CLI::App& app) {
  ServeOptions& o = options();
  server::ServerOptions& s = o.server;
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the OpenAI-compatible API, r1 agents and a web chat over HTTP");
  cmd->add_option("-m,--model", s.model, "GGUF path or known name (default: the default model)");
  cmd->add_option("--model-id", s.model_id,
                  "The id clients send as \"model\" (default: file stem)");
  cmd->add_option("-t,--threads", s.threads, "CPU threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx", s.ctx, "Context per slot in tokens")->check(CLI::Range(64, 1 << 20));
  cmd->add_option("--host", s.host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", s.port, "Port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--slots", s.slots, "Concurrent generations (default 4)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--queue", s.queue, "Requests that may wait for a slot; beyond: 503 (default 16)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--api-keys", o.api_keys_file,
                  "File of API keys, one per line: KEY [agents=a,b] [tools=x,y] (also: "
                  "R1_API_KEYS=key1,key2)");
  cmd->add_flag("--allow-unauthenticated", s.allow_unauthenticated_remote,
                "Listen beyond loopback without API keys");
  cmd->add_option("--agent", s.agent_files, "An agent YAML to serve (repeatable)");
  cmd->add_option(
      "--cors-origin", s.cors_origins,
      "An origin whose web pages may call the API, e.g. https://app.example (repeatable; "
      "* for any)");
  cmd->add_option("--embedding-model", s.embedding_model,
                  "Embedding model path or name for /v1/embeddings (default: all-minilm-l6-v2 "
                  "when fetched; none: off)");
  cmd->add_option("--format", s.format, "Chat format (default: detect from the model)");
  cmd->add_option("--device", s.device, "cpu (default), cuda or cuda:N (an NVIDIA GPU)");
  cmd->add_option("--timeout", s.request_timeout_s, "Seconds a request may take (default 600)")
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--approval-timeout", s.approval_timeout_s,
                  "Seconds a tool approval may wait before it is denied (default 300)")
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--max-tokens", s.max_tokens, "Tokens per request at most (default: --ctx)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--max-body-mb", o.max_body_mb, "Request body limit in MiB (default 8)")
      ->check(CLI::Range(0.001, 1024.0));
  cmd->add_option("--prefix-cache-mb", o.prefix_cache_mb,
                  "Memory for KV blocks shared across requests (default 256)")
      ->check(CLI::Range(0.0, 1048576.0));
  return cmd;
}

int run_serve_command() {
  ServeOptions& o = options();
  server::ServerOptions s = o.server;
  s.max_body_bytes = static_cast<int64_t>(o.max_body_mb * 1024 * 1024);
  s.prefix_cache_bytes = static_cast<uint64_t>(o.prefix_cache_mb * 1024 * 1024);
  if (!o.api_keys_file.empty()) {
    std::ifstream in(o.api_keys_file);
    if (!in)
      return fail(Status::invalid("--api-keys " + o.api_keys_file + ": cannot read the file"));
    std::stringstream text;
    text << in.rdbuf();
    Result<std::vector<server::ApiKey>> keys = server::parse_api_keys(text.str(), o.api_keys_file);
    if (!keys) return fail(keys.status());
    s.keys = std::move(keys.value());
    if (s.keys.empty()) return fail(Status::invalid("--api-keys " + o.api_keys_file + ": no keys"));
  }
  if (const char* env = std::getenv("R1_API_KEYS"); env && *env) {
    std::string lines(env);
    for (char& c : lines) {
      if (c == ',') c = '\n';
    }
    Result<std::vector<server::ApiKey>> keys = server::parse_api_keys(lines, "R1_API_KEYS");
    if (!keys) return fail(keys.status());
    for (auto& k : keys.value()) s.keys.push_back(std::move(k));
  }
  Result<std::unique_ptr<server::Server>> srv = server::Server::create(s);
  if (!srv) return fail(srv.status());
  Status bound = (*srv)->bind();
  if (!bound) return fail(bound);
  g_server = srv->get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::fprintf(
      stderr, "r1: serving on http://%s:%d (%s; %d slots of %lld tokens; %s)\n", s.host.c_str(),
      (*srv)->port(), s.model.empty() ? "default model" : s.model.c_str(), s.slots,
      static_cast<long long>(s.ctx),
      s.keys.empty() ? "no API keys" : (std::to_string(s.keys.size()) + " API keys").c_str());
  std::fflush(stderr);
  (*srv)->serve();
  g_server = nullptr;
  std::fprintf(stderr, "r1: server stopped\n");
  return 0;
}

}  // namespace r1::cli
