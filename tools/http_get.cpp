#include "tools/http_get.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>

#include "core/json_schema.h"
#include "tools/tool_registry.h"
#include "tools/url.h"

namespace r1 {

namespace {

constexpr int32_t kMaxRedirects = 5;

struct FetchRequest {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;  // POST only, sent as application/json
  std::vector<std::string> allow_hosts;
  int64_t max_bytes = 1000000;  // bytes
  double timeout_s = 10;        // s
};

bool is_text_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  while (!t.empty() && t.back() == ' ') t.pop_back();
  if (t.empty()) return true;  // unknown: judged by the bytes (UTF-8 check)
  if (t.rfind("text/", 0) == 0) return true;
  static const char* const kText[] = {"application/json",
                                      "application/xml",
                                      "application/javascript",
                                      "application/xhtml+xml",
                                      "application/x-www-form-urlencoded",
                                      "application/yaml",
                                      "application/x-yaml",
                                      "application/rss+xml",
                                      "application/atom+xml",
                                      "application/ld+json"};
  for (const char* k : kText) {
    if (t == k) return true;
  }
  return t.size() > 5 &&
         (t.compare(t.size() - 5, 5, "+json") == 0 || t.compare(t.size() - 4, 4, "+xml") == 0);
}

// The absolute URL a Location header names, relative to `base`.
std::string resolve_location(const Url& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  std::string origin =
      base.scheme + "://" +
      (base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host) + ":" +
      std::to_string(base.port);
  if (location.rfind("//", 0) == 0) return base.scheme + ":" + location;
  if (!location.empty() && location[0] == '/') return origin + location;
  std::string dir = base.target.substr(0, base.target.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return origin + dir + location;
}

ToolOutput fetch(const FetchRequest& fr, const ToolContext& ctx) {
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(fr.timeout_s));
  if (ctx.deadline < deadline) deadline = ctx.deadline;
  std::string url_text = fr.url;
  for (int32_t hop = 0; hop <= kMaxRedirects; ++hop) {
    Result<Url> url = parse_url(url_text);
    if (!url) return tool_error(url.status().message());
    if (!host_allowed(url->host, fr.allow_hosts)) {
      std::string allowed;
      for (const std::string& h : fr.allow_hosts) allowed += (allowed.empty() ? "" : ", ") + h;
      return tool_error("host \"" + url->host + "\" is not allowed" +
                        (hop > 0 ? " (reached by a redirect)" : "") +
                        "; allowed hosts: " + (allowed.empty() ? "(none)" : allowed));
    }
    double left_s =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left_s <= 0 || ctx.is_cancelled()) return tool_error("request timed out");
    std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    httplib::Client client(url->scheme + "://" + host + ":" + std::to_string(url->port));
    if (!client.is_valid()) return tool_error("cannot make an HTTP client for " + url_text);
    auto whole = static_cast<time_t>(left_s);
    auto micros = static_cast<time_t>((left_s - std::floor(left_s)) * 1e6);
    client.set_connection_timeout(whole, micros);
    client.set_read_timeout(whole, micros);
    client.set_write_timeout(whole, micros);
    client.set_follow_location(false);
    client.set_keep_alive(false);

    httplib::Request req;
    req.method = fr.method;
    req.path = url->target;
    for (const auto& [k, v] : fr.headers) req.headers.emplace(k, v);
    if (!req.has_header("User-Agent")) req.headers.emplace("User-Agent", "r1-agent/" R1_VERSION);
    if (fr.method == "POST") {
      req.body = fr.body;
      req.headers.emplace("Content-Type", "application/json");
    }
    std::string body;
    bool capped = false, stopped = false;
    int64_t dropped = 0;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (ctx.is_cancelled() || std::chrono::steady_clock::now() >= deadline) {
        stopped = true;
        return false;
      }
      int64_t room = fr.max_bytes - static_cast<int64_t>(body.size());
      if (static_cast<int64_t>(n) > room) {
        body.append(data, static_cast<size_t>(std::max<int64_t>(room, 0)));
        dropped += static_cast<int64_t>(n) - std::max<int64_t>(room, 0);
        capped = true;
        return false;  // stop reading: we have all we keep
      }
      body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    bool sent = client.send(req, res, err);
    if (!sent && !capped) {
      if (stopped) return tool_error("request timed out or was cancelled");
      return tool_error("request to " + url->host + " failed: " + httplib::to_string(err));
    }
    if (res.status >= 300 && res.status < 400 && res.has_header("Location")) {
      url_text = resolve_location(url.value(), res.get_header_value("Location"));
      continue;
    }
    std::string type = res.get_header_value("Content-Type");
    if (!is_text_type(type)) {
      return tool_error("HTTP " + std::to_string(res.status) + ": refusing non-text content (" +
                        type + ")");
    }
    size_t valid = valid_utf8_prefix(body);
    if (valid < body.size() && !(capped && body.size() - valid < 4)) {
      return tool_error("HTTP " + std::to_string(res.status) +
                        ": the body is not UTF-8 text (invalid byte at offset " +
                        std::to_string(valid) + ")");
    }
    dropped += static_cast<int64_t>(body.size() - valid);
    body.resize(valid);
    ToolOutput out;
    out.is_error = res.status >= 400;
    out.content = "HTTP " + std::to_string(res.status) + " (" + (type.empty() ? "no type" : type) +
                  ")\n\n" + body;
    if (capped) {
      out.content += "\n[body cut at " + std::to_string(fr.max_bytes) + " bytes]";
      out.metadata["truncated_bytes"] = dropped;
    }
    out.metadata["status"] = res.status;
    out.metadata["url"] = url_text;
    return out;
  }
  return tool_error("too many redirects (more than " + std::to_string(kMaxRedirects) + ")");
}

nlohmann::json url_parameters() {
  return {{"type", "object"},
          {"properties",
           {{"url", {{"type", "string"}, {"description", "absolute http:// or https:// URL"}}}}},
          {"required", {"url"}},
          {"additionalProperties", false}};
}

std::string placeholder_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

Tool make_http_get_tool(HttpGetOptions options) {
  Tool t;
  t.name = "http_get";
  std::string hosts;
  for (const std::string& h : options.allow_hosts) hosts += (hosts.empty() ? "" : ", ") + h;
  t.description =
      "Fetches a text document over HTTP(S) with GET and returns the status, type "
      "and body (at most " +
      std::to_string(options.max_bytes) +
      " bytes). Only these hosts (and their subdomains) are reachable: " +
      (hosts.empty() ? "none" : hosts) + ".";
  t.parameters = url_parameters();
  t.timeout_s = options.timeout_s + 1;  // the request's own timeout fires first
  t.max_output_bytes = options.max_bytes + 1024;
  t.handler = [options](const nlohmann::json& args, const ToolContext& ctx) -> Result<ToolOutput> {
    FetchRequest fr;
    fr.url = args.at("url").get<std::string>();
    fr.allow_hosts = options.allow_hosts;
    fr.max_bytes = options.max_bytes;
    fr.timeout_s = options.timeout_s;
    return fetch(fr, ctx);
  };
  return t;
}

Result<Tool> make_declared_http_tool(const std::string& name, const std::string& description,
                                     const nlohmann::json& parameters, HttpToolSpec spec) {
  if (!is_valid_tool_name(name)) {
    return Status::invalid("tool name \"" + name + "\" must match [A-Za-z0-9_.-]{1,64}");
  }
  Status s = check_json_schema(parameters);
  if (!s) return Status::invalid("tool \"" + name + "\": " + s.message());
  if (spec.method != "GET" && spec.method != "POST") {
    return Status::invalid("tool \"" + name + "\": method must be GET or POST, not \"" +
                           spec.method + "\"");
  }
  const std::string& tpl = spec.url_template;
  size_t scheme_end = tpl.find("://");
  if (scheme_end == std::string::npos) {
    return Status::invalid("tool \"" + name + "\": url \"" + tpl + "\" has no scheme");
  }
  size_t authority_end = tpl.find_first_of("/?#", scheme_end + 3);
  if (authority_end == std::string::npos) authority_end = tpl.size();
  // Placeholders: collect names, refuse any in the scheme or host.
  std::string probe;  // the template with every placeholder replaced by "x", to parse it
  std::vector<std::string> names;
  for (size_t i = 0; i < tpl.size();) {
    if (tpl[i] == '{') {
      size_t close = tpl.find('}', i);
      if (close == std::string::npos) {
        return Status::invalid("tool \"" + name + "\": unclosed '{' in url");
      }
      if (i < authority_end) {
        return Status::invalid("tool \"" + name +
                               "\": placeholders are allowed only in the URL path and query");
      }
      std::string p = tpl.substr(i + 1, close - i - 1);
      const nlohmann::json* props = parameters.is_object() && parameters.contains("properties")
                                        ? &parameters["properties"]
                                        : nullptr;
      if (props == nullptr || !props->is_object() || !props->contains(p)) {
        return Status::invalid("tool \"" + name + "\": url placeholder {" + p +
                               "} names no parameter");
      }
      names.push_back(p);
      probe += "x";
      i = close + 1;
    } else {
      probe += tpl[i++];
    }
  }
  Result<Url> parsed = parse_url(probe);
  if (!parsed) return Status::invalid("tool \"" + name + "\": " + parsed.status().message());
  if (spec.allow_hosts.empty()) spec.allow_hosts.push_back(parsed->host);

  Tool t;
  t.name = name;
  t.description = description;
  t.parameters = parameters;
  t.timeout_s = spec.timeout_s + 1;
  t.max_output_bytes = spec.max_bytes + 1024;
  t.handler = [spec](const nlohmann::json& args, const ToolContext& ctx) -> Result<ToolOutput> {
    FetchRequest fr;
    const std::string& tpl = spec.url_template;
    for (size_t i = 0; i < tpl.size();) {
      if (tpl[i] == '{') {
        size_t close = tpl.find('}', i);
        std::string p = tpl.substr(i + 1, close - i - 1);
        if (args.is_object() && args.contains(p)) fr.url += url_encode(placeholder_value(args[p]));
        i = close + 1;
      } else {
        fr.url += tpl[i++];
      }
    }
    fr.method = spec.method;
    fr.headers = spec.headers;
    if (spec.method == "POST") fr.body = args.dump();
    fr.allow_hosts = spec.allow_hosts;
    fr.max_bytes = spec.max_bytes;
    fr.timeout_s = spec.timeout_s;
    return fetch(fr, ctx);
  };
  return t;
}

}  // namespace r1
