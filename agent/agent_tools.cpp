#include "agent/agent_tools.h"

#include "retrieval/search_tool.h"
#include "tools/calculator.h"
#include "tools/command.h"
#include "tools/current_time.h"
#include "tools/fact_tools.h"
#include "tools/http_get.h"
#include "tools/list_dir.h"
#include "tools/read_file.h"
#include "tools/sqlite_query.h"

namespace r1 {

Result<std::unique_ptr<MemoryFactStore>> MemoryFactStore::open(const std::string& db_path,
                                                               const std::string& scope) {
  Result<std::unique_ptr<AgentStore>> s = AgentStore::open(db_path);
  if (!s) return s.status();
  return std::unique_ptr<MemoryFactStore>(new MemoryFactStore(std::move(s.value()), scope));
}

Result<int64_t> MemoryFactStore::remember(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  return store_->remember(scope_, text);
}

Result<std::vector<std::string>> MemoryFactStore::recall(const std::string& query, int k) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<std::vector<Fact>> facts = store_->recall(scope_, query, k);
  if (!facts) return facts.status();
  std::vector<std::string> out;
  for (const Fact& f : *facts) out.push_back(f.text);
  return out;
}

namespace {

// Options of one built-in: tool_options[name], an object (or absent).
nlohmann::json options_for(const AgentSpec& spec, const std::string& name) {
  if (spec.tool_options.is_object() && spec.tool_options.contains(name) &&
      spec.tool_options[name].is_object()) {
    return spec.tool_options[name];
  }
  return nlohmann::json::object();
}

std::vector<std::string> string_list(const nlohmann::json& o, const char* key) {
  std::vector<std::string> out;
  if (o.contains(key) && o[key].is_array()) {
    for (const auto& v : o[key]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

// The spec's retrieval section as search_documents options.
SearchToolOptions search_options(const AgentSpec& spec) {
  SearchToolOptions so;
  so.index = spec.retrieval.index;
  so.k = spec.retrieval.k;
  so.mode = parse_search_mode(spec.retrieval.mode).value_or(SearchMode::kHybrid);
  return so;
}

Result<Tool> builtin_tool(const AgentSpec& spec, const std::string& name, FactStore* facts) {
  const nlohmann::json o = options_for(spec, name);
  try {
    if (name == "calculator") return make_calculator_tool();
    if (name == "current_time") return make_current_time_tool();
    if (name == "read_file") return make_read_file_tool(o.value("root", std::string(".")));
    if (name == "list_dir") return make_list_dir_tool(o.value("root", std::string(".")));
    if (name == "http_get") {
      HttpGetOptions h;
      h.allow_hosts = string_list(o, "allow_hosts");
      h.max_bytes = o.value("max_bytes", h.max_bytes);
      h.timeout_s = o.value("timeout_s", h.timeout_s);
      return make_http_get_tool(h);
    }
    if (name == "sqlite_query") {
      if (!o.contains("db")) {
        return Status::invalid(spec.file + ": tool_options.sqlite_query.db is required");
      }
      return make_sqlite_query_tool(o.value("db", std::string()));
    }
    if (name == "command") {
      CommandOptions c;
      c.allow = string_list(o, "allow");
      c.timeout_s = o.value("timeout_s", c.timeout_s);
      c.max_output_bytes = o.value("max_output_bytes", c.max_output_bytes);
      return make_command_tool(c);
    }
    if (name == "remember" || name == "recall") {
      if (!facts) return Status::internal("no fact store for " + name);
      return name == "remember" ? make_remember_tool(*facts) : make_recall_tool(*facts);
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid(spec.file + ": tool_options." + name + ": " + e.what());
  }
  if (name == "search_documents") {
    if (spec.retrieval.index.empty()) {
      return Status::invalid(spec.file + ": search_documents needs a retrieval: section (index)");
    }
    return make_search_documents_tool(search_options(spec));
  }
  return Status::not_found(name);
}

}  // namespace

Result<std::unique_ptr<ToolRegistry>> make_agent_tools(const AgentSpec& spec,
                                                       const std::vector<Tool>& registered,
                                                       FactStore* facts,
                                                       const SubAgentToolFactory& sub_agents) {
  auto reg = std::make_unique<ToolRegistry>();
  auto add = [&](Tool tool) -> Status {
    Status st = reg->add(std::move(tool));
    return st ? st : Status::invalid(spec.file + ": " + st.message());
  };
  for (const ToolRef& ref : spec.tools) {
    Result<Tool> tool = Status::not_found(ref.name);
    if (ref.http) {
      HttpToolSpec h;
      h.method = ref.http->method;
      h.url_template = ref.http->url;
      h.headers = ref.http->headers;
      h.max_bytes = ref.http->max_bytes;
      h.timeout_s = ref.http->timeout_s;
      tool = make_declared_http_tool(ref.name, ref.description, ref.parameters, h);
    } else if (ref.command) {
      tool =
          make_declared_command_tool(ref.name, ref.description, ref.parameters, ref.command->argv,
                                     ref.command->timeout_s, ref.command->max_output_bytes);
    } else {
      for (const Tool& t : registered) {
        if (t.name == ref.name) tool = t;
      }
      if (!tool) {
        for (const SubAgentSpec& sub : spec.sub_agents) {
          if (sub.name == ref.name && sub_agents) tool = sub_agents(sub);
        }
      }
      if (!tool && tool.status().code() == StatusCode::kNotFound) {
        tool = builtin_tool(spec, ref.name, facts);
      }
    }
    if (!tool) {
      if (tool.status().code() == StatusCode::kNotFound && tool.status().message() == ref.name) {
        return Status::invalid(spec.file + ":" + std::to_string(ref.line) + ": unknown tool \"" +
                               ref.name + "\" (not built in, not registered, not a sub-agent)");
      }
      return Status::invalid(spec.file + ": tool \"" + ref.name + "\": " + tool.status().message());
    }
    R1_RETURN_IF_ERROR(add(std::move(tool.value())));
  }
  // A retrieval section gives the agent search_documents, named in `tools:` or not.
  if (!spec.retrieval.index.empty() && !reg->find("search_documents")) {
    Result<Tool> tool = make_search_documents_tool(search_options(spec));
    if (!tool) return Status::invalid(spec.file + ": retrieval: " + tool.status().message());
    R1_RETURN_IF_ERROR(add(std::move(tool.value())));
  }
  // Sub-agents are tools whether or not `tools:` names them.
  for (const SubAgentSpec& sub : spec.sub_agents) {
    if (reg->find(sub.name) || !sub_agents) continue;
    Result<Tool> tool = sub_agents(sub);
    if (!tool)
      return Status::invalid(spec.file + ": sub-agent \"" + sub.name +
                             "\": " + tool.status().message());
    R1_RETURN_IF_ERROR(add(std::move(tool.value())));
  }
  return reg;
}

}  // namespace r1
