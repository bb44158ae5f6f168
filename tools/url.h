// A small URL parser and percent-encoder shared by the HTTP tools and the URL-host policy rule,
// so that the host a policy approves is exactly the host the tool connects to.
//
// Accepts absolute http and https URLs: scheme "://" [userinfo "@"] host [":" port] [path]
// ["?" query] ["#" fragment]. The host is lower-cased and a trailing dot dropped; IPv6 literals
// keep their brackets off ("::1"). Control characters, spaces and backslashes anywhere are
// refused, since browsers and servers disagree on them. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

struct Url {
  std::string scheme;  // "http" | "https" (lower case)
  std::string host;    // lower case, no trailing dot, no brackets
  int32_t port = 0;    // explicit or the scheme's default (80, 443)
  std::string target;  // path + query, starting with '/' ("/" when empty); fragment dropped
};

// kInvalidArgument naming what is wrong ("unsupported scheme \"ftp\"", "missing host").
Result<Url> parse_url(std::string_view text);

// True when `host` equals one of `allowed` or is a subdomain of one ("a.example.org" matches
// "example.org"; "badexample.org" does not). Comparison is case-insensitive.
bool host_allowed(const std::string& host, const std::vector<std::string>& allowed);

// Percent-encodes everything except the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string url_encode(std::string_view text);

}  // namespace r1
