// libFuzzer target for policy decisions on untrusted tool arguments, the URL parser behind the
// host rule, and the redactor. The input is split at the first NUL: the part before is used as
// JSON arguments (and as a URL and a path), the whole input is redacted. Nothing may crash; a
// decision must always carry a reason; redaction must be idempotent on its own output markers.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/json_schema.h"
#include "policies/policy.h"
#include "policies/redactor.h"
#include "tools/url.h"

namespace {

const r1::Policy& policy() {
  static const r1::Policy p = [] {
    r1::Policy p;
    p.allow = {"read_file", "http_get"};
    p.deny = {"command"};
    p.approval = {{"http_get", r1::Policy::Approval::kAlways}};
    p.rules.push_back({"read_file", "path", {"notes", "/srv/data"}, {}, {}, {}});
    p.rules.push_back({"http_get", "url", {}, {"example.org", "127.0.0.1"}, {}, {}});
    p.rules.push_back({"create_event", "/when/day", {}, {}, 1.0, 31.0});
    return p;
  }();
  return p;
}

const r1::Redactor& redactor() {
  static const r1::Redactor r = r1::Redactor::create(true, {"ACME-[0-9]{6}"}).value();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string head = input.substr(0, input.find('\0'));

  nlohmann::json args = nlohmann::json::object();
  if (auto parsed = r1::parse_json(head); parsed.is_ok()) args = parsed.value();
  nlohmann::json as_strings = {{"path", head}, {"url", head}, {"when", {{"day", head.size()}}}};
  for (const char* tool : {"read_file", "http_get", "create_event", "command", "other"}) {
    for (const nlohmann::json* a : {&args, &as_strings}) {
      r1::Decision d = r1::decide(policy(), tool, *a);
      if (d.reason.empty()) __builtin_trap();
    }
  }
  if (auto url = r1::parse_url(head); url.is_ok()) {
    if (url->host.empty() || url->target.empty() || url->target[0] != '/') __builtin_trap();
    (void)r1::host_allowed(url->host, {"example.org"});
  }
  std::string once = redactor().redact(input);
  std::string twice = redactor().redact(once);
  if (twice != once) __builtin_trap();
  return 0;
}
