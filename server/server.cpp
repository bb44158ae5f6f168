#include "server/server.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "agent/runtime.h"
#include "core/json_schema.h"
#include "engine/batch_scheduler.h"
#include "engine/cuda_model.h"
#include "engine/embedder.h"
#include "engine/model.h"
#include "engine/model_store.h"
#include "engine/native_engine.h"
#include "engine/prefix_cache.h"
#include "memory/agent_store.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/web_assets.h"

namespace r1::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Result<std::vector<ApiKey>> parse_api_keys(std::string_view text, const std::string& origin) {
  std::vector<ApiKey> keys;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  auto split_list = [](const std::string& v) {
    std::set<std::string> out;
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      if (comma > start) out.insert(v.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string word;
    ApiKey key;
    bool first = true;
    while (words >> word) {
      if (first && word[0] == '#') break;
      if (first) {
        if (word.size() < 8) {
          return Status::invalid(origin + ":" + std::to_string(number) +
                                 ": an API key must be at least 8 characters");
        }
        key.key = word;
        first = false;
      } else if (word.rfind("agents=", 0) == 0) {
        key.agents = split_list(word.substr(7));
      } else if (word.rfind("tools=", 0) == 0) {
        key.tools = split_list(word.substr(6));
      } else {
        return Status::invalid(origin + ":" + std::to_string(number) + ": unexpected \"" + word +
                               "\" (expected KEY [agents=a,b] [tools=x,y])");
      }
    }
    if (!key.key.empty()) keys.push_back(std::move(key));
  }
  return keys;
}

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = digits[rng() & 15];
  return s;
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, e.to_json());
  if (e.status == 503) res.set_header("Retry-After", "1");
}

ApiError api_error(int status, std::string type, std::string message, std::string code = "") {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

std::string content_type_for(const std::string& name) {
  auto ends = [&](const char* ext) {
    const size_t n = std::strlen(ext);
    return name.size() >= n && name.compare(name.size() - n, n, ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace

// ---- the server ---------------------------------------------------------------------------

struct Slot {
  int index = 0;
  std::unique_ptr<NativeEngine> engine;  // its own KV cache; forward passes go to the scheduler
};

struct Approval {
  ToolCall call;
  std::string reason;
  bool decided = false;
  bool approved = false;
};

// An agent run, kept in memory for GET .../runs/ID and approvals.
struct RunRecord {
  std::string agent;
  std::mutex mu;
  std::condition_variable cv;
  std::string run_id;
  std::string status = "running";
  std::vector<json> events;
  json result;
  std::map<std::string, Approval> approvals;
};

struct AgentEntry {
  std::string name;
  std::string path;
  AgentSpec spec;
};

struct Server::Impl {
  ServerOptions opt;
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::string model_id;
  std::string model_path;
  int64_t created = unix_now();
  RequestLimits limits;

  // Slots: a free list, and how many requests wait for one.
  std::vector<std::unique_ptr<Slot>> slots;
  std::mutex slots_mu;
  std::condition_variable slots_cv;
  std::vector<Slot*> free_slots;
  int waiting = 0;
  // Every slot's forward passes are coalesced here (one batched pass per step), and prompt
  // prefixes are shared across slots through the prefix cache.
  std::unique_ptr<BatchScheduler> scheduler;
  std::unique_ptr<PrefixCache> prefix_cache;

  std::unique_ptr<Embedder> embedder;
  std::string embedding_id;
  std::mutex embed_mu;

  std::map<std::string, AgentEntry> agents;
  std::mutex runs_mu;
  std::map<std::string, std::shared_ptr<RunRecord>> runs;
  std::deque<std::string> run_order;

  Metrics metrics;
  httplib::Server http;
  int bound_port = -1;

  // ---- helpers ----
  const ApiKey* key_for(const httplib::Request& req) const {
    if (opt.keys.empty()) return nullptr;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) != 0) return nullptr;
    const std::string token = auth.substr(7);
    for (const ApiKey& k : opt.keys) {
      if (k.key.size() == token.size() &&
          CRYPTO_memcmp(k.key.data(), token.data(), token.size()) == 0) {
        return &k;
      }
    }
    return nullptr;
  }

  bool origin_allowed(const std::string& origin) const {
    for (const std::string& o : opt.cors_origins) {
      if (o == "*" || o == origin) return true;
    }
    return false;
  }

  bool known_model(const std::string& id) const {
    return id == model_id || id == model_path ||
           id == std::filesystem::path(model_path).filename().string();
  }

  struct Lease {
    Lease(Impl* i, Slot* s) : impl(i), slot(s) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { impl->release(slot); }
    Impl* impl;
    Slot* slot;
  };

  // A free slot, waiting until `deadline`; nullptr with the error to send when the queue is
  // full or the wait ran out.
  std::shared_ptr<Lease> acquire(Clock::time_point deadline, ApiError* error) {
    std::unique_lock<std::mutex> lock(slots_mu);
    if (free_slots.empty()) {
      if (waiting >= opt.queue) {
        metrics.rejected();
        *error = api_error(503, "server_busy",
                           "all " + std::to_string(slots.size()) + " slots are busy and " +
                               std::to_string(waiting) + " requests are queued; retry later",
                           "queue_full");
        return nullptr;
      }
      ++waiting;
      const bool got = slots_cv.wait_until(lock, deadline, [&] { return !free_slots.empty(); });
      --waiting;
      if (!got) {
        metrics.rejected();
        *error = api_error(503, "server_busy", "no slot became free in time; retry later",
                           "queue_timeout");
        return nullptr;
      }
    }
    Slot* s = free_slots.back();
    free_slots.pop_back();
    return std::make_shared<Lease>(this, s);
  }

  void release(Slot* s) {
    {
      std::lock_guard<std::mutex> lock(slots_mu);
      free_slots.push_back(s);
    }
    slots_cv.notify_one();
  }

  Clock::time_point deadline() const {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(opt.request_timeout_s));
  }

  MetricsGauges gauges() {
    MetricsGauges g;
    std::lock_guard<std::mutex> lock(slots_mu);
    g.queue_depth = waiting;
    g.slots_total = static_cast<int64_t>(slots.size());
    g.slots_busy = g.slots_total - static_cast<int64_t>(free_slots.size());
    for (const auto& s : slots) {
      const KvCache& kv = s->engine->generator().kv_cache();
      g.kv_cache_total_bytes += static_cast<int64_t>(kv.bytes());
      g.kv_cache_used_bytes += static_cast<int64_t>(kv.bytes() * kv.n_past() / kv.n_ctx());
    }
    if (prefix_cache) {
      const PrefixCacheStats ps = prefix_cache->stats();
      g.prefix_cache_lookup_tokens = ps.lookup_tokens;
      g.prefix_cache_hit_tokens = ps.hit_tokens;
      g.prefix_cache_bytes = ps.bytes;
    }
    if (scheduler) {
      const BatchStats bs = scheduler->stats();
      g.batch_steps = bs.steps;
      g.batch_sequence_steps = bs.sequence_steps;
    }
    return g;
  }

  // ---- routes ----
  void setup_routes();
  void chat_completions(const httplib::Request& req, httplib::Response& res);
  void completions(const httplib::Request& req, httplib::Response& res);
  void embeddings(const httplib::Request& req, httplib::Response& res);
  void agent_run(const httplib::Request& req, httplib::Response& res);
  void agent_run_get(const httplib::Request& req, httplib::Response& res);
  void agent_approval(const httplib::Request& req, httplib::Response& res);
  std::optional<ApiError> check_agent_access(const httplib::Request& req, const AgentEntry& a);
  std::shared_ptr<RunRecord> find_run(const std::string& id);
  bool stored_run(const httplib::Request& req, httplib::Response& res);
  // The run named by the route (agent, run id) if the key may see it; else sends the error.
  std::shared_ptr<RunRecord> run_for_request(const httplib::Request& req, httplib::Response& res);
  void remember_run(const std::shared_ptr<RunRecord>& rec);
};

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() {
  stop();
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  if (options.slots < 1 || options.slots > 256) {
    return Status::invalid("--slots must be between 1 and 256");
  }
  if (options.queue < 0) return Status::invalid("--queue must be 0 or more");
  if (options.keys.empty() && !is_loopback(options.host) && !options.allow_unauthenticated_remote) {
    return Status::invalid("refusing to listen on " + options.host +
                           " without API keys: give --api-keys FILE (or R1_API_KEYS), or "
                           "--allow-unauthenticated to accept anyone who can reach the port");
  }
  std::unique_ptr<Server> s(new Server());
  Impl& im = *s->impl_;
  im.opt = options;

  Result<std::string> path = resolve_model_path(options.model);
  if (!path) return path.status();
  im.model_path = *path;
  Result<std::unique_ptr<Model>> model =
      load_model_on(*path, options.device, options.ctx, options.slots);
  if (!model) return model.status();
  im.model = std::move(model.value());
  Status ctx_ok = im.model->check_context(options.ctx * options.slots);
  if (!ctx_ok)
    return Status::invalid(ctx_ok.message() + " (" + std::to_string(options.slots) + " slots of " +
                           std::to_string(options.ctx) + " tokens)");
  im.pool = std::make_unique<ThreadPool>(options.threads);
  im.model_id =
      options.model_id.empty() ? std::filesystem::path(*path).stem().string() : options.model_id;
  im.limits.max_tokens =
      options.max_tokens > 0 ? std::min(options.max_tokens, options.ctx) : options.ctx;
  im.scheduler = std::make_unique<BatchScheduler>(*im.model, *im.pool, options.max_batch);
  ServingContext serving;
  serving.scheduler = im.scheduler.get();
  if (options.prefix_cache_bytes > 0) {
    im.prefix_cache = std::make_unique<PrefixCache>(*im.model, options.prefix_cache_bytes);
    serving.prefix_cache = im.prefix_cache.get();
  }
  for (int i = 0; i < options.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    Result<std::unique_ptr<NativeEngine>> engine =
        NativeEngine::create(*im.model, *im.pool, options.ctx, options.format, serving);
    if (!engine) return engine.status();
    slot->engine = std::move(engine.value());
    im.free_slots.push_back(slot.get());
    im.slots.push_back(std::move(slot));
  }
  std::reverse(im.free_slots.begin(), im.free_slots.end());

  if (options.embedding_model != "none") {
    Result<std::string> epath = resolve_embedding_model_path(options.embedding_model);
    if (epath) {
      Result<std::unique_ptr<Embedder>> emb =
          Embedder::open(*epath, EmbedderOptions{options.threads});
      if (!emb) return emb.status();
      im.embedder = std::move(emb.value());
      im.embedding_id = std::filesystem::path(*epath).stem().string();
      // "all-minilm-l6-v2.f32" -> "all-minilm-l6-v2": the name clients know.
      const size_t dot = im.embedding_id.find('.');
      if (dot != std::string::npos) im.embedding_id.resize(dot);
      for (char& c : im.embedding_id)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!options.embedding_model.empty()) {
      return epath.status();
    }
  }

  Runtime loader;
  for (const std::string& file : options.agent_files) {
    Result<AgentSpec> spec = loader.load_agent(file);
    if (!spec) return spec.status();
    AgentEntry e;
    e.name = spec->name.empty() ? std::filesystem::path(file).stem().string() : spec->name;
    e.path = file;
    e.spec = std::move(spec.value());
    if (im.agents.count(e.name)) {
      return Status::invalid(file + ": a second agent named \"" + e.name + "\"");
    }
    im.agents.emplace(e.name, std::move(e));
  }
  im.setup_routes();
  return s;
}

Status Server::bind() {
  Impl& im = *impl_;
  if (im.opt.port == 0) {
    im.bound_port = im.http.bind_to_any_port(im.opt.host);
  } else {
    im.bound_port = im.http.bind_to_port(im.opt.host, im.opt.port) ? im.opt.port : -1;
  }
  if (im.bound_port < 0) {
    return Status::io_error("cannot listen on " + im.opt.host + ":" + std::to_string(im.opt.port) +
                            " (address in use or not available)");
  }
  return Status::ok();
}

int Server::port() const {
  return impl_->bound_port;
}
void Server::serve() {
  impl_->http.listen_after_bind();
}
void Server::stop() {
  if (impl_ && impl_->http.is_running()) impl_->http.stop();
}

void Server::Impl::setup_routes() {
  const size_t workers = static_cast<size_t>(opt.slots + opt.queue + 8);
  http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http.set_payload_max_length(static_cast<size_t>(opt.max_body_bytes));
  http.set_read_timeout(30, 0);
  http.set_write_timeout(static_cast<time_t>(std::max(1.0, opt.request_timeout_s)), 0);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // CORS: a browser page from an allowed origin may call the API; its preflight carries no
    // key, so it is answered here.
    const std::string origin = req.get_header_value("Origin");
    const bool cors = !origin.empty() && origin_allowed(origin);
    if (cors) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
    }
    if (req.method == "OPTIONS") {
      if (cors) {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
      }
      res.status = cors ? 204 : 403;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (opt.keys.empty() || req.path.rfind("/v1/", 0) != 0) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (key_for(req)) return httplib::Server::HandlerResponse::Unhandled;
    const bool missing = req.get_header_value("Authorization").empty();
    send_error(res, api_error(401, "invalid_request_error",
                              missing ? "missing API key: send Authorization: Bearer KEY"
                                      : "incorrect API key provided",
                              "invalid_api_key"));
    res.set_header("WWW-Authenticate", "Bearer");
    metrics.request(req.path, 401);
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) return;
    if (res.status == 404) {
      send_error(res, api_error(404, "invalid_request_error",
                                "no route " + req.method + " " + req.path, "not_found"));
    } else if (res.status == 413) {
      send_error(res, api_error(413, "invalid_request_error",
                                "the request body exceeds " + std::to_string(opt.max_body_bytes) +
                                    " bytes",
                                "body_too_large"));
    } else {
      send_error(res, api_error(res.status, "invalid_request_error",
                                "HTTP " + std::to_string(res.status)));
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_error(res, api_error(500, "server_error", what));
      });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    MetricsGauges g = gauges();
    send_json(res, 200,
              {{"status", "ok"},
               {"model", model_id},
               {"slots", g.slots_total},
               {"slots_busy", g.slots_busy},
               {"queue", g.queue_depth}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(gauges()), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    json data = json::array();
    data.push_back({{"id", model_id},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "r1"},
                    {"capabilities", json::array({"chat"})}});
    if (embedder) {
      data.push_back({{"id", embedding_id},
                      {"object", "model"},
                      {"created", created},
                      {"owned_by", "r1"},
                      {"capabilities", json::array({"embeddings"})}});
    }
    send_json(res, 200, {{"object", "list"}, {"data", data}});
    metrics.request(req.path, 200);
  });
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (known_model(id) || (embedder && id == embedding_id)) {
      send_json(res, 200,
                {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "r1"}});
    } else {
      send_error(res, api_error(404, "invalid_request_error",
                                "the model \"" + id + "\" does not exist", "model_not_found"));
    }
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    chat_completions(req, res);
  });
  http.Post("/v1/completions",
            [this](const httplib::Request& req, httplib::Response& res) { completions(req, res); });
  http.Post("/v1/embeddings",
            [this](const httplib::Request& req, httplib::Response& res) { embeddings(req, res); });
  http.Get("/v1/agents", [this](const httplib::Request& req, httplib::Response& res) {
    const ApiKey* key = key_for(req);
    json data = json::array();
    for (const auto& [name, a] : agents) {
      if (key && key->agents && !key->agents->count(name)) continue;
      json tools = json::array();
      for (const ToolRef& t : a.spec.tools) tools.push_back(t.name);
      data.push_back({{"name", name}, {"description", a.spec.description}, {"tools", tools}});
    }
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  });
  http.Post(R"(/v1/agents/([^/]+)/runs)",
            [this](const httplib::Request& req, httplib::Response& res) { agent_run(req, res); });
  http.Get(
      R"(/v1/agents/([^/]+)/runs/([^/]+))",
      [this](const httplib::Request& req, httplib::Response& res) { agent_run_get(req, res); });
  http.Post(
      R"(/v1/agents/([^/]+)/runs/([^/]+)/approvals)",
      [this](const httplib::Request& req, httplib::Response& res) { agent_approval(req, res); });

  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    const auto& assets = web_assets();
    auto it = assets.find("index.html");
    if (it == assets.end()) {
      res.status = 404;
      res.set_content("this build has no web chat", "text/plain");
      return;
    }
    res.set_content(std::string(it->second), "text/html; charset=utf-8");
  });
  http.Get(R"(/web/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const auto& assets = web_assets();
    auto it = assets.find(name);
    if (it == assets.end()) {
      res.status = 404;
      res.set_content("not found", "text/plain");
      return;
    }
    res.set_content(std::string(it->second), content_type_for(name));
  });
}

// ---- /v1/chat/completions -----------------------------------------------------------------

namespace {

// Runs one chat request on a slot, sending what it produces to `emit` (stream chunks) and
// returning the final result. Shared by the streamed and the whole response.
struct ChatRun {
  ChatCompletionRequest request;
  std::string id;
  bool stopped_by_string = false;
  bool single_call_done = false;
  bool client_gone = false;
  bool timed_out = false;
  std::vector<ToolCall> calls;
  Clock::time_point t0 = Clock::now();
  bool first_token_seen = false;
};

}  // namespace

void Server::Impl::chat_completions(const httplib::Request& req, httplib::Response& res) {
  auto run = std::make_shared<ChatRun>();
  run->t0 = Clock::now();
  if (auto e = parse_chat_completion(req.body, limits, &run->request)) {
    metrics.request("/v1/chat/completions", e->status);
    return send_error(res, *e);
  }
  if (!known_model(run->request.model)) {
    metrics.request("/v1/chat/completions", 404);
    return send_error(res,
                      api_error(404, "invalid_request_error",
                                "the model \"" + run->request.model +
                                    "\" does not exist (this server runs \"" + model_id + "\")",
                                "model_not_found"));
  }
  ApiError busy;
  std::shared_ptr<Lease> lease = acquire(deadline(), &busy);
  if (!lease) {
    metrics.request("/v1/chat/completions", 503);
    return send_error(res, busy);
  }
  // What would fail before generation (a prompt too long for the context, a schema the
  // grammar cannot express) is a 400. A whole response gets it from chat() itself; a stream
  // sends its status line first, so it is checked here.
  if (Status st = run->request.stream ? lease->slot->engine->check_request(run->request.chat)
                                      : Status::ok();
      !st) {
    metrics.request("/v1/chat/completions", 400);
    return send_error(res, bad_request(st.message(), "messages"));
  }
  run->id = "chatcmpl-" + random_hex(24);
  const int64_t created = unix_now();
  const Clock::time_point until = deadline();

  // Drives the engine; `write` sends one SSE chunk (returns false once the client is gone),
  // or is empty for a whole response.
  auto execute = [this, run, lease, created,
                  until](const std::function<bool(const json&)>& write) -> Result<ChatResult> {
    ChatCompletionRequest& r = run->request;
    StopFilter stop(r.stop);
    int call_index = 0;
    auto send_delta = [&](json delta) {
      if (!write) return true;
      if (!write(chat_chunk_json(run->id, created, r.model, std::move(delta)))) {
        run->client_gone = true;
        return false;
      }
      return true;
    };
    if (write && !send_delta({{"role", "assistant"}, {"content", ""}})) {
      return Status::internal("client gone");
    }
    auto on_event = [&](const ChatEvent& e) -> bool {
      if (!run->first_token_seen) {
        run->first_token_seen = true;
        metrics.time_to_first_token(std::chrono::duration<double>(Clock::now() - run->t0).count());
      }
      if (Clock::now() > until) {
        run->timed_out = true;
        return false;
      }
      switch (e.kind) {
        case ChatEvent::Kind::kReasoning:
          return send_delta({{"reasoning_content", e.text}});
        case ChatEvent::Kind::kContent: {
          const std::string safe = stop.push(e.text);
          if (!safe.empty() && !send_delta({{"content", safe}})) return false;
          if (stop.stopped()) {
            run->stopped_by_string = true;
            return false;
          }
          return true;
        }
        case ChatEvent::Kind::kToolCall: {
          ToolCall call = e.call;
          call.id = unique_call_id(run->id, call.id);
          run->calls.push_back(call);
          json tc = tool_call_json(call);
          tc["index"] = call_index++;
          if (!send_delta({{"tool_calls", json::array({tc})}})) return false;
          if (!r.parallel_tool_calls) {
            run->single_call_done = true;
            return false;
          }
          return true;
        }
        case ChatEvent::Kind::kToolCallError:
          return true;
      }
      return true;
    };
    Result<ChatResult> result = lease->slot->engine->chat(r.chat, on_event);
    if (!result) return result;
    const std::string tail = stop.finish();
    if (!tail.empty()) send_delta({{"content", tail}});
    if (!r.stop.empty()) result->content = stop.text();
    // Tool calls as streamed (unique ids; one when parallel calls are off).
    result->tool_calls = run->calls;
    return result;
  };

  auto finish_reason = [run](const ChatResult& r) {
    if (!r.tool_calls.empty()) return std::string("tool_calls");
    return finish_reason_for(r.finish_reason, run->stopped_by_string);
  };
  auto account = [this, run](const ChatResult& r) {
    metrics.tokens(r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.completion_tokens,
                   r.usage.reasoning_tokens);
    if (r.timings.decode_tok_s() > 0) metrics.decode_rate(r.timings.decode_tok_s());
    if (run->client_gone || run->timed_out) metrics.cancelled();
  };

  if (!run->request.stream) {
    Result<ChatResult> r = execute({});
    if (!r) {
      const int status = r.status().code() == StatusCode::kInvalidArgument ? 400 : 500;
      metrics.request("/v1/chat/completions", status);
      return send_error(res,
                        api_error(status, status == 400 ? "invalid_request_error" : "server_error",
                                  r.status().message()));
    }
    account(*r);
    if (run->timed_out) {
      metrics.request("/v1/chat/completions", 504);
      return send_error(
          res, api_error(504, "timeout",
                         "the request ran past the server's time limit of " +
                             std::to_string(static_cast<int>(opt.request_timeout_s)) + " s"));
    }
    metrics.request("/v1/chat/completions", 200);
    return send_json(
        res, 200,
        chat_completion_json(run->id, created, run->request.model, *r, finish_reason(*r)));
  }

  metrics.request("/v1/chat/completions", 200);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [this, run, execute, finish_reason, account,
                                                         created](size_t, httplib::DataSink& sink) {
    auto write = [&sink](const json& j) {
      const std::string s = sse(j);
      return sink.write(s.data(), s.size());
    };
    Result<ChatResult> r = execute(write);
    if (!r) {
      if (!run->client_gone) {
        ApiError e = api_error(500, "server_error", r.status().message());
        write(e.to_json());
      }
    } else {
      account(*r);
      if (run->timed_out) {
        write(api_error(504, "timeout", "the request ran past the server's time limit").to_json());
      } else if (!run->client_gone) {
        write(chat_chunk_json(run->id, created, run->request.model, json::object(),
                              finish_reason(*r)));
        if (run->request.include_usage) {
          json usage = chat_chunk_json(run->id, created, run->request.model, json::object());
          usage["choices"] = json::array();
          usage["usage"] = usage_json(r->usage);
          write(usage);
        }
      }
    }
    if (!run->client_gone) {
      static const std::string done = "data: [DONE]\n\n";
      sink.write(done.data(), done.size());
    }
    sink.done();
    return true;
  });
}

// ---- /v1/completions ----------------------------------------------------------------------

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res) {
  auto request = std::make_shared<CompletionRequest>();
  if (auto e = parse_completion(req.body, limits, request.get())) {
    metrics.request("/v1/completions", e->status);
    return send_error(res, *e);
  }
  if (!known_model(request->model)) {
    metrics.request("/v1/completions", 404);
    return send_error(
        res, api_error(404, "invalid_request_error",
                       "the model \"" + request->model + "\" does not exist", "model_not_found"));
  }
  ApiError busy;
  std::shared_ptr<Lease> lease = acquire(deadline(), &busy);
  if (!lease) {
    metrics.request("/v1/completions", 503);
    return send_error(res, busy);
  }
  const std::string id = "cmpl-" + random_hex(24);
  const int64_t created = unix_now();
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point until = deadline();
  auto chunk = [id, created, request](const std::string& text, json finish) {
    return json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", request->model},
                {"choices", json::array({{{"index", 0},
                                          {"text", text},
                                          {"logprobs", nullptr},
                                          {"finish_reason", std::move(finish)}}})}};
  };
  auto execute = [this, request, lease, t0, until](const TokenCallback& on_piece,
                                                   bool* gone) -> Result<GenerateResult> {
    GenerateParams p;
    p.max_tokens = request->max_tokens;
    p.sampling = request->sampling;
    p.stop = request->stop;
    bool first = true;
    auto cb = [&](int32_t id, const std::string& piece) {
      if (first) {
        first = false;
        metrics.time_to_first_token(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      if (Clock::now() > until) return false;
      if (on_piece && !on_piece(id, piece)) {
        *gone = true;
        return false;
      }
      return true;
    };
    Result<GenerateResult> r =
        lease->slot->engine->generator().generate_text(request->prompt, p, cb);
    if (r) {
      metrics.tokens(static_cast<int64_t>(r->prompt_ids.size()), r->timings.cached_tokens,
                     r->timings.generated_tokens, 0);
    }
    return r;
  };
  auto finish = [](const GenerateResult& r) {
    return std::string(
        r.stop_reason == StopReason::kLength || r.stop_reason == StopReason::kContextFull ? "length"
                                                                                          : "stop");
  };
  auto usage = [](const GenerateResult& r) {
    const int64_t p = static_cast<int64_t>(r.prompt_ids.size());
    return json{{"prompt_tokens", p},
                {"completion_tokens", r.timings.generated_tokens},
                {"total_tokens", p + r.timings.generated_tokens}};
  };
  if (!request->stream) {
    bool gone = false;
    Result<GenerateResult> r = execute({}, &gone);
    if (!r) {
      const int status = r.status().code() == StatusCode::kInvalidArgument ? 400 : 500;
      metrics.request("/v1/completions", status);
      return send_error(res, api_error(status, "invalid_request_error", r.status().message()));
    }
    json body = chunk((request->echo ? request->prompt : "") + r->text, finish(*r));
    body["usage"] = usage(*r);
    metrics.request("/v1/completions", 200);
    return send_json(res, 200, body);
  }
  metrics.request("/v1/completions", 200);
  res.set_chunked_content_provider("text/event-stream", [this, request, execute, chunk, finish,
                                                         usage](size_t, httplib::DataSink& sink) {
    auto write = [&sink](const json& j) {
      const std::string s = sse(j);
      return sink.write(s.data(), s.size());
    };
    bool gone = false;
    if (request->echo) write(chunk(request->prompt, nullptr));
    Result<GenerateResult> r = execute(
        [&](int32_t, const std::string& piece) { return write(chunk(piece, nullptr)); }, &gone);
    if (!r) {
      write(api_error(500, "server_error", r.status().message()).to_json());
    } else if (!gone) {
      write(chunk("", finish(*r)));
      if (request->include_usage) {
        json u = chunk("", nullptr);
        u["choices"] = json::array();
        u["usage"] = usage(*r);
        write(u);
      }
    }
    if (gone) metrics.cancelled();
    static const std::string done = "data: [DONE]\n\n";
    if (!gone) sink.write(done.data(), done.size());
    sink.done();
    return true;
  });
}

// ---- /v1/embeddings -----------------------------------------------------------------------

void Server::Impl::embeddings(const httplib::Request& req, httplib::Response& res) {
  EmbeddingRequest request;
  if (auto e = parse_embedding(req.body, limits, &request)) {
    metrics.request("/v1/embeddings", e->status);
    return send_error(res, *e);
  }
  if (!embedder) {
    metrics.request("/v1/embeddings", 404);
    return send_error(res, api_error(404, "invalid_request_error",
                                     "this server has no embedding model (fetch one with `r1 "
                                     "models fetch all-minilm-l6-v2` or give --embedding-model)",
                                     "model_not_found"));
  }
  if (request.model != embedding_id) {
    metrics.request("/v1/embeddings", 404);
    return send_error(res,
                      api_error(404, "invalid_request_error",
                                "the embedding model \"" + request.model +
                                    "\" does not exist (this server has \"" + embedding_id + "\")",
                                "model_not_found"));
  }
  if (request.dimensions && *request.dimensions != embedder->dim()) {
    metrics.request("/v1/embeddings", 400);
    return send_error(res, bad_request("dimensions must be " + std::to_string(embedder->dim()) +
                                           " for " + embedding_id,
                                       "dimensions"));
  }
  int64_t tokens = 0;
  Result<std::vector<float>> vectors = [&]() -> Result<std::vector<float>> {
    std::lock_guard<std::mutex> lock(embed_mu);
    for (const std::string& s : request.input)
      tokens += static_cast<int64_t>(embedder->encode(s).size());
    return embedder->embed(request.input);
  }();
  if (!vectors) {
    metrics.request("/v1/embeddings", 500);
    return send_error(res, api_error(500, "server_error", vectors.status().message()));
  }
  const int64_t dim = embedder->dim();
  json data = json::array();
  for (size_t i = 0; i < request.input.size(); ++i) {
    const float* v = vectors->data() + i * static_cast<size_t>(dim);
    json emb = request.base64 ? json(base64_encode(v, static_cast<size_t>(dim) * sizeof(float)))
                              : json(std::vector<float>(v, v + dim));
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(emb)}});
  }
  metrics.request("/v1/embeddings", 200);
  send_json(res, 200,
            {{"object", "list"},
             {"data", data},
             {"model", embedding_id},
             {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

// ---- agents -------------------------------------------------------------------------------

std::optional<ApiError> Server::Impl::check_agent_access(const httplib::Request& req,
                                                         const AgentEntry& a) {
  const ApiKey* key = key_for(req);
  if (!key) return std::nullopt;  // no keys configured (the pre-routing check passed)
  if (key->agents && !key->agents->count(a.name)) {
    return api_error(403, "permission_error",
                     "this API key may not run the agent \"" + a.name + "\"", "forbidden");
  }
  if (key->tools) {
    for (const ToolRef& t : a.spec.tools) {
      if (!key->tools->count(t.name)) {
        return api_error(403, "permission_error",
                         "this API key may not use the tool \"" + t.name +
                             "\", which the agent \"" + a.name + "\" holds",
                         "forbidden");
      }
    }
  }
  return std::nullopt;
}

std::shared_ptr<RunRecord> Server::Impl::find_run(const std::string& id) {
  std::lock_guard<std::mutex> lock(runs_mu);
  auto it = runs.find(id);
  return it == runs.end() ? nullptr : it->second;
}

void Server::Impl::remember_run(const std::shared_ptr<RunRecord>& rec) {
  std::lock_guard<std::mutex> lock(runs_mu);
  runs[rec->run_id] = rec;
  run_order.push_back(rec->run_id);
  // Keep the last 1000 runs in memory (the agent database keeps them all).
  while (run_order.size() > 1000) {
    auto it = runs.find(run_order.front());
    if (it != runs.end()) {
      std::lock_guard<std::mutex> rl(it->second->mu);
      if (it->second->status == "running") break;
      runs.erase(it);
    }
    run_order.pop_front();
  }
}

void Server::Impl::agent_run(const httplib::Request& req, httplib::Response& res) {
  const std::string endpoint = "/v1/agents/runs";
  const std::string name = req.matches[1];
  auto it = agents.find(name);
  if (it == agents.end()) {
    metrics.request(endpoint, 404);
    return send_error(res, api_error(404, "invalid_request_error",
                                     "no agent named \"" + name + "\"", "agent_not_found"));
  }
  const AgentEntry& agent = it->second;
  if (auto e = check_agent_access(req, agent)) {
    metrics.request(endpoint, 403);
    return send_error(res, *e);
  }
  Result<json> body = parse_json(req.body);
  if (!body || !body->is_object()) {
    metrics.request(endpoint, 400);
    return send_error(
        res, bad_request(body ? "the request body must be a JSON object"
                              : "the request body is not valid JSON: " + body.status().message()));
  }
  auto options = std::make_shared<RunOptions>();
  bool stream = true;
  const json& b = *body;
  auto str_field = [&](const char* key, std::string* out) -> std::optional<ApiError> {
    if (!b.contains(key) || b[key].is_null()) return std::nullopt;
    if (!b[key].is_string()) return bad_request(std::string(key) + " must be a string", key);
    *out = b[key].get<std::string>();
    return std::nullopt;
  };
  std::optional<ApiError> err = str_field("input", &options->input);
  if (!err) err = str_field("session_id", &options->session_id);
  if (!err) err = str_field("resume_run_id", &options->resume_run_id);
  if (!err && b.contains("stream") && !b["stream"].is_null()) {
    if (!b["stream"].is_boolean()) {
      err = bad_request("stream must be a boolean", "stream");
    } else {
      stream = b["stream"].get<bool>();
    }
  }
  if (!err && b.contains("inputs") && !b["inputs"].is_null()) {
    if (!b["inputs"].is_object()) {
      err = bad_request("inputs must be an object of strings", "inputs");
    } else {
      for (const auto& [k, v] : b["inputs"].items()) {
        if (!v.is_string()) {
          err = bad_request("inputs." + k + " must be a string", "inputs");
          break;
        }
        options->inputs[k] = v.get<std::string>();
      }
    }
  }
  if (!err && options->input.empty() && options->resume_run_id.empty()) {
    err = bad_request("input is required", "input");
  }
  if (err) {
    metrics.request(endpoint, err->status);
    return send_error(res, *err);
  }
  ApiError busy;
  std::shared_ptr<Lease> lease = acquire(deadline(), &busy);
  if (!lease) {
    metrics.request(endpoint, 503);
    return send_error(res, busy);
  }
  auto rec = std::make_shared<RunRecord>();
  rec->agent = name;
  const AgentSpec spec = agent.spec;
  const int threads = opt.threads;
  const double approval_timeout = opt.approval_timeout_s;

  // Runs the agent; `write` sends SSE text (false once the client is gone) or is empty.
  auto execute = [this, rec, lease, options, spec, threads,
                  approval_timeout](const std::function<bool(const std::string&)>& write) -> json {
    std::atomic<bool> cancelled{false};
    std::atomic<bool> gone{false};
    json final_event;
    auto send = [&](const std::string& text) {
      if (write && !gone && !write(text)) {
        gone = true;
        cancelled = true;
      }
    };
    auto push = [&](json ev) {
      {
        std::lock_guard<std::mutex> lock(rec->mu);
        rec->events.push_back(ev);
      }
      send(sse(ev));
    };
    RunOptions ro = *options;
    ro.cancelled = &cancelled;
    ro.on_event = [&](const AgentEvent& e) {
      json j = e.to_json();
      if (e.kind == AgentEvent::Kind::kRunStart) {
        {
          std::lock_guard<std::mutex> lock(rec->mu);
          rec->run_id = e.run_id;
        }
        remember_run(rec);
      }
      if (e.kind == AgentEvent::Kind::kFinal) {
        final_event = j;  // sent once the session id is known
        return;
      }
      push(std::move(j));
    };
    // Called on the run's thread (this one): waits for POST .../approvals, pinging a
    // streaming client every second so one that went away is noticed.
    ro.approve = [&](const ToolCall& call, const std::string& reason) {
      const std::string approval_id = "appr_" + random_hex(16);
      {
        std::lock_guard<std::mutex> lock(rec->mu);
        rec->approvals[approval_id] = Approval{call, reason, false, false};
      }
      push({{"event", "approval_required"},
            {"run_id", rec->run_id},
            {"approval_id", approval_id},
            {"call", {{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}}},
            {"reason", reason}});
      const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(approval_timeout));
      std::unique_lock<std::mutex> lock(rec->mu);
      while (!rec->approvals[approval_id].decided && !gone && Clock::now() < until) {
        rec->cv.wait_until(lock, std::min(until, Clock::now() + std::chrono::seconds(1)));
        if (!rec->approvals[approval_id].decided) {
          lock.unlock();
          send(": waiting for approval\n\n");
          lock.lock();
        }
      }
      Approval& a = rec->approvals[approval_id];
      if (!a.decided) {
        a.decided = true;  // nobody answered in time, or nobody is left to answer
        a.approved = false;
      }
      return a.approved;
    };
    Runtime rt(RuntimeOptions{threads});
    rt.set_engine(lease->slot->engine.get());
    Result<RunResult> r = rt.run(spec, ro);
    json result;
    if (!r) {
      result = {{"event", "error"},
                {"run_id", rec->run_id},
                {"error", {{"message", r.status().message()}, {"type", "server_error"}}}};
      push(result);
    } else {
      if (final_event.is_null()) final_event = {{"event", "final"}, {"run_id", r->run_id}};
      final_event["session_id"] = r->session_id;
      final_event["stop_reason"] = r->stop_reason;
      final_event["steps"] = r->steps;
      final_event["tool_calls"] = r->tool_calls;
      final_event["tokens"] = r->tokens;
      if (!r->error.empty()) final_event["error"] = r->error;
      push(final_event);
      result = final_event;
    }
    {
      std::lock_guard<std::mutex> lock(rec->mu);
      rec->status = r ? "completed" : "failed";
      rec->result = result;
    }
    if (gone) metrics.cancelled();
    return result;
  };

  metrics.request(endpoint, 200);
  if (!stream) {
    json result = execute({});
    json out = {{"run_id", rec->run_id}, {"agent", name}, {"status", rec->status}};
    {
      std::lock_guard<std::mutex> lock(rec->mu);
      out["events"] = rec->events;
    }
    out["result"] = result;
    return send_json(res, 200, out);
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [execute](size_t, httplib::DataSink& sink) {
    auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
    execute(write);
    static const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  });
}

std::shared_ptr<RunRecord> Server::Impl::run_for_request(const httplib::Request& req,
                                                         httplib::Response& res) {
  const std::string name = req.matches[1];
  const std::string id = req.matches[2];
  auto it = agents.find(name);
  std::shared_ptr<RunRecord> rec = find_run(id);
  if (it == agents.end() || !rec || rec->agent != name) {
    send_error(res, api_error(404, "invalid_request_error",
                              "no run " + id + " of agent \"" + name + "\"", "run_not_found"));
    return nullptr;
  }
  if (auto e = check_agent_access(req, it->second)) {
    send_error(res, *e);
    return nullptr;
  }
  return rec;
}

// A run this server no longer holds in memory (older than the last 1000, or from before a
// restart), read back from the agent's database: its outcome and tool calls, not its events.
bool Server::Impl::stored_run(const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];
  const std::string id = req.matches[2];
  auto it = agents.find(name);
  if (it == agents.end() || find_run(id)) return false;
  if (auto e = check_agent_access(req, it->second)) {
    send_error(res, *e);
    return true;
  }
  Result<std::unique_ptr<AgentStore>> store =
      AgentStore::open(Runtime::db_path_for(it->second.spec));
  if (!store) return false;
  Result<r1::RunRecord> run = (*store)->load_run(id);
  if (!run || run->agent_name != it->second.spec.name) return false;
  json calls = json::array();
  for (const ToolCallRecord& c : run->tool_calls) {
    calls.push_back({{"id", c.call_id}, {"name", c.tool_name}, {"status", c.status}});
  }
  send_json(res, 200,
            {{"run_id", run->run_id},
             {"agent", name},
             {"status", run->status == "finished" ? "completed" : "interrupted"},
             {"source", "database"},
             {"pending_approvals", json::array()},
             {"events", json::array()},
             {"result",
              {{"event", "final"},
               {"run_id", run->run_id},
               {"session_id", run->session_id},
               {"stop_reason", run->stop_reason},
               {"text", run->final_answer},
               {"steps", run->steps_done},
               {"tool_calls", calls}}}});
  return true;
}

void Server::Impl::agent_run_get(const httplib::Request& req, httplib::Response& res) {
  if (stored_run(req, res)) return;
  std::shared_ptr<RunRecord> rec = run_for_request(req, res);
  if (!rec) return;
  const std::string id = req.matches[2];
  std::lock_guard<std::mutex> lock(rec->mu);
  json pending = json::array();
  for (const auto& [aid, a] : rec->approvals) {
    if (!a.decided) {
      pending.push_back(
          {{"approval_id", aid},
           {"call", {{"id", a.call.id}, {"name", a.call.name}, {"arguments", a.call.arguments}}},
           {"reason", a.reason}});
    }
  }
  send_json(res, 200,
            {{"run_id", rec->run_id},
             {"agent", rec->agent},
             {"status", rec->status},
             {"pending_approvals", pending},
             {"events", rec->events},
             {"result", rec->result}});
}

void Server::Impl::agent_approval(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<RunRecord> rec = run_for_request(req, res);
  if (!rec) return;
  const std::string id = req.matches[2];
  Result<json> body = parse_json(req.body);
  if (!body || !body->is_object() || !body->contains("approval_id") ||
      !(*body)["approval_id"].is_string() || !body->contains("approve") ||
      !(*body)["approve"].is_boolean()) {
    return send_error(res, bad_request("expected {\"approval_id\": string, \"approve\": boolean}"));
  }
  const std::string aid = (*body)["approval_id"].get<std::string>();
  {
    std::lock_guard<std::mutex> lock(rec->mu);
    auto a = rec->approvals.find(aid);
    if (a == rec->approvals.end()) {
      return send_error(
          res, api_error(404, "invalid_request_error", "no approval " + aid + " in run " + id,
                         "approval_not_found"));
    }
    if (a->second.decided) {
      return send_error(res, api_error(409, "invalid_request_error",
                                       "approval " + aid + " was already decided (" +
                                           (a->second.approved ? "approved" : "denied") + ")",
                                       "already_decided"));
    }
    a->second.decided = true;
    a->second.approved = (*body)["approve"].get<bool>();
  }
  rec->cv.notify_all();
  send_json(res, 200, {{"approval_id", aid}, {"approved", (*body)["approve"].get<bool>()}});
}

}  // namespace r1::server
