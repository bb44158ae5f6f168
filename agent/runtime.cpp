#include "agent/runtime.h"

#include <cstdlib>
#include <filesystem>

#include "engine/model_store.h"
#include "engine/native_engine.h"
#include "engine/remote_engine.h"

namespace r1 {

namespace {
constexpr int kMaxDepth = 4;  // sub-agent nesting
}

// One request at a time per engine, whoever asks (an agent, its sub-agents, other runs).
class Runtime::LockedEngine : public Engine {
 public:
  explicit LockedEngine(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
  Result<ChatResult> chat(const ChatRequest& request, const ChatEventCallback& on_event) override {
    std::lock_guard<std::mutex> lock(mu_);
    return engine_->chat(request, on_event);
  }
  std::string_view format_name() const override { return engine_->format_name(); }

 private:
  std::mutex mu_;
  std::unique_ptr<Engine> engine_;
};

Runtime::Runtime(RuntimeOptions options) : options_(options) {}
Runtime::~Runtime() = default;

Status Runtime::register_tool(Tool tool) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!is_valid_tool_name(tool.name)) {
    return Status::invalid("tool name \"" + tool.name + "\" is not [A-Za-z0-9_.-]{1,64}");
  }
  for (const Tool& t : registered_) {
    if (t.name == tool.name)
      return Status::invalid("tool \"" + tool.name + "\" is registered twice");
  }
  // The registry checks the schema and handler; try it once here so errors come early.
  ToolRegistry probe;
  R1_RETURN_IF_ERROR(probe.add(tool));
  registered_.push_back(std::move(tool));
  return Status::ok();
}

Result<AgentSpec> Runtime::load_agent(const std::string& path) const {
  return load_agent_spec(path);
}

std::string Runtime::db_path_for(const AgentSpec& spec) {
  return spec.memory.db.empty() ? default_agent_db_path() : spec.memory.db;
}

Result<Engine*> Runtime::engine_for(const ModelSpec& m) {
  if (engine_override_) return engine_override_;
  std::lock_guard<std::mutex> lock(mu_);
  if (m.engine == "remote") {
    const std::string key = "remote|" + m.url + "|" + m.model + "|" + m.api_key_env;
    auto it = engines_.find(key);
    if (it != engines_.end()) return static_cast<Engine*>(it->second.get());
    RemoteOptions o;
    o.base_url = m.url;
    o.model = m.model;
    if (!m.api_key_env.empty()) {
      const char* key_value = std::getenv(m.api_key_env.c_str());
      if (!key_value) {
        return Status::invalid("model.api_key_env names " + m.api_key_env + ", which is not set");
      }
      o.api_key = key_value;
    }
    Result<std::unique_ptr<RemoteEngine>> e = RemoteEngine::create(o);
    if (!e) return e.status();
    auto locked = std::make_unique<LockedEngine>(std::move(e.value()));
    Engine* out = locked.get();
    engines_[key] = std::move(locked);
    return out;
  }
  Result<std::string> path = resolve_model_path(m.path);
  if (!path) return path.status();
  const std::string key = "native|" + *path + "|" + m.format + "|" + std::to_string(m.context);
  auto it = engines_.find(key);
  if (it != engines_.end()) return static_cast<Engine*>(it->second.get());
  if (!pool_) pool_ = std::make_unique<ThreadPool>(options_.threads);
  auto mit = models_.find(*path);
  if (mit == models_.end()) {
    Result<std::unique_ptr<Model>> model = load_model(*path);
    if (!model) return model.status();
    mit = models_.emplace(*path, std::move(model.value())).first;
  }
  R1_RETURN_IF_ERROR(mit->second->check_context(m.context));
  Result<std::unique_ptr<NativeEngine>> e =
      NativeEngine::create(*mit->second, *pool_, m.context, m.format);
  if (!e) return e.status();
  auto locked = std::make_unique<LockedEngine>(std::move(e.value()));
  Engine* out = locked.get();
  engines_[key] = std::move(locked);
  return out;
}

Result<AgentStore*> Runtime::store_for(const std::string& path, int depth) {
  std::lock_guard<std::mutex> lock(mu_);
  // Nested runs get their own connection: the parent's is in use on another thread.
  const std::string key = path + "#" + std::to_string(depth);
  auto it = stores_.find(key);
  if (it != stores_.end()) return it->second.get();
  Result<std::unique_ptr<AgentStore>> s = AgentStore::open(path);
  if (!s) return s.status();
  AgentStore* out = s->get();
  stores_[key] = std::move(s.value());
  return out;
}

Result<FactStore*> Runtime::facts_for(const std::string& path, const std::string& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = path + "#" + scope;
  auto it = facts_.find(key);
  if (it != facts_.end()) return static_cast<FactStore*>(it->second.get());
  Result<std::unique_ptr<MemoryFactStore>> f = MemoryFactStore::open(path, scope);
  if (!f) return f.status();
  FactStore* out = f->get();
  facts_[key] = std::move(f.value());
  return out;
}

Result<RunResult> Runtime::run(const AgentSpec& spec, const RunOptions& options) {
  return run_nested(spec, options, 0);
}

Result<RunResult> Runtime::run_nested(const AgentSpec& spec, const RunOptions& options, int depth) {
  Result<Engine*> engine = engine_for(spec.model);
  if (!engine) return engine.status();
  const std::string db = db_path_for(spec);
  Result<AgentStore*> store = store_for(db, depth);
  if (!store) return store.status();

  FactStore* facts = nullptr;
  for (const ToolRef& t : spec.tools) {
    if (t.name == "remember" || t.name == "recall") {
      Result<FactStore*> f = facts_for(db, spec.name);
      if (!f) return f.status();
      facts = *f;
    }
  }
  std::vector<Tool> registered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    registered = registered_;
  }
  // A sub-agent is a tool taking {"task": string} and returning the sub-agent's answer.
  SubAgentToolFactory sub_agents = [this, depth](const SubAgentSpec& sub) -> Result<Tool> {
    Result<AgentSpec> child = load_agent_spec(sub.path);
    if (!child) return child.status();
    Tool t;
    t.name = sub.name;
    t.description = sub.description.empty() ? child->description : sub.description;
    t.parameters = {{"type", "object"},
                    {"properties",
                     {{"task", {{"type", "string"}, {"description", "What the agent should do"}}}}},
                    {"required", {"task"}}};
    t.timeout_s = child->limits.timeout_s;
    AgentSpec child_spec = child.value();
    t.handler = [this, child_spec, depth](const nlohmann::json& args,
                                          const ToolContext& ctx) -> Result<ToolOutput> {
      if (depth + 1 >= kMaxDepth) {
        return tool_error("sub-agents are nested too deeply (at most " + std::to_string(kMaxDepth) +
                          ")");
      }
      RunOptions o;
      o.input = args.value("task", "");
      o.cancelled = ctx.cancelled;
      Result<RunResult> r = run_nested(child_spec, o, depth + 1);
      if (!r) return tool_error(r.status().message());
      if (r->stop_reason != "final") {
        return tool_error("the sub-agent stopped (" + r->stop_reason + ")" +
                          (r->error.empty() ? "" : ": " + r->error));
      }
      return tool_ok(r->answer);
    };
    return t;
  };
  Result<std::unique_ptr<ToolRegistry>> tools =
      make_agent_tools(spec, registered, facts, sub_agents);
  if (!tools) return tools.status();
  Result<std::unique_ptr<Agent>> agent = Agent::create(spec, **engine, **tools, **store);
  if (!agent) return agent.status();
  return (*agent)->run(options);
}

}  // namespace r1
