// ToolRegistry: what a model sees when it calls tools badly (unknown names, malformed JSON,
// schema violations), how time limits and cancellation stop a call without waiting for it, how
// output is capped at a UTF-8 boundary, and that parallel calls do not interfere.
#include "tools/tool_registry.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace r1 {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Tool echo_tool() {
  Tool t;
  t.name = "echo";
  t.description = "Echoes its text.";
  t.parameters = {
      {"type", "object"},
      {"properties", {{"text", {{"type", "string"}}}, {"times", {{"type", "integer"}}}}},
      {"required", {"text"}},
      {"additionalProperties", false}};
  t.handler = [](const json& args, const ToolContext&) -> Result<ToolOutput> {
    std::string out;
    for (int64_t i = 0; i < args.value("times", int64_t{1}); ++i)
      out += args["text"].get<std::string>();
    return tool_ok(out);
  };
  return t;
}

// A handler that sleeps until cancelled (polling), recording that it saw the flag.
Tool sleeper_tool(std::shared_ptr<std::atomic<bool>> saw_cancel, double timeout_s) {
  Tool t;
  t.name = "sleeper";
  t.description = "Sleeps.";
  t.timeout_s = timeout_s;
  t.handler = [saw_cancel](const json&, const ToolContext& ctx) -> Result<ToolOutput> {
    auto until = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < until) {
      if (ctx.is_cancelled()) {
        saw_cancel->store(true);
        return tool_error("stopped");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return tool_ok("woke up");
  };
  return t;
}

TEST_CASE("tools: registry add refuses duplicates, bad names and malformed schemas") {
  ToolRegistry reg;
  CHECK(reg.add(echo_tool()).is_ok());
  Status dup = reg.add(echo_tool());
  CHECK_FALSE(dup.is_ok());
  CHECK(dup.message().find("already registered") != std::string::npos);

  Tool bad_name = echo_tool();
  bad_name.name = "has space";
  CHECK_FALSE(reg.add(bad_name).is_ok());
  bad_name.name = std::string(65, 'a');
  CHECK_FALSE(reg.add(bad_name).is_ok());
  bad_name.name = "";
  CHECK_FALSE(reg.add(bad_name).is_ok());

  Tool bad_schema = echo_tool();
  bad_schema.name = "bad_schema";
  bad_schema.parameters = {{"type", "object"}, {"properties", {{"n", {{"type", "int"}}}}}};
  Status s = reg.add(bad_schema);
  CHECK_FALSE(s.is_ok());
  CHECK_MESSAGE(s.message().find("bad_schema") != std::string::npos, s.message());

  Tool no_handler = echo_tool();
  no_handler.name = "no_handler";
  no_handler.handler = nullptr;
  CHECK_FALSE(reg.add(no_handler).is_ok());

  REQUIRE(reg.list().size() == 1);  // none of the refused ones went in
  CHECK(reg.find("echo") != nullptr);
  CHECK(reg.find("nope") == nullptr);
  CHECK(is_valid_tool_name("a.b-c_9"));
}

TEST_CASE("tools: registry turns bad calls into errors the model can act on") {
  ToolRegistry reg;
  REQUIRE(reg.add(echo_tool()).is_ok());
  ToolContext ctx;

  ToolOutput ok = reg.run("echo", R"({"text": "hi", "times": 2})", ctx);
  CHECK_FALSE(ok.is_error);
  CHECK(ok.content == "hihi");
  CHECK(ok.metadata.contains("duration_ms"));

  ToolOutput unknown = reg.run("ecko", "{}", ctx);
  CHECK(unknown.is_error);
  CHECK(unknown.content.find("unknown tool \"ecko\"") != std::string::npos);
  CHECK(unknown.content.find("echo") != std::string::npos);  // lists what exists

  ToolOutput not_json = reg.run("echo", "{\"text\": \"hi\",}", ctx);
  CHECK(not_json.is_error);
  CHECK_MESSAGE(not_json.content.find("not valid JSON") != std::string::npos, not_json.content);
  CHECK_MESSAGE(not_json.content.find("column") != std::string::npos, not_json.content);

  ToolOutput wrong_type = reg.run("echo", R"({"text": 5})", ctx);
  CHECK(wrong_type.is_error);
  CHECK_MESSAGE(wrong_type.content.find("/text") != std::string::npos, wrong_type.content);

  ToolOutput missing = reg.run("echo", "{}", ctx);
  CHECK(missing.is_error);
  CHECK(missing.content.find("text") != std::string::npos);

  ToolOutput extra = reg.run("echo", R"({"text": "a", "loud": true})", ctx);
  CHECK(extra.is_error);

  ToolOutput array_args = reg.run("echo", "[1]", ctx);
  CHECK(array_args.is_error);
}

TEST_CASE("tools: registry catches handler errors and exceptions") {
  ToolRegistry reg;
  Tool failing = echo_tool();
  failing.name = "failing";
  failing.handler = [](const json&, const ToolContext&) -> Result<ToolOutput> {
    return Status::io_error("disk on fire");
  };
  Tool throwing = echo_tool();
  throwing.name = "throwing";
  throwing.handler = [](const json& args, const ToolContext&) -> Result<ToolOutput> {
    return tool_ok(args.at("missing").get<std::string>());  // nlohmann throws
  };
  Tool throwing_any = echo_tool();
  throwing_any.name = "throwing_any";
  throwing_any.handler = [](const json&, const ToolContext&) -> Result<ToolOutput> { throw 42; };
  REQUIRE(reg.add(failing).is_ok());
  REQUIRE(reg.add(throwing).is_ok());
  REQUIRE(reg.add(throwing_any).is_ok());
  ToolContext ctx;
  ToolOutput a = reg.run("failing", R"({"text": "x"})", ctx);
  CHECK(a.is_error);
  CHECK(a.content == "disk on fire");
  ToolOutput b = reg.run("throwing", R"({"text": "x"})", ctx);
  CHECK(b.is_error);
  CHECK(b.content.find("the tool failed") == 0);
  ToolOutput c = reg.run("throwing_any", R"({"text": "x"})", ctx);
  CHECK(c.is_error);
}

TEST_CASE("tools: a handler that sleeps past its timeout is abandoned and sees the cancel flag") {
  auto saw_cancel = std::make_shared<std::atomic<bool>>(false);
  {
    ToolRegistry reg;
    REQUIRE(reg.add(sleeper_tool(saw_cancel, 0.2)).is_ok());
    auto t0 = Clock::now();
    ToolOutput out = reg.run("sleeper", "{}", ToolContext{});
    double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    CHECK(out.is_error);
    CHECK_MESSAGE(out.content == "sleeper timed out after 0.2 s", out.content);
    CHECK(out.metadata.value("timed_out", false));
    CHECK(waited < 5.0);  // returned at the limit, not after the handler's 10 s
  }                       // the registry's destructor waits for the abandoned handler
  CHECK(saw_cancel->load());
}

TEST_CASE("tools: the run deadline and the caller's cancel flag stop a call too") {
  auto saw_cancel = std::make_shared<std::atomic<bool>>(false);
  ToolRegistry reg;
  REQUIRE(reg.add(sleeper_tool(saw_cancel, 30)).is_ok());

  ToolContext ctx;
  ctx.deadline = Clock::now() + std::chrono::milliseconds(100);
  ToolOutput out = reg.run("sleeper", "{}", ctx);
  CHECK(out.is_error);
  CHECK(out.content.find("run's time limit") != std::string::npos);

  std::atomic<bool> cancel{false};
  ToolContext ctx2;
  ctx2.cancelled = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel.store(true);
  });
  ToolOutput out2 = reg.run("sleeper", "{}", ctx2);
  canceller.join();
  CHECK(out2.is_error);
  CHECK(out2.content == "sleeper was cancelled");

  // Already cancelled: the handler does not start at all.
  ToolOutput out3 = reg.run("sleeper", "{}", ctx2);
  CHECK(out3.is_error);
  CHECK(out3.content.find("was not run") != std::string::npos);
}

TEST_CASE("tools: output over the cap is cut at a UTF-8 boundary with a note") {
  std::string s =
      "ab\xC3\xA9"
      "cd";  // "abécd": é is 2 bytes at offsets 2..3
  std::string cut = s;
  CHECK(truncate_utf8(cut, 3) == 4);  // cannot keep half of é: keeps "ab"
  CHECK(cut == "ab\n[truncated 4 bytes]");
  std::string whole = s;
  CHECK(truncate_utf8(whole, 100) == 0);
  CHECK(whole == s);

  ToolRegistry reg;
  Tool big = echo_tool();
  big.max_output_bytes = 10;
  REQUIRE(reg.add(big).is_ok());
  ToolOutput out = reg.run("echo", R"({"text": "\u00e9", "times": 8})", ToolContext{});
  CHECK_FALSE(out.is_error);
  CHECK(out.content == "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\n[truncated 6 bytes]");
  CHECK(out.metadata["truncated_bytes"] == 6);

  CHECK(valid_utf8_prefix("ok\xC3\xA9") == 4);
  CHECK(valid_utf8_prefix("ok\xC3") == 2);
  CHECK(valid_utf8_prefix("\xC0\xAF") == 0);      // overlong '/'
  CHECK(valid_utf8_prefix("\xED\xA0\x80") == 0);  // surrogate
}

TEST_CASE("tools: parallel runs are independent") {
  ToolRegistry reg;
  REQUIRE(reg.add(echo_tool()).is_ok());
  Tool slow = echo_tool();
  slow.name = "slow";
  slow.handler = [](const json& args, const ToolContext&) -> Result<ToolOutput> {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return tool_ok("slow:" + args["text"].get<std::string>());
  };
  REQUIRE(reg.add(slow).is_ok());
  std::vector<std::thread> threads;
  std::vector<std::string> results(32);
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] {
      std::string arg = json{{"text", std::to_string(i)}}.dump();
      results[i] = reg.run(i % 2 ? "slow" : "echo", arg, ToolContext{}).content;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) {
    CHECK(results[i] == (i % 2 ? "slow:" : "") + std::to_string(i));
  }
}

}  // namespace
}  // namespace r1
