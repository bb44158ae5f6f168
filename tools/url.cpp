#include "tools/url.h"

#include <cctype>

namespace r1 {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '\\') {
      return Status::invalid("URL contains a space, control character or backslash");
    }
  }
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) {
    return Status::invalid("URL \"" + std::string(text) + "\" has no scheme (expected http://)");
  }
  Url url;
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::invalid("unsupported URL scheme \"" + url.scheme + "\" (http and https only)");
  }
  std::string_view rest = text.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  // Userinfo ends at the LAST '@' (that is what HTTP clients do): "a@b@host" -> host.
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Status::invalid("URL has an unclosed '[' in its host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::invalid("URL has junk after its IPv6 host");
      port = after.substr(1);
    }
  } else {
    size_t c = authority.rfind(':');
    if (c != std::string_view::npos) {
      host = authority.substr(0, c);
      port = authority.substr(c + 1);
    }
  }
  url.host = lower(host);
  while (!url.host.empty() && url.host.back() == '.') url.host.pop_back();
  if (url.host.empty()) return Status::invalid("URL \"" + std::string(text) + "\" has no host");
  for (char c : url.host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
              c == ':' || static_cast<unsigned char>(c) >= 0x80;
    if (!ok) return Status::invalid("URL host \"" + url.host + "\" contains '" + c + "'");
  }
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int32_t p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || p > 65535) {
        return Status::invalid("URL port \"" + std::string(port) + "\" is not a number 1..65535");
      }
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return Status::invalid("URL port out of range");
    url.port = p;
  }
  size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  url.target = std::string(tail);
  if (url.target.empty() || url.target[0] == '?') url.target = "/" + url.target;
  return url;
}

bool host_allowed(const std::string& host, const std::vector<std::string>& allowed) {
  std::string h = lower(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty()) return false;
  for (const std::string& a : allowed) {
    std::string d = lower(a);
    while (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty()) continue;
    if (h == d) return true;
    // IP literals match exactly only: "1.127.0.0.1" is not "a subdomain" of 127.0.0.1.
    bool ip_literal =
        d.find(':') != std::string::npos || d.find_first_not_of("0123456789.") == std::string::npos;
    if (ip_literal) continue;
    if (h.size() > d.size() && h.compare(h.size() - d.size(), d.size(), d) == 0 &&
        h[h.size() - d.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string url_encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace r1
