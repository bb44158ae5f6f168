// Policy decisions as a precedence table, argument rules (paths, hosts, numbers), and budgets.
#include "policies/policy.h"

#include <doctest/doctest.h>

namespace r1 {
namespace {

using json = nlohmann::json;
using Kind = Decision::Kind;

TEST_CASE("policies: precedence table - deny list, allow list, default, approval") {
  struct Row {
    const char* name;
    Policy policy;
    const char* tool;
    Kind expected;
  };
  Policy deny_and_allow;
  deny_and_allow.deny = {"command"};
  deny_and_allow.allow = {"command"};
  Policy strict;
  strict.deny_by_default = true;
  strict.allow = {"calculator"};
  Policy ask_all;
  ask_all.approval_default = Policy::Approval::kAlways;
  ask_all.approval = {{"calculator", Policy::Approval::kNever}};
  Policy ask_one;
  ask_one.approval = {{"http_get", Policy::Approval::kAlways}};
  Policy deny_star;
  deny_star.deny = {"*"};
  deny_star.allow = {"calculator"};
  Policy allow_star_strict;
  allow_star_strict.deny_by_default = true;
  allow_star_strict.allow = {"*"};
  Policy strict_ask;
  strict_ask.deny_by_default = true;
  strict_ask.allow = {"http_get"};
  strict_ask.approval = {{"http_get", Policy::Approval::kAlways}};

  const Row rows[] = {
      {"empty policy allows", Policy{}, "anything", Kind::kAllow},
      {"deny beats allow", deny_and_allow, "command", Kind::kDeny},
      {"deny_by_default denies the unlisted", strict, "read_file", Kind::kDeny},
      {"deny_by_default admits the allowed", strict, "calculator", Kind::kAllow},
      {"approval default always asks", ask_all, "read_file", Kind::kAsk},
      {"per-tool never overrides the default", ask_all, "calculator", Kind::kAllow},
      {"per-tool always asks", ask_one, "http_get", Kind::kAsk},
      {"others under per-tool approval are allowed", ask_one, "calculator", Kind::kAllow},
      {"deny * beats allow", deny_star, "calculator", Kind::kDeny},
      {"allow * admits all under deny_by_default", allow_star_strict, "x", Kind::kAllow},
      {"allowed but needing approval asks", strict_ask, "http_get", Kind::kAsk},
      {"deny_by_default beats approval", strict_ask, "command", Kind::kDeny},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Decision d = decide(row.policy, row.tool, json::object());
    CHECK_MESSAGE(d.kind == row.expected, row.name, ": ", d.reason);
    CHECK_FALSE(d.reason.empty());
  }
  CHECK(std::string(decision_kind_name(Kind::kAsk)) == "ask");
}

TEST_CASE("policies: path prefix rules normalise lexically and deny climbing out") {
  Policy p;
  p.rules.push_back({"read_file", "path", {"notes", "/srv/data/"}, {}, {}, {}});
  auto kind = [&](const json& args) { return decide(p, "read_file", args).kind; };
  CHECK(kind({{"path", "notes/a.txt"}}) == Kind::kAllow);
  CHECK(kind({{"path", "notes"}}) == Kind::kAllow);
  CHECK(kind({{"path", "./notes//sub/./b.txt"}}) == Kind::kAllow);
  CHECK(kind({{"path", "notes/sub/../b.txt"}}) == Kind::kAllow);
  CHECK(kind({{"path", "/srv/data/x.csv"}}) == Kind::kAllow);
  CHECK(kind({{"path", "notes2/a.txt"}}) == Kind::kDeny);  // component-wise, not string prefix
  CHECK(kind({{"path", "notes/../secrets.txt"}}) == Kind::kDeny);
  CHECK(kind({{"path", "notes/../../etc/passwd"}}) == Kind::kDeny);
  CHECK(kind({{"path", "../notes/a.txt"}}) == Kind::kDeny);
  CHECK(kind({{"path", "/srv/data/../../etc/passwd"}}) == Kind::kDeny);
  CHECK(kind({{"path", "/notes/a.txt"}}) == Kind::kDeny);  // absolute vs relative prefix
  CHECK(kind({{"path", 7}}) == Kind::kDeny);               // wrong type
  CHECK(kind(json::object()) == Kind::kDeny);              // missing
  CHECK(decide(p, "list_dir", {{"path", "/etc"}}).kind == Kind::kAllow);  // other tool
  Decision d = decide(p, "read_file", {{"path", "notes/../../x"}});
  CHECK(d.reason.find("climbs out") != std::string::npos);
}

TEST_CASE("policies: host rules parse the URL and match exact hosts or subdomains") {
  Policy p;
  p.rules.push_back({"http_get", "url", {}, {"example.org"}, {}, {}});
  auto kind = [&](const std::string& url) { return decide(p, "http_get", {{"url", url}}).kind; };
  CHECK(kind("https://example.org/x") == Kind::kAllow);
  CHECK(kind("https://docs.example.org/x") == Kind::kAllow);
  CHECK(kind("https://EXAMPLE.ORG./x") == Kind::kAllow);
  CHECK(kind("https://badexample.org/") == Kind::kDeny);
  CHECK(kind("https://example.org.evil.com/") == Kind::kDeny);
  CHECK(kind("https://example.org@evil.com/") == Kind::kDeny);  // userinfo trick
  CHECK(kind("https://evil.com/?u=https://example.org") == Kind::kDeny);
  CHECK(kind("not a url") == Kind::kDeny);
  CHECK(decide(p, "http_get", {{"url", 3}}).kind == Kind::kDeny);
}

TEST_CASE("policies: numeric bounds and JSON Pointer arguments") {
  Policy p;
  p.rules.push_back({"create_event", "day", {}, {}, 1.0, 31.0});
  p.rules.push_back({"transfer", "/payment/amount", {}, {}, std::nullopt, 100.0});
  CHECK(decide(p, "create_event", {{"day", 1}}).kind == Kind::kAllow);
  CHECK(decide(p, "create_event", {{"day", 31}}).kind == Kind::kAllow);
  CHECK(decide(p, "create_event", {{"day", 0}}).kind == Kind::kDeny);
  CHECK(decide(p, "create_event", {{"day", 31.5}}).kind == Kind::kDeny);
  CHECK(decide(p, "create_event", {{"day", "5"}}).kind == Kind::kDeny);
  Decision d = decide(p, "create_event", {{"day", 40}});
  CHECK(d.reason.find("above the maximum 31") != std::string::npos);
  CHECK(decide(p, "transfer", {{"payment", {{"amount", 99.99}}}}).kind == Kind::kAllow);
  CHECK(decide(p, "transfer", {{"payment", {{"amount", 1e9}}}}).kind == Kind::kDeny);
  CHECK(decide(p, "transfer", {{"amount", 5}}).kind == Kind::kDeny);  // pointer misses: deny
}

TEST_CASE("policies: a failing rule denies even an allowed tool, and rules run before approval") {
  Policy p;
  p.allow = {"read_file"};
  p.approval = {{"read_file", Policy::Approval::kAlways}};
  p.rules.push_back({"read_file", "path", {"notes"}, {}, {}, {}});
  CHECK(decide(p, "read_file", {{"path", "secrets"}}).kind == Kind::kDeny);
  CHECK(decide(p, "read_file", {{"path", "notes/a"}}).kind == Kind::kAsk);
}

TEST_CASE("policies: budgets name the first limit reached") {
  Budgets b{3, 5, 1000, 60};
  CHECK_FALSE(exceeded_budget(b, {2, 4, 999, 59.9}).has_value());
  CHECK(exceeded_budget(b, {3, 0, 0, 0}).value() == "max_steps");
  CHECK(exceeded_budget(b, {0, 5, 0, 0}).value() == "max_tool_calls");
  CHECK(exceeded_budget(b, {0, 0, 1000, 0}).value() == "token_budget");
  CHECK(exceeded_budget(b, {0, 0, 0, 60}).value() == "timeout");
  CHECK(exceeded_budget(b, {3, 5, 1000, 60}).value() == "max_steps");               // order
  CHECK_FALSE(exceeded_budget(Budgets{}, {1000, 1000, 1 << 30, 1e9}).has_value());  // 0 = none
}

}  // namespace
}  // namespace r1
