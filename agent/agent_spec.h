// AgentSpec: an agent as its YAML file describes it.
//
// Loaded strictly: an unknown key, a wrong type or a missing required field is an error naming
// the file, line and column. The format is specified in docs/agents.md and as a JSON Schema in
// schemas/agent.schema.json (for editors). Plain values; thread-safe to read.
//
//   name: research-assistant            # required, [A-Za-z0-9_.-]{1,64}
//   description: Answers from my papers
//   model:
//     engine: native                     # native | remote
//     path: smollm2-135m-instruct-q4_1   # native: GGUF path or known model name ("" = default)
//     url: http://127.0.0.1:8000/v1      # remote: OpenAI-compatible base URL
//     model: deepseek-reasoner           # remote: model id
//     api_key_env: DEEPSEEK_API_KEY      # remote: environment variable holding the key
//     format: deepseek-r1                # chat format; default: from the model
//     context: 4096                      # tokens (native)
//     sampling: {temperature: 0.6, top_p: 0.95, top_k: 40, min_p: 0.05, seed: 0}
//     thinking: {budget: 512, min: 0, grace: 24, wrap_up: "...", think: false}
//     tool_choice: auto                  # auto | required | none | TOOL (until the first result)
//   instructions: |                      # system prompt; {name} is filled from inputs
//     You are {persona}. Cite sources.
//   inputs: {persona: "a careful research assistant"}   # defaults for the placeholders
//   tools:                               # built-in or registered tool names, or declarations
//     - calculator
//     - name: weather
//       http: {method: GET, url: "https://api.example/weather?city={city}"}
//       description: ...
//       parameters: {type: object, properties: {city: {type: string}}, required: [city]}
//     - name: wc
//       command: {argv: ["wc", "-l", "{path}"], timeout_s: 5}
//       description: ...
//       parameters: {...}
//   tool_options:                        # configuration of built-in tools
//     read_file: {root: ./docs}
//     http_get: {allow_hosts: [example.org], max_bytes: 1000000, timeout_s: 10}
//     sqlite_query: {db: ./data.db}
//     command: {allow: [wc, grep], timeout_s: 10, max_output_bytes: 65536}
//   limits: {max_steps: 8, max_tool_calls: 16, max_tokens: 8192, timeout_s: 300,
//            max_tokens_per_step: 1024, max_malformed_calls: 2}
//   memory: {db: ~/.local/share/r1/agents.db, session: continue}   # continue | new
//   policies:
//     default: allow                     # allow | deny (deny-by-default)
//     allow: [calculator]                # always allowed (unless denied)
//     deny: [command]
//     approval: {default: never, tools: {http_get: always}}   # never | always
//     rules:
//       - {tool: read_file, arg: path, path_prefix: ["notes/"]}
//       - {tool: http_get, arg: url, hosts: [example.org]}
//       - {tool: create_event, arg: day, min: 1, max: 31}
//     redact: {builtin: true, patterns: ["ACME-[0-9]{6}"]}
//   sub_agents: [{name: summarizer, path: summarizer.yaml, description: ...}]
//   retrieval: {index: papers, k: 5, mode: hybrid}
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace r1 {

struct ModelSpec {
  std::string engine = "native";  // native | remote
  std::string path;               // native: GGUF path or known model name; "" = default model
  std::string url;                // remote: base URL ending in /v1
  std::string model;              // remote: model id
  std::string api_key_env;        // remote: name of the environment variable with the API key
  std::string format;             // chat format name; "" = from the model
  int64_t context = 4096;         // tokens (native)
  // Sampling (defaults are R1's recommended ones).
  float temperature = 0.6f;
  float top_p = 0.95f;
  int32_t top_k = 40;
  float min_p = 0.05f;
  uint64_t seed = 0;
  // Thinking.
  int32_t thinking_budget = -1;  // tokens per step; -1 unlimited
  int32_t thinking_min = 0;
  int32_t thinking_grace = 24;
  std::optional<std::string> wrap_up;  // unset: the engine's default
  bool think = false;                  // open thinking for models whose format does not
  // auto | required | none | a tool name. required and a tool name bind until the run's first
  // tool result (later steps are auto), so a small model is made to use its tools once and
  // still answers.
  std::string tool_choice = "auto";
};

struct HttpToolDecl {
  std::string method = "GET";
  std::string url;  // may hold {param} placeholders, URL-encoded when filled
  std::map<std::string, std::string> headers;
  double timeout_s = 10;
  int64_t max_bytes = 1 << 20;
};

struct CommandToolDecl {
  std::vector<std::string> argv;  // may hold {param} placeholders; argv only, no shell
  double timeout_s = 10;
  int64_t max_output_bytes = 1 << 16;
};

struct ToolRef {
  std::string name;
  std::string description;                 // declared tools
  nlohmann::json parameters;               // declared tools: JSON Schema (null for references)
  std::optional<HttpToolDecl> http;        // a YAML-declared http tool
  std::optional<CommandToolDecl> command;  // a YAML-declared command tool
  int32_t line = 0;                        // where it was declared (for errors), 1-based
  int32_t column = 0;                      // 1-based
};

struct LimitsSpec {
  int32_t max_steps = 8;
  int32_t max_tool_calls = 16;
  int64_t max_tokens = 16384;  // generated tokens over the run, thinking included
  double timeout_s = 600;
  int32_t max_tokens_per_step = 1024;
  int32_t max_malformed_calls = 2;  // malformed calls fed back before the run stops with error
};

struct MemorySpec {
  std::string db;                    // "" = ${XDG_DATA_HOME:-~/.local/share}/r1/agents.db
  std::string session = "continue";  // continue | new
};

struct ArgumentRuleSpec {
  std::string tool;
  std::string arg;                       // top-level argument name
  std::vector<std::string> path_prefix;  // the value must be a path under one of these
  std::vector<std::string> hosts;        // the value must be a URL on one of these hosts
  std::optional<double> min, max;        // numeric bounds
};

struct PolicySpecYaml {
  std::string default_decision = "allow";  // allow | deny
  std::vector<std::string> allow, deny;
  std::string approval_default = "never";       // never | always
  std::map<std::string, std::string> approval;  // tool -> never | always
  std::vector<ArgumentRuleSpec> rules;
  bool redact_builtin = true;
  std::vector<std::string> redact_patterns;  // ECMAScript regexes
};

struct SubAgentSpec {
  std::string name;
  std::string path;  // relative to the parent's file
  std::string description;
};

struct RetrievalSpec {
  std::string index;  // "" = no retrieval
  int32_t k = 5;
  std::string mode = "hybrid";  // hybrid | vector | keyword
};

struct AgentSpec {
  std::string file;  // where it was loaded from ("" for a string)
  std::string name;
  std::string description;
  ModelSpec model;
  std::string instructions;
  std::map<std::string, std::string> inputs;  // placeholder -> default value
  std::vector<std::string> required_inputs;   // declared with no default (`persona: ~`)
  std::vector<ToolRef> tools;
  nlohmann::json tool_options = nlohmann::json::object();  // built-in tool name -> options
  LimitsSpec limits;
  MemorySpec memory;
  PolicySpecYaml policies;
  std::vector<SubAgentSpec> sub_agents;
  RetrievalSpec retrieval;
};

// Loads and checks a spec. kInvalidArgument "FILE:LINE:COLUMN: what is wrong" for malformed YAML,
// unknown keys, wrong types, missing fields, bad values; kNotFound for a missing file.
Result<AgentSpec> load_agent_spec(const std::string& path);
Result<AgentSpec> parse_agent_spec(const std::string& yaml_text, const std::string& file_name);

// The YAML document as JSON, with the scalar typing the loader uses (YAML 1.2 core schema: quoted
// scalars are strings, yes/no are strings, 0x1F is 31): what schemas/agent.schema.json describes.
// kInvalidArgument "FILE:LINE:COLUMN: ..." for malformed YAML, duplicate or non-string keys, values
// with no JSON form (.inf, .nan) and nesting deeper than 100 levels.
Result<nlohmann::json> agent_yaml_to_json(const std::string& yaml_text,
                                          const std::string& file_name);

// instructions with {name} replaced from `values`, then spec.inputs; an unknown placeholder is
// an error naming it, and so is an input declared without a default (~) that `values` lacks.
// "{{" and "}}" stand for literal braces.
Result<std::string> render_instructions(const AgentSpec& spec,
                                        const std::map<std::string, std::string>& values);

}  // namespace r1
