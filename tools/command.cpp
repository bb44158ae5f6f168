#include "tools/command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/json_schema.h"
#include "core/subprocess.h"
#include "tools/sandbox.h"
#include "tools/tool_registry.h"

namespace r1 {

namespace {

const std::vector<std::string> kScrubbedEnv = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};

// Runs `argv` (argv[0] already resolved to an absolute path) under the sandbox when available.
ToolOutput run_command(const std::vector<std::string>& argv, double timeout_s,
                       int64_t max_output_bytes, const std::string& workdir,
                       const ToolContext& ctx) {
  const SandboxInfo& sandbox = sandbox_info();
  CaptureOptions options;
  options.env = kScrubbedEnv;
  options.timeout_s = std::min(timeout_s, ctx.seconds_left());
  options.max_output_bytes = max_output_bytes;
  options.cancelled = ctx.cancelled;
  std::vector<std::string> full = argv;
  if (sandbox.available) {
    std::vector<std::string> dirs;
    if (!workdir.empty()) dirs.push_back(workdir);
    full = bwrap_argv(argv, kScrubbedEnv, dirs, workdir);
  } else {
    options.workdir = workdir.empty() ? "/tmp" : workdir;
  }
  Result<CapturedProcess> r = run_process_captured(full, options);
  if (!r) return tool_error(r.status().message());
  const CapturedProcess& p = r.value();
  ToolOutput out;
  out.metadata["sandbox"] = sandbox.available ? "bwrap" : "none";
  out.metadata["exit_code"] = p.exit_code;
  if (p.timed_out || p.cancelled) {
    out.is_error = true;
    out.metadata[p.timed_out ? "timed_out" : "cancelled"] = true;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", timeout_s);
    out.content = p.timed_out ? argv[0] + " timed out after " + buf + " s and was killed\n"
                              : argv[0] + " was cancelled and killed\n";
  } else {
    out.is_error = p.exit_code != 0;
    out.content = "exit code " + std::to_string(p.exit_code) + "\n";
  }
  // One cap for both streams together: stdout first, stderr gets what is left.
  std::string stdout_text = p.out, stderr_text = p.err;
  int64_t dropped = p.dropped_bytes;
  dropped += cut_utf8(stdout_text, max_output_bytes);
  dropped += cut_utf8(stderr_text, max_output_bytes - static_cast<int64_t>(stdout_text.size()));
  if (!stdout_text.empty()) out.content += "--- stdout ---\n" + stdout_text;
  if (!stderr_text.empty()) {
    if (out.content.back() != '\n') out.content += '\n';
    out.content += "--- stderr ---\n" + stderr_text;
  }
  if (dropped > 0) {
    if (out.content.back() != '\n') out.content += '\n';
    out.content += "[output cut: " + std::to_string(dropped) + " more bytes not shown]";
  }
  if (dropped > 0) out.metadata["truncated_bytes"] = dropped;
  return out;
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> resolve_program(const std::string& program) {
  if (program.empty() || program.find('/') != std::string::npos || program == "." ||
      program == "..") {
    return Status::invalid("program \"" + program + "\" must be a bare name such as \"wc\"");
  }
  for (const char* dir : {"/usr/bin", "/bin"}) {
    std::string path = std::string(dir) + "/" + program;
    if (is_executable_file(path)) return path;
  }
  return Status::not_found("program \"" + program + "\" is not in /usr/bin or /bin");
}

Tool make_command_tool(CommandOptions options) {
  Tool t;
  t.name = "command";
  std::string allowed;
  for (const std::string& a : options.allow) allowed += (allowed.empty() ? "" : ", ") + a;
  t.description =
      "Runs a program with arguments (no shell: no pipes, globs, redirection or "
      "variables) and returns its exit code and output. Allowed programs: " +
      (allowed.empty() ? "none" : allowed) + ".";
  t.parameters = {{"type", "object"},
                  {"properties",
                   {{"argv",
                     {{"type", "array"},
                      {"items", {{"type", "string"}}},
                      {"minItems", 1},
                      {"description",
                       "program name then its arguments, e.g. [\"wc\", \"-l\", "
                       "\"notes.txt\"]"}}}}},
                  {"required", {"argv"}},
                  {"additionalProperties", false}};
  t.timeout_s = options.timeout_s + 2;  // the process timeout fires first and kills
  t.max_output_bytes = options.max_output_bytes + 1024;
  t.handler = [options](const nlohmann::json& args, const ToolContext& ctx) -> Result<ToolOutput> {
    std::vector<std::string> argv = args.at("argv").get<std::vector<std::string>>();
    for (const std::string& a : argv) {
      if (a.find('\0') != std::string::npos) return tool_error("arguments may not contain NUL");
    }
    const std::string& program = argv[0];
    if (std::find(options.allow.begin(), options.allow.end(), program) == options.allow.end()) {
      std::string allowed;
      for (const std::string& a : options.allow) allowed += (allowed.empty() ? "" : ", ") + a;
      return tool_error("program \"" + program + "\" is not allowed; allowed programs: " +
                        (allowed.empty() ? "(none)" : allowed));
    }
    Result<std::string> path = resolve_program(program);
    if (!path) return tool_error(path.status().message());
    argv[0] = path.value();
    return run_command(argv, options.timeout_s, options.max_output_bytes, options.workdir, ctx);
  };
  return t;
}

Result<Tool> make_declared_command_tool(const std::string& name, const std::string& description,
                                        const nlohmann::json& parameters,
                                        std::vector<std::string> argv_template, double timeout_s,
                                        int64_t max_output_bytes, const std::string& workdir) {
  if (!is_valid_tool_name(name)) {
    return Status::invalid("tool name \"" + name + "\" must match [A-Za-z0-9_.-]{1,64}");
  }
  Status s = check_json_schema(parameters);
  if (!s) return Status::invalid("tool \"" + name + "\": " + s.message());
  if (argv_template.empty()) return Status::invalid("tool \"" + name + "\": argv is empty");
  if (argv_template[0].find('{') != std::string::npos) {
    return Status::invalid("tool \"" + name + "\": the program may not be a placeholder");
  }
  Result<std::string> program = resolve_program(argv_template[0]);
  if (!program) return Status::invalid("tool \"" + name + "\": " + program.status().message());
  const nlohmann::json* props = parameters.is_object() && parameters.contains("properties")
                                    ? &parameters["properties"]
                                    : nullptr;
  for (const std::string& element : argv_template) {
    for (size_t i = element.find('{'); i != std::string::npos; i = element.find('{', i + 1)) {
      size_t close = element.find('}', i);
      if (close == std::string::npos) {
        return Status::invalid("tool \"" + name + "\": unclosed '{' in \"" + element + "\"");
      }
      std::string p = element.substr(i + 1, close - i - 1);
      if (props == nullptr || !props->is_object() || !props->contains(p)) {
        return Status::invalid("tool \"" + name + "\": placeholder {" + p + "} names no parameter");
      }
    }
  }
  argv_template[0] = program.value();

  Tool t;
  t.name = name;
  t.description = description;
  t.parameters = parameters;
  t.timeout_s = timeout_s + 2;
  t.max_output_bytes = max_output_bytes + 1024;
  t.handler = [argv_template, timeout_s, max_output_bytes, workdir](
                  const nlohmann::json& args, const ToolContext& ctx) -> Result<ToolOutput> {
    std::vector<std::string> argv;
    bool after_double_dash = false;
    for (size_t k = 0; k < argv_template.size(); ++k) {
      const std::string& element = argv_template[k];
      if (k > 0 && element == "--") after_double_dash = true;
      bool whole = element.size() > 2 && element.front() == '{' && element.back() == '}' &&
                   element.find('{', 1) == std::string::npos;
      std::string value;
      bool drop = false;
      for (size_t i = 0; i < element.size();) {
        if (element[i] != '{') {
          value += element[i++];
          continue;
        }
        size_t close = element.find('}', i);
        std::string p = element.substr(i + 1, close - i - 1);
        i = close + 1;
        if (!args.is_object() || !args.contains(p)) {
          if (whole) {
            drop = true;
            break;
          }
          return tool_error("argument \"" + p + "\" is required by this command");
        }
        const nlohmann::json& v = args[p];
        if (v.is_object() || v.is_array()) {
          return tool_error("argument \"" + p + "\" must be a string, number or boolean");
        }
        std::string text = v.is_string() ? v.get<std::string>() : v.dump();
        if (text.find('\0') != std::string::npos) {
          return tool_error("argument \"" + p + "\" may not contain NUL");
        }
        if (whole && !after_double_dash && !text.empty() && text[0] == '-') {
          return tool_error("argument \"" + p +
                            "\" may not start with '-' (it would be read as "
                            "an option)");
        }
        value += text;
      }
      if (!drop) argv.push_back(std::move(value));
    }
    return run_command(argv, timeout_s, max_output_bytes, workdir, ctx);
  };
  return t;
}

}  // namespace r1
