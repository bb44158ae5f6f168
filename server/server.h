// `r1 serve`: an OpenAI-compatible HTTP server over one native model, with r1 agents, an
// embeddings endpoint, Prometheus metrics and a web chat.
//
//   POST /v1/chat/completions   chat, streamed (SSE) or not: reasoning_content, tools,
//                               response_format, thinking budget, stop, seed, usage
//   POST /v1/completions        raw text completion
//   POST /v1/embeddings         sentence embeddings (all-MiniLM-L6-v2)
//   GET  /v1/models             the chat model and the embedding model
//   GET  /v1/agents             the agents this server runs
//   POST /v1/agents/NAME/runs   run an agent; its events stream as SSE
//   GET  /v1/agents/NAME/runs/ID                 a run's events and result
//   POST /v1/agents/NAME/runs/ID/approvals       approve or deny a pending tool call
//   GET  /health, GET /metrics, GET / (web chat)
//
// Requests run in `slots` sequence slots (each a NativeEngine with its own KV cache over the
// one shared Model); up to `queue` more wait for a slot, and beyond that a request gets 503
// with Retry-After. Keys (Bearer) come from a file or R1_API_KEYS; a server without keys
// listens on loopback only unless told otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1::server {

struct ApiKey {
  std::string key;
  std::optional<std::set<std::string>> agents;  // agents it may run (nullopt: all)
  std::optional<std::set<std::string>> tools;   // tools those agents may hold (nullopt: all)
};

// One key per line: `KEY [agents=a,b] [tools=x,y]`; blank lines and `#` comments skipped.
// kInvalidArgument naming `origin` and the line for anything else.
Result<std::vector<ApiKey>> parse_api_keys(std::string_view text, const std::string& origin);

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (see Server::port())
  std::string model;            // GGUF path or known name ("" = the default model)
  std::string model_id;         // the id clients send as "model" ("" = the model file's stem)
  std::string format;           // chat format ("" = detect)
  std::string device = "cpu";   // cpu, cuda or cuda:N
  std::string embedding_model;  // path or known name; "" = the default one if fetched; "none"
  int threads = 0;              // 0: all cores
  int64_t ctx = 4096;           // tokens per slot
  int slots = 4;                // concurrent generations
  int queue = 16;               // requests waiting for a slot at most
  double request_timeout_s = 600;
  double approval_timeout_s = 300;  // a pending approval nobody answers is denied after this
  int64_t max_body_bytes = 8 << 20;
  int64_t max_tokens = 0;  // per request at most (0: the slot context)
  std::vector<std::string> agent_files;
  std::vector<ApiKey> keys;
  bool allow_unauthenticated_remote = false;  // listen beyond loopback without keys
  // Origins whose browser pages may call the API (CORS); "*" allows any. Empty: same origin only.
  std::vector<std::string> cors_origins;
  uint64_t prefix_cache_bytes = 256ull << 20;
  int max_batch = 32;
};

class Server {
 public:
  // Loads the model(s) and agents. Errors: a model that cannot be loaded, an agent file with
  // errors, a non-loopback host without keys (unless allowed).
  static Result<std::unique_ptr<Server>> create(ServerOptions options);
  ~Server();

  Status bind();  // binds host:port; kUnavailable when the address is taken
  int port() const;
  void serve();  // answers requests until stop()
  void stop();

 private:
  Server();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1::server
