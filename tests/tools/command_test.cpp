// Command tools: the allowlist, argv-only execution (shell metacharacters are inert), the
// scrubbed environment, timeouts that kill the process group, the output cap, and declared
// templates with placeholders. Runs under bwrap when it works here, unsandboxed otherwise.
#include "tools/command.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>

#include "tests/tools/temp_dir.h"
#include "tools/sandbox.h"

namespace r1 {
namespace {

using json = nlohmann::json;

ToolOutput call(const Tool& t, const json& args) {
  Result<ToolOutput> r = t.handler(args, ToolContext{});
  REQUIRE(r.is_ok());
  return r.value();
}

TEST_CASE("tools: command runs allowlisted programs and refuses others") {
  MESSAGE("sandbox: " << (sandbox_info().available ? "bwrap" : "none: " + sandbox_info().reason));
  Tool t = make_command_tool({{"echo", "printf"}, 5, 65536, ""});
  ToolOutput out = call(t, {{"argv", {"echo", "hello", "$HOME; rm -rf /", "`id`"}}});
  CHECK_FALSE(out.is_error);
  CHECK(out.content == "exit code 0\n--- stdout ---\nhello $HOME; rm -rf / `id`\n");
  CHECK(out.metadata["sandbox"] == (sandbox_info().available ? "bwrap" : "none"));

  ToolOutput refused = call(t, {{"argv", {"rm", "-rf", "/tmp/x"}}});
  CHECK(refused.is_error);
  CHECK(refused.content == "program \"rm\" is not allowed; allowed programs: echo, printf");
  CHECK(call(t, {{"argv", {"/usr/bin/echo", "x"}}}).is_error);  // paths are not names
  CHECK(call(t, {{"argv", {"sh", "-c", "echo hi"}}}).is_error);
}

TEST_CASE("tools: command scrubs the environment") {
  ::setenv("R1_TEST_SECRET", "hunter2", 1);
  Tool t = make_command_tool({{"env"}, 5, 65536, ""});
  ToolOutput out = call(t, {{"argv", {"env"}}});
  ::unsetenv("R1_TEST_SECRET");
  CHECK_FALSE(out.is_error);
  CHECK(out.content.find("hunter2") == std::string::npos);
  CHECK(out.content.find("PATH=/usr/bin:/bin\n") != std::string::npos);
  CHECK(out.content.find("LANG=C.UTF-8\n") != std::string::npos);
  // Nothing else, but PWD, which bwrap sets to the working directory whatever it is told.
  size_t lines = std::count(out.content.begin(), out.content.end(), '\n');
  bool pwd = out.content.find("\nPWD=") != std::string::npos;
  CHECK_MESSAGE(lines == 4 + (pwd ? 1 : 0), out.content);  // "exit code", "--- stdout ---", ...
}

TEST_CASE("tools: command kills a program that runs past its timeout, children included") {
  Tool t = make_command_tool({{"sleep", "timeout"}, 0.3, 65536, ""});
  auto t0 = std::chrono::steady_clock::now();
  ToolOutput out = call(t, {{"argv", {"sleep", "30"}}});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(out.is_error);
  CHECK(out.content.find("timed out after 0.3 s and was killed") != std::string::npos);
  CHECK(out.metadata.value("timed_out", false));
  CHECK(s < 5);
  // `timeout 60 sleep 60` forks a child; the group kill takes both.
  t0 = std::chrono::steady_clock::now();
  ToolOutput nested = call(t, {{"argv", {"timeout", "60", "sleep", "60"}}});
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(nested.is_error);
  CHECK(s < 5);
}

TEST_CASE("tools: command caps output and reports non-zero exits") {
  Tool t = make_command_tool({{"seq", "ls"}, 5, 100, ""});
  ToolOutput out = call(t, {{"argv", {"seq", "1", "100000"}}});
  CHECK_FALSE(out.is_error);
  CHECK(out.content.find("[output cut: ") != std::string::npos);
  CHECK(out.metadata["truncated_bytes"].get<int64_t>() > 500000);
  CHECK(out.content.size() < 300);
  ToolOutput fail = call(t, {{"argv", {"ls", "/definitely/not/here"}}});
  CHECK(fail.is_error);
  CHECK(fail.content.find("exit code 2") == 0);
  CHECK(fail.content.find("--- stderr ---") != std::string::npos);
}

TEST_CASE("tools: declared command tools fill placeholders as whole argv elements") {
  test::TempDir tmp;
  tmp.write("a.txt", "one\ntwo\nthree\n");
  json params = {{"type", "object"},
                 {"properties", {{"path", {{"type", "string"}}}, {"n", {{"type", "integer"}}}}},
                 {"required", {"path"}}};
  Result<Tool> t =
      make_declared_command_tool("head_file", "First lines.", params,
                                 {"head", "-n", "{n}", "--", "{path}"}, 5, 65536, tmp.path());
  REQUIRE_MESSAGE(t.is_ok(), t.status().message());
  ToolOutput out = call(t.value(), {{"path", "a.txt"}, {"n", 2}});
  CHECK_MESSAGE(out.content == "exit code 0\n--- stdout ---\none\ntwo\n", out.content);
  // Spaces and metacharacters stay inside one element: head looks for that exact file name.
  ToolOutput odd = call(t.value(), {{"path", "a.txt; cat /etc/passwd"}, {"n", 1}});
  CHECK(odd.is_error);
  CHECK(odd.content.find("root:") == std::string::npos);
  // A value for {n} (before "--") may not smuggle in an option.
  ToolOutput opt = call(t.value(), {{"path", "a.txt"}, {"n", "-5"}});
  CHECK(opt.is_error);  // wrong type for the schema too, but the handler refuses on its own
  Result<Tool> t2 = make_declared_command_tool("wc_file", "", params, {"wc", "-l", "{path}"});
  REQUIRE(t2.is_ok());
  ToolOutput dash = call(t2.value(), {{"path", "--files0-from=/etc/passwd"}});
  CHECK(dash.is_error);
  CHECK(dash.content.find("may not start with '-'") != std::string::npos);

  CHECK_FALSE(make_declared_command_tool("x", "", params, {}).is_ok());
  CHECK_FALSE(make_declared_command_tool("x", "", params, {"{path}"}).is_ok());
  CHECK_FALSE(make_declared_command_tool("x", "", params, {"/bin/ls"}).is_ok());
  CHECK_FALSE(make_declared_command_tool("x", "", params, {"no-such-program-r1"}).is_ok());
  CHECK_FALSE(make_declared_command_tool("x", "", params, {"ls", "{nope}"}).is_ok());
}

TEST_CASE("tools: resolve_program looks only in /usr/bin and /bin") {
  CHECK(resolve_program("ls").is_ok());
  CHECK_FALSE(resolve_program("../bin/ls").is_ok());
  CHECK_FALSE(resolve_program("").is_ok());
  CHECK_FALSE(resolve_program("..").is_ok());
}

}  // namespace
}  // namespace r1
