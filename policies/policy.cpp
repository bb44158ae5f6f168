#include "policies/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/url.h"

namespace r1 {

namespace {

bool listed(const std::vector<std::string>& names, const std::string& tool) {
  return std::find(names.begin(), names.end(), tool) != names.end() ||
         std::find(names.begin(), names.end(), "*") != names.end();
}

Decision deny(std::string reason) {
  return Decision{Decision::Kind::kDeny, std::move(reason)};
}

// Splits a path into components after lexical normalisation. `ok` is false when ".." climbs
// above the start (for an absolute path: above "/").
std::vector<std::string> components(const std::string& path, bool& ok) {
  ok = true;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) {
        ok = false;
        return parts;
      }
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  return parts;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The argument a rule names: a top-level key, or a JSON Pointer when it starts with '/'.
const nlohmann::json* find_arg(const nlohmann::json& args, const std::string& arg) {
  if (!args.is_object()) return nullptr;
  if (!arg.empty() && arg[0] == '/') {
    try {
      nlohmann::json::json_pointer ptr(arg);
      if (!args.contains(ptr)) return nullptr;
      return &args.at(ptr);
    } catch (const nlohmann::json::exception&) {
      return nullptr;
    }
  }
  auto it = args.find(arg);
  return it == args.end() ? nullptr : &*it;
}

// Empty when `value` satisfies `rule`; otherwise the reason it does not.
std::string check_rule(const ArgumentRule& rule, const nlohmann::json* value) {
  const std::string where = "argument \"" + rule.arg + "\" of " + rule.tool;
  if (value == nullptr) return where + " is missing but a policy rule constrains it";
  if (!rule.path_prefix.empty()) {
    if (!value->is_string()) return where + " must be a string path";
    const std::string path = value->get<std::string>();
    bool ok = true;
    std::vector<std::string> parts = components(path, ok);
    if (!ok) return where + " (\"" + path + "\") climbs out with \"..\"";
    bool absolute = !path.empty() && path[0] == '/';
    bool matched = false;
    for (const std::string& prefix : rule.path_prefix) {
      bool prefix_ok = true;
      std::vector<std::string> pre = components(prefix, prefix_ok);
      bool prefix_absolute = !prefix.empty() && prefix[0] == '/';
      if (!prefix_ok || prefix_absolute != absolute || pre.size() > parts.size()) continue;
      if (std::equal(pre.begin(), pre.end(), parts.begin())) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      std::string list;
      for (const std::string& p : rule.path_prefix) list += (list.empty() ? "" : ", ") + p;
      return where + " (\"" + path + "\") is outside the allowed paths: " + list;
    }
  }
  if (!rule.hosts.empty()) {
    if (!value->is_string()) return where + " must be a string URL";
    Result<Url> url = parse_url(value->get<std::string>());
    if (!url) return where + " is not a valid URL: " + url.status().message();
    if (!host_allowed(url->host, rule.hosts)) {
      std::string list;
      for (const std::string& h : rule.hosts) list += (list.empty() ? "" : ", ") + h;
      return where + ": host \"" + url->host + "\" is not allowed (allowed: " + list + ")";
    }
  }
  if (rule.min || rule.max) {
    if (!value->is_number()) return where + " must be a number";
    double v = value->get<double>();
    if (std::isnan(v)) return where + " is not a number";
    if (rule.min && v < *rule.min) {
      return where + " = " + number_text(v) + " is below the minimum " + number_text(*rule.min);
    }
    if (rule.max && v > *rule.max) {
      return where + " = " + number_text(v) + " is above the maximum " + number_text(*rule.max);
    }
  }
  return "";
}

}  // namespace

const char* decision_kind_name(Decision::Kind kind) {
  switch (kind) {
    case Decision::Kind::kAllow:
      return "allow";
    case Decision::Kind::kDeny:
      return "deny";
    case Decision::Kind::kAsk:
      return "ask";
  }
  return "?";
}

Decision decide(const Policy& policy, const std::string& tool, const nlohmann::json& args) {
  if (listed(policy.deny, tool)) return deny("tool \"" + tool + "\" is denied by policy");
  bool allowed = listed(policy.allow, tool);
  if (!allowed && policy.deny_by_default) {
    return deny("tool \"" + tool + "\" is not on the policy's allow list");
  }
  for (const ArgumentRule& rule : policy.rules) {
    if (rule.tool != tool) continue;
    std::string why = check_rule(rule, find_arg(args, rule.arg));
    if (!why.empty()) return deny(why);
  }
  auto it = policy.approval.find(tool);
  Policy::Approval approval = it != policy.approval.end() ? it->second : policy.approval_default;
  if (approval == Policy::Approval::kAlways) {
    return Decision{Decision::Kind::kAsk, "tool \"" + tool + "\" needs approval"};
  }
  return Decision{Decision::Kind::kAllow, allowed ? "tool \"" + tool + "\" is on the allow list"
                                                  : "tool \"" + tool + "\" is allowed by default"};
}

std::optional<std::string> exceeded_budget(const Budgets& budgets, const RunCounters& counters) {
  if (budgets.max_steps > 0 && counters.steps >= budgets.max_steps) return "max_steps";
  if (budgets.max_tool_calls > 0 && counters.tool_calls >= budgets.max_tool_calls) {
    return "max_tool_calls";
  }
  if (budgets.max_tokens > 0 && counters.tokens >= budgets.max_tokens) return "token_budget";
  if (budgets.timeout_s > 0 && counters.elapsed_s >= budgets.timeout_s) return "timeout";
  return std::nullopt;
}

}  // namespace r1
