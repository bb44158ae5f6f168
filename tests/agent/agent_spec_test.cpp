// AgentSpec: the good files under tests/data/agents/good load into the values they spell out;
// every file under tests/data/agents/bad fails at the line and column its first line announces
// ("# error: LINE:COL: text"); schemas/agent.schema.json accepts every good file and rejects the
// bad ones marked "# schema: reject"; hostile inputs fail with a Status, never a crash.
#include "agent/agent_spec.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json_schema.h"
#include "tests/test_paths.h"

// Reads outside input: also run under ASan+UBSan by scripts/test.sh.
TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> yaml_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string good(const std::string& file) {
  return test::source_path("tests/data/agents/good/" + file);
}

AgentSpec load_good(const std::string& file) {
  Result<AgentSpec> r = load_agent_spec(good(file));
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return r.value();
}

// The message of a spec that must fail to parse.
std::string failure(const std::string& yaml) {
  Result<AgentSpec> r = parse_agent_spec(yaml, "t.yaml");
  REQUIRE_MESSAGE(!r.is_ok(), "parsed: " << yaml);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

json agent_schema() {
  Result<json> schema = parse_json(read_text(test::source_path("schemas/agent.schema.json")));
  REQUIRE_MESSAGE(schema.is_ok(), schema.status().message());
  return schema.value();
}

const ToolRef* find_tool(const AgentSpec& spec, const std::string& name) {
  for (const ToolRef& t : spec.tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST_CASE("agent spec: a minimal agent gets every default") {
  AgentSpec s = load_good("minimal.yaml");
  CHECK(s.file == good("minimal.yaml"));
  CHECK(s.name == "hello");
  CHECK(s.instructions == "You are a friendly assistant. Answer in one sentence.");
  CHECK(s.model.engine == "native");
  CHECK(s.model.path == "");
  CHECK(s.model.context == 4096);
  CHECK(s.model.temperature == doctest::Approx(0.6));
  CHECK(s.model.top_p == doctest::Approx(0.95));
  CHECK(s.model.top_k == 40);
  CHECK(s.model.thinking_budget == -1);
  CHECK_FALSE(s.model.wrap_up.has_value());
  CHECK(s.model.tool_choice == "auto");
  CHECK(s.tools.empty());
  CHECK(s.tool_options == json::object());
  CHECK(s.limits.max_steps == 8);
  CHECK(s.limits.max_tokens == 16384);
  CHECK(s.memory.db == "");
  CHECK(s.memory.session == "continue");
  CHECK(s.policies.default_decision == "allow");
  CHECK(s.policies.redact_builtin);
  CHECK(s.retrieval.index == "");
  CHECK(s.sub_agents.empty());
}

TEST_CASE("agent spec: a tool-using agent with policies loads every field") {
  AgentSpec s = load_good("tool-agent.yaml");
  CHECK(s.name == "ops-helper");
  CHECK(s.model.path == "smollm2-135m-instruct-q4_1");
  CHECK(s.model.context == 8192);
  CHECK(s.model.temperature == doctest::Approx(0.2));
  CHECK(s.model.top_k == 20);
  CHECK(s.model.seed == 7);
  CHECK(s.model.thinking_budget == 256);
  CHECK(s.model.wrap_up == std::optional<std::string>("Time is up; answer now."));
  CHECK(s.model.tool_choice == "weather");
  CHECK(s.inputs ==
        std::map<std::string, std::string>{{"persona", "a careful operations assistant"}});
  CHECK(s.required_inputs == std::vector<std::string>{"team"});

  REQUIRE(s.tools.size() == 6);
  CHECK(s.tools[0].name == "calculator");
  CHECK(s.tools[0].parameters.is_null());
  CHECK_FALSE(s.tools[0].http);
  CHECK(s.tools[0].line == 17);
  CHECK(s.tools[0].column == 5);
  CHECK(s.tools[3].name == "http_get");  // {name: X} is a reference too
  CHECK_FALSE(s.tools[3].http);
  CHECK(s.tools[3].parameters.is_null());

  const ToolRef* weather = find_tool(s, "weather");
  REQUIRE(weather != nullptr);
  REQUIRE(weather->http);
  CHECK(weather->description == "Current weather for a city.");
  CHECK(weather->http->method == "GET");
  CHECK(weather->http->url == "https://api.example.org/weather?city={city}&units={units}");
  CHECK(weather->http->headers.at("Accept") == "application/json");
  CHECK(weather->http->timeout_s == 5);
  CHECK(weather->http->max_bytes == 1 << 20);
  CHECK(weather->parameters["properties"]["days"]["maximum"] == 7);
  CHECK(weather->parameters["properties"]["days"]["maximum"].is_number_integer());
  CHECK(weather->parameters["properties"]["units"]["enum"] == json({"c", "f"}));
  CHECK(weather->parameters["required"] == json({"city"}));

  const ToolRef* wc = find_tool(s, "count_lines");
  REQUIRE(wc != nullptr);
  REQUIRE(wc->command);
  CHECK(wc->command->argv == std::vector<std::string>{"wc", "-l", "{path}"});
  CHECK(wc->command->timeout_s == 2.5);
  CHECK(wc->command->max_output_bytes == 4096);

  CHECK(s.tool_options["read_file"] == json({{"root", "./notes"}}));
  CHECK(s.tool_options["http_get"]["allow_hosts"] == json({"example.org"}));
  CHECK(s.tool_options["http_get"]["max_bytes"] == 100000);
  CHECK(s.tool_options["weather"] == json({{"cache_s", 60}, {"on", "yes"}}));

  CHECK(s.limits.max_steps == 6);
  CHECK(s.limits.max_tool_calls == 10);
  CHECK(s.limits.max_tokens == 4096);
  CHECK(s.limits.timeout_s == 120);
  CHECK(s.limits.max_tokens_per_step == 512);
  CHECK(s.limits.max_malformed_calls == 0);
  CHECK(s.memory.db == "/tmp/r1-ops-helper.db");
  CHECK(s.memory.session == "new");

  const PolicySpecYaml& p = s.policies;
  CHECK(p.default_decision == "deny");
  CHECK(p.allow.size() == 5);
  CHECK(p.deny == std::vector<std::string>{"command"});
  CHECK(p.approval_default == "never");
  CHECK(p.approval == std::map<std::string, std::string>{{"count_lines", "always"}});
  REQUIRE(p.rules.size() == 3);
  CHECK(p.rules[0].tool == "count_lines");
  CHECK(p.rules[0].path_prefix == std::vector<std::string>{"notes/"});
  CHECK(p.rules[1].min == 1.0);
  CHECK(p.rules[1].max == 3.0);
  CHECK(p.rules[2].hosts == std::vector<std::string>{"example.org"});
  CHECK_FALSE(p.rules[2].min);
  CHECK_FALSE(p.redact_builtin);
  CHECK(p.redact_patterns ==
        std::vector<std::string>{"ACME-[0-9]{6}", "\\bsk-[A-Za-z0-9]{20,}\\b"});
}

TEST_CASE("agent spec: the research assistant, native and remote") {
  unsetenv("R1_TEST_MODELS");
  const char* home = std::getenv("HOME");
  REQUIRE(home != nullptr);
  AgentSpec s = load_good("research-assistant.yaml");
  CHECK(s.model.format == "chatml");
  CHECK(s.model.path == std::string(home) + "/.cache/r1/models/smollm2-135m-instruct-q4_1.gguf");
  CHECK(s.model.thinking_budget == 512);
  CHECK(s.model.thinking_min == 16);
  CHECK(s.model.thinking_grace == 32);
  CHECK(s.model.think);
  CHECK(s.instructions.find("You are a research assistant. Search the papers before answering, "
                            "cite") == 0);
  CHECK(s.memory.db == std::string(home) + "/research.db");
  CHECK(s.retrieval.index == "papers");
  CHECK(s.retrieval.k == 8);
  CHECK(s.retrieval.mode == "hybrid");
  REQUIRE(s.sub_agents.size() == 1);
  CHECK(s.sub_agents[0].name == "summarizer");
  CHECK(s.sub_agents[0].path == good("summarizer.yaml"));  // against the parent's directory
  CHECK(s.sub_agents[0].description == "Summarizes one paper in five bullet points.");

  setenv("R1_TEST_MODELS", "/models", 1);
  CHECK(load_good("research-assistant.yaml").model.path ==
        "/models/smollm2-135m-instruct-q4_1.gguf");
  unsetenv("R1_TEST_MODELS");

  AgentSpec r = load_good("research-assistant-remote.yaml");
  CHECK(r.model.engine == "remote");
  CHECK(r.model.url == "http://127.0.0.1:8000/v1");
  CHECK(r.model.model == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B");
  CHECK(r.model.api_key_env == "VLLM_API_KEY");
  CHECK(r.model.min_p == 0.0f);
  CHECK(r.retrieval.mode == "keyword");
  CHECK(r.retrieval.k == 5);
  CHECK(r.sub_agents[0].path == good("summarizer.yaml"));  // normalized
  CHECK(r.sub_agents[0].description == "");

  AgentSpec sum = load_good("summarizer.yaml");
  CHECK(sum.inputs == std::map<std::string, std::string>{
                          {"paper", "the given paper"}, {"year", "2024"}, {"draft", "false"}});
}

TEST_CASE("agent spec: scalars are typed by the YAML 1.2 core schema") {
  AgentSpec s = load_good("yaml-typing.yaml");
  CHECK(s.name == "0x10");
  CHECK(s.description == "yes");  // not a boolean: YAML 1.2
  CHECK(s.inputs.at("word") == "on");
  CHECK(s.inputs.at("count") == "0x1F");  // as written
  REQUIRE(s.tools.size() == 1);
  const ToolRef& t = s.tools[0];
  CHECK(t.name == "007");
  CHECK(t.description == "Looks up an agent by code.\n");
  const json& props = t.parameters["properties"];
  CHECK(props["code"]["enum"] == json({"007", "no", "off", "12"}));
  CHECK(props["strict"]["default"] == "yes");
  CHECK(props["level"]["minimum"] == 8);
  CHECK(props["level"]["maximum"] == 32);
  CHECK(props["level"]["maximum"].is_number_integer());
  CHECK(props["weight"]["minimum"] == -1000.0);
  CHECK(props["weight"]["minimum"].is_number_float());
  CHECK(props["weight"]["maximum"] == 150.0);
  CHECK(t.parameters["additionalProperties"] == false);

  Result<json> j = agent_yaml_to_json("a: [1, 1.5, true, ~, '1', yes, 0o17, -0x1]\n", "t.yaml");
  REQUIRE_MESSAGE(j.is_ok(), j.status().message());
  CHECK(j.value()["a"] == json::parse(R"([1, 1.5, true, null, "1", "yes", 15, "-0x1"])"));
  CHECK(agent_yaml_to_json("a: .inf\n", "t.yaml").status().message() ==
        "t.yaml:1:4: \".inf\" has no JSON equivalent (not a finite number)");
  CHECK(agent_yaml_to_json("a: 99999999999999999999\n", "t.yaml").status().message() ==
        "t.yaml:1:4: integer 99999999999999999999 does not fit in 64 bits");
  CHECK(agent_yaml_to_json("a: !custom x\n", "t.yaml").status().message() ==
        "t.yaml:1:4: unsupported tag \"!custom\"");
  CHECK(agent_yaml_to_json("a: !!int x\n", "t.yaml").status().message() ==
        "t.yaml:1:4: \"x\" is not a valid !!int");
}

TEST_CASE("agent spec: every bad file fails at the line and column its first line names") {
  std::vector<std::string> files = yaml_files(test::source_path("tests/data/agents/bad"));
  CHECK(files.size() >= 15);
  for (const std::string& path : files) {
    CAPTURE(path);
    std::string text = read_text(path);
    const std::string marker = "# error: ";
    REQUIRE_MESSAGE(text.rfind(marker, 0) == 0, "first line must be \"# error: LINE:COL: text\"");
    std::string expected = text.substr(marker.size(), text.find('\n') - marker.size());
    Result<AgentSpec> r = load_agent_spec(path);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message() == path + ":" + expected);
  }
}

TEST_CASE("agent spec: the JSON Schema accepts every good file and rejects the bad ones it can") {
  json schema = agent_schema();
  REQUIRE(check_json_schema(schema).is_ok());
  std::vector<std::string> files = yaml_files(test::source_path("tests/data/agents/good"));
  for (const std::string& f : yaml_files(test::source_path("examples"))) files.push_back(f);
  CHECK(files.size() >= 6);
  for (const std::string& path : files) {
    CAPTURE(path);
    Result<json> doc = agent_yaml_to_json(read_text(path), path);
    REQUIRE_MESSAGE(doc.is_ok(), doc.status().message());
    CHECK_MESSAGE(validate_json(schema, doc.value()).empty(),
                  describe_violations(validate_json(schema, doc.value())));
    Result<AgentSpec> spec = load_agent_spec(path);
    CHECK_MESSAGE(spec.is_ok(), spec.status().message());
  }
  int rejected = 0;
  for (const std::string& path : yaml_files(test::source_path("tests/data/agents/bad"))) {
    std::string text = read_text(path);
    if (text.find("\n# schema: reject\n") == std::string::npos) continue;
    CAPTURE(path);
    Result<json> doc = agent_yaml_to_json(text, path);
    REQUIRE_MESSAGE(doc.is_ok(), doc.status().message());
    CHECK_FALSE(validate_json(schema, doc.value()).empty());
    CHECK_FALSE(load_agent_spec(path).is_ok());
    ++rejected;
  }
  CHECK(rejected >= 10);
}

TEST_CASE("agent spec: the complete examples in docs/agents.md load and match the schema") {
  std::string doc = read_text(test::source_path("docs/agents.md"));
  json schema = agent_schema();
  int examples = 0;
  const std::string open = "```yaml\n# example:";
  for (size_t at = doc.find(open); at != std::string::npos; at = doc.find(open, at + 1)) {
    size_t body = at + std::string("```yaml\n").size();
    size_t end = doc.find("```", body);
    REQUIRE(end != std::string::npos);
    std::string yaml = doc.substr(body, end - body);
    CAPTURE(yaml.substr(0, yaml.find('\n')));
    Result<AgentSpec> spec = parse_agent_spec(yaml, test::source_path("docs/example.yaml"));
    CHECK_MESSAGE(spec.is_ok(), spec.status().message());
    Result<json> j = agent_yaml_to_json(yaml, "docs/agents.md");
    REQUIRE(j.is_ok());
    CHECK_MESSAGE(validate_json(schema, j.value()).empty(),
                  describe_violations(validate_json(schema, j.value())));
    ++examples;
  }
  CHECK(examples >= 4);
}

TEST_CASE("agent spec: unknown keys suggest the closest known one") {
  CHECK(failure("name: a\nmodel:\n  engine: remote\n  modle: x\n") ==
        "t.yaml:4:3: unknown key \"modle\" in model (did you mean \"model\"?)");
  CHECK(failure("nmae: a\n") ==
        "t.yaml:1:1: unknown key \"nmae\" at top level (did you mean "
        "\"name\"?)");
  CHECK(failure("name: a\nlimits: {max_step: 3}\n") ==
        "t.yaml:2:10: unknown key \"max_step\" in limits (did you mean \"max_steps\"?)");
  CHECK(failure("name: a\ntools: [{name: w, descripton: x, http: {url: 'http://x'}}]\n") ==
        "t.yaml:2:19: unknown key \"descripton\" in tools[0] (did you mean \"description\"?)");
  // Far from every key: list them instead.
  CHECK(failure("name: a\nretrieval: {index: p, zzz: 1}\n") ==
        "t.yaml:2:23: unknown key \"zzz\" in retrieval (known: index, k, mode)");
}

TEST_CASE("agent spec: types, ranges and enums name the field and what was found") {
  CHECK(failure("name: a\nlimits: {max_steps: 2.5}\n") ==
        "t.yaml:2:21: limits.max_steps: expected an integer, got a number");
  CHECK(failure("name: a\nlimits: {max_steps: 0}\n") ==
        "t.yaml:2:21: limits.max_steps: must be at least 1, got 0");
  CHECK(failure("name: a\nmodel: {sampling: {top_p: 0}}\n") ==
        "t.yaml:2:27: model.sampling.top_p: must be between 0 (exclusive) and 1, got 0");
  CHECK(failure("name: a\nmodel: {sampling: {temperature: .nan}}\n") ==
        "t.yaml:2:33: model.sampling.temperature: must be between 0 and 2, got .nan");
  CHECK(failure("name: a\nmodel: {thinking: {budget: 10, min: 20}}\n") ==
        "t.yaml:2:37: model.thinking.min: must not exceed the budget (10)");
  CHECK(failure("name: a\ntools:\n") == "t.yaml:2:1: tools: expected a list, got null");
  CHECK(failure("name: a\ntools: calculator\n") ==
        "t.yaml:2:8: tools: expected a list, got a string (\"calculator\")");
  CHECK(failure("name: a\ntools:\n  - name: " + std::string(70, 'x') + "\n") ==
        "t.yaml:3:11: tools[0]: not a tool name ([A-Za-z0-9_.-]{1,64}): \"" + std::string(70, 'x') +
            "\"");
  CHECK(failure("name: [a]\n") == "t.yaml:1:7: name: expected a string, got a list");
  CHECK(failure("name: 12\n") == "t.yaml:1:7: name: expected a string, got an integer");
  CHECK(failure("name: a b\n") == "t.yaml:1:7: name: must match [A-Za-z0-9_.-]{1,64}, got \"a b\"");
  CHECK(failure("name: a\nmodel: {url: 'http://x'}\n") ==
        "t.yaml:2:9: model.url applies to engine: remote only");
  CHECK(failure("name: a\nmodel: {engine: remote, url: ftp://x, model: m}\n") ==
        "t.yaml:2:30: model.url: must start with http:// or https://, got \"ftp://x\"");
  CHECK(failure("name: a\npolicies: {approval: {tools: {x: sometimes}}}\n") ==
        "t.yaml:2:34: policies.approval.tools.x: must be one of \"never\", \"always\", got "
        "\"sometimes\"");
  CHECK(failure("name: a\npolicies: {rules: [{tool: x, arg: y}]}\n") ==
        "t.yaml:2:20: policies.rules[0]: a rule needs path_prefix, hosts, min or max");
  CHECK(failure("name: a\nsub_agents: [{name: s, path: s.yaml}, {name: s, path: t.yaml}]\n") ==
        "t.yaml:2:46: sub_agents[1].name: duplicate sub-agent name \"s\"");
  CHECK(failure("name: a\ntools: [s]\nsub_agents: [{name: s, path: s.yaml}]\n") ==
        "t.yaml:3:21: sub_agents[0].name: \"s\" is also a tool (line 2); a sub-agent is called "
        "as a tool");
  CHECK(failure("name: a\nmodel: {tool_choice: wether}\ntools: [weather]\n") ==
        "t.yaml:2:22: model.tool_choice: \"wether\" is not auto, required, none or one of the "
        "agent's tools (did you mean \"weather\"?)");
  CHECK(parse_agent_spec("name: a\nmodel: {tool_choice: required}\n", "t.yaml").is_ok());
  CHECK(failure("name: a\n? [k]\n: v\n") ==
        "t.yaml:2:3: a key must be a string, got a list at top level");
}

TEST_CASE("agent spec: render_instructions fills placeholders from values, then inputs") {
  Result<AgentSpec> r = parse_agent_spec(
      "name: a\n"
      "instructions: 'You are {persona} for {team}. JSON: {{\"k\": 1}}'\n"
      "inputs: {persona: a helper, team: ~}\n",
      "");
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  const AgentSpec& s = r.value();
  CHECK(s.file == "");
  Result<std::string> out = render_instructions(s, {{"team", "ops"}});
  REQUIRE(out.is_ok());
  CHECK(out.value() == "You are a helper for ops. JSON: {\"k\": 1}");
  CHECK(render_instructions(s, {{"team", "ops"}, {"persona", "Ann"}}).value() ==
        "You are Ann for ops. JSON: {\"k\": 1}");
  CHECK(render_instructions(s, {}).status().message() ==
        "instructions: input {team} has no value (it has no default)");

  AgentSpec edited = s;
  edited.instructions = "Hi {who}";
  CHECK(render_instructions(edited, {}).status().message() ==
        "instructions: unknown placeholder {who}");
  edited.instructions = "}{";
  CHECK_FALSE(render_instructions(edited, {}).is_ok());

  // Stray braces are caught at load time, at the brace.
  CHECK(failure("name: a\ninstructions: |\n  Reply as {\"a\": 1}\n") ==
        "t.yaml:3:12: instructions: \"{\" starts a placeholder {name} (letters, digits, _ . -); "
        "write \"{{\" for a literal brace");
  CHECK(failure("name: a\ninstructions: x } y\n") ==
        "t.yaml:2:17: instructions: a lone \"}\" (write \"}}\" for a literal brace)");
}

TEST_CASE("agent spec: ~ and ${VAR} expand in memory.db and model.path") {
  setenv("R1_SPEC_TEST_DIR", "/data/r1", 1);
  Result<AgentSpec> r = parse_agent_spec(
      "name: a\nmodel: {path: '${R1_SPEC_TEST_DIR}/m.gguf'}\nmemory: {db: "
      "'${R1_SPEC_TEST_UNSET:-/tmp}/x.db'}\n",
      "t.yaml");
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  CHECK(r.value().model.path == "/data/r1/m.gguf");
  CHECK(r.value().memory.db == "/tmp/x.db");
  CHECK(failure("name: a\nmemory: {db: '${R1_SPEC_TEST_UNSET}/x.db'}\n") ==
        "t.yaml:2:14: memory.db: environment variable R1_SPEC_TEST_UNSET is not set");
  CHECK(failure("name: a\nmemory: {db: '${R1 SPEC}'}\n") ==
        "t.yaml:2:14: memory.db: bad variable name in \"${R1 SPEC}\"");
  // Elsewhere text stays as written.
  Result<AgentSpec> lit = parse_agent_spec("name: a\ninstructions: '~/x $HOME'\n", "t.yaml");
  REQUIRE(lit.is_ok());
  CHECK(lit.value().instructions == "~/x $HOME");
  unsetenv("R1_SPEC_TEST_DIR");
}

TEST_CASE("agent spec: load_agent_spec tells a missing file from a bad one") {
  Result<AgentSpec> r = load_agent_spec("/nonexistent/agent.yaml");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(r.status().message() == "/nonexistent/agent.yaml: no such file");
  Result<AgentSpec> d = load_agent_spec(test::source_path("tests/data/agents"));
  REQUIRE_FALSE(d.is_ok());
  CHECK(d.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("agent spec: hostile inputs fail cleanly") {
  SUBCASE("an alias bomb is stopped by the value budget") {
    std::string bomb =
        "name: a\ntools: [x]\ntool_options:\n  x:\n    l0: &l0 [a, a, a, a, a, a, a, a]\n";
    for (int i = 1; i < 9; ++i) {
      std::string prev = "*l" + std::to_string(i - 1);
      bomb += "    l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
      for (int j = 0; j < 7; ++j) bomb += ", " + prev;
      bomb += "]\n";
    }
    std::string msg = failure(bomb);
    CHECK_MESSAGE(msg.find("too many values after alias expansion") != std::string::npos, msg);
  }
  SUBCASE("deep block nesting") {
    std::string deep = "name: a\ntools: [x]\ntool_options:\n  x:\n";
    for (int i = 0; i < 200; ++i) deep += std::string(4 + 2 * i, ' ') + "k:\n";
    std::string msg = failure(deep);
    CHECK_MESSAGE(msg.find("nested deeper than 100 levels") != std::string::npos, msg);
  }
  SUBCASE("deep flow nesting stops in yaml-cpp") {
    CHECK(failure("name: a\ntools: " + std::string(5000, '[') + "\n") ==
          "t.yaml:2:108: malformed YAML: nested too deep");
  }
  SUBCASE("regexes that would blow up the compiler are refused before it runs") {
    CHECK(failure("name: a\npolicies: {redact: {patterns: ['(a{1000}){1000}']}}\n") ==
          "t.yaml:2:32: policies.redact.patterns[0]: bad regular expression \"(a{1000}){1000}\": "
          "repetition counts too large (the compiled automaton would exceed 200000 states)");
    std::string msg =
        failure("name: a\npolicies: {redact: {patterns: ['" + std::string(2000, 'a') + "']}}\n");
    CHECK_MESSAGE(msg.find("longer than 1024 bytes") != std::string::npos, msg);
  }
  SUBCASE("a large document is fine") {
    std::string big = "name: big\ninstructions: |\n";
    for (int i = 0; i < 20000; ++i) big += "  line " + std::to_string(i) + " of the prompt\n";
    big += "tools:\n";
    for (int i = 0; i < 2000; ++i) big += "  - tool_" + std::to_string(i) + "\n";
    Result<AgentSpec> r = parse_agent_spec(big, "big.yaml");
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    CHECK(r.value().tools.size() == 2000);
  }
  SUBCASE("text that is not UTF-8") {
    CHECK(failure("name: a\ndescription: caf\xe9\n") ==
          "t.yaml:2:17: not UTF-8 text, or a control character (byte 24)");
    CHECK(failure("name: a\ndescription: \xed\xa0\x80\n") ==
          "t.yaml:2:14: not UTF-8 text, or a control character (byte 21)");
    CHECK(failure(std::string("name: a\0\n", 9)) ==
          "t.yaml:1:8: not UTF-8 text, or a control character (byte 7)");
    CHECK(failure("name: a\ndescription: \"\\ud800\"\n") ==
          "t.yaml:2:21: malformed YAML: invalid unicode: 55296");
    CHECK(
        parse_agent_spec("name: a\ndescription: caf\xc3\xa9 \xf0\x9f\x98\x80\n", "t.yaml").is_ok());
  }
  SUBCASE("binary garbage") {
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) & 0xff);
    CHECK_FALSE(parse_agent_spec(junk, "junk.yaml").is_ok());
  }
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
