// The `http_get` tool and YAML-declared HTTP tools (cpp-httplib; http and https).
//
// Every request is checked against a host allowlist on the parsed URL (tools/url.h; exact host
// or a subdomain of an allowed host; an empty allowlist allows nothing). Redirects are followed
// by hand, at most 5, and only to allowed hosts: a redirect elsewhere is an error naming the
// host. The body is capped at max_bytes (the output says it was truncated) and the whole call at
// timeout_s; the call stops early when the context is cancelled. Responses that are not text
// (by Content-Type, or not valid UTF-8) are refused. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/tool.h"

namespace r1 {

struct HttpGetOptions {
  std::vector<std::string> allow_hosts;  // host names or IP literals; empty = nothing allowed
  int64_t max_bytes = 1000000;           // bytes of response body kept
  double timeout_s = 10;                 // s, whole call
};

// Tool "http_get": arguments {"url": string}. Output: "HTTP 200 (text/html)\n\n<body>".
Tool make_http_get_tool(HttpGetOptions options);

struct HttpToolSpec {
  std::string method = "GET";  // GET | POST (POST sends the arguments as a JSON body)
  // URL with {param} placeholders in the path or query, replaced by the URL-encoded argument
  // values. Placeholders in the scheme or host are refused when the tool is made.
  std::string url_template;
  std::map<std::string, std::string> headers;  // sent as is (no placeholders)
  // Allowed hosts; empty = only the template's own host.
  std::vector<std::string> allow_hosts;
  int64_t max_bytes = 1000000;  // bytes
  double timeout_s = 10;        // s
};

// A declared HTTP tool. kInvalidArgument for a bad name, schema, method or URL template
// (placeholders outside path/query, or naming no parameter of `parameters`).
Result<Tool> make_declared_http_tool(const std::string& name, const std::string& description,
                                     const nlohmann::json& parameters, HttpToolSpec spec);

}  // namespace r1
