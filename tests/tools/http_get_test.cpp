// http_get against a real httplib server on 127.0.0.1: the host allowlist (on the parsed URL,
// including userinfo tricks), redirects to other hosts refused, the body cap, the time cap,
// non-text refused; and declared HTTP tools with URL-encoded placeholders.
#include "tools/http_get.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "tools/url.h"

namespace r1 {
namespace {

using json = nlohmann::json;

// A loopback server on an ephemeral port, stopped on destruction.
class LoopbackServer {
 public:
  LoopbackServer() {
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello from loopback", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(10000, 'z'), "text/plain");
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("late", "text/plain");
    });
    server_.Get("/image", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string("\x89PNG\r\n", 6), "image/png");
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content("no such page", "text/plain");
    });
    server_.Get("/redirect-local", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/hello");
    });
    server_.Get("/redirect-away", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://evil.example/steal");
    });
    server_.Get("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("q=" + req.get_param_value("q") + " target=" + req.target, "text/plain");
    });
    server_.Post("/post", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("got " + req.body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

ToolOutput call(const Tool& t, const json& args) {
  Result<ToolOutput> r = t.handler(args, ToolContext{});
  REQUIRE(r.is_ok());
  return r.value();
}

TEST_CASE("tools: http_get fetches from an allowed host") {
  LoopbackServer server;
  Tool t = make_http_get_tool({{"127.0.0.1"}, 1000000, 5});
  ToolOutput out = call(t, {{"url", server.url("/hello")}});
  CHECK_FALSE(out.is_error);
  CHECK(out.content == "HTTP 200 (text/plain)\n\nhello from loopback");
  ToolOutput redirected = call(t, {{"url", server.url("/redirect-local")}});
  CHECK(redirected.content.find("hello from loopback") != std::string::npos);
  ToolOutput missing = call(t, {{"url", server.url("/missing")}});
  CHECK(missing.is_error);
  CHECK(missing.content.find("HTTP 404") == 0);
}

TEST_CASE("tools: http_get refuses hosts off the allowlist, judged on the parsed URL") {
  LoopbackServer server;
  Tool none = make_http_get_tool({{}, 1000, 5});
  CHECK(call(none, {{"url", server.url("/hello")}}).is_error);  // empty allowlist: nothing

  Tool t = make_http_get_tool({{"example.org"}, 1000, 5});
  ToolOutput out = call(t, {{"url", server.url("/hello")}});
  CHECK(out.is_error);
  CHECK(out.content.find("host \"127.0.0.1\" is not allowed") == 0);
  // userinfo that looks like an allowed host does not fool the check
  std::string tricky = "http://example.org@127.0.0.1:" + std::to_string(server.port()) + "/hello";
  ToolOutput trick = call(t, {{"url", tricky}});
  CHECK(trick.is_error);
  CHECK(trick.content.find("127.0.0.1") != std::string::npos);
  CHECK(call(t, {{"url", "file:///etc/passwd"}}).is_error);
  CHECK(call(t, {{"url", "http://evil.com\\@example.org/"}}).is_error);
}

TEST_CASE("tools: http_get refuses a redirect to another host") {
  LoopbackServer server;
  Tool t = make_http_get_tool({{"127.0.0.1"}, 1000, 5});
  ToolOutput out = call(t, {{"url", server.url("/redirect-away")}});
  CHECK(out.is_error);
  CHECK_MESSAGE(out.content.find("\"evil.example\" is not allowed (reached by a redirect)") !=
                    std::string::npos,
                out.content);
}

TEST_CASE("tools: http_get caps the body, the time, and refuses non-text") {
  LoopbackServer server;
  Tool t = make_http_get_tool({{"127.0.0.1"}, 100, 0.5});
  ToolOutput big = call(t, {{"url", server.url("/big")}});
  CHECK_FALSE(big.is_error);
  CHECK(big.content.find(std::string(100, 'z') + "\n[body cut at 100 bytes]") != std::string::npos);
  CHECK(big.content.find(std::string(101, 'z')) == std::string::npos);

  auto t0 = std::chrono::steady_clock::now();
  ToolOutput slow = call(t, {{"url", server.url("/slow")}});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(slow.is_error);
  CHECK(s < 1.4);

  ToolOutput image = call(t, {{"url", server.url("/image")}});
  CHECK(image.is_error);
  CHECK(image.content.find("non-text") != std::string::npos);
}

TEST_CASE("tools: a declared HTTP tool URL-encodes its placeholders") {
  LoopbackServer server;
  json params = {
      {"type", "object"}, {"properties", {{"q", {{"type", "string"}}}}}, {"required", {"q"}}};
  Result<Tool> t =
      make_declared_http_tool("search", "Searches.", params,
                              HttpToolSpec{"GET", server.url("/echo?q={q}"), {}, {}, 1000, 5});
  REQUIRE(t.is_ok());
  ToolOutput out = call(t.value(), {{"q", "a b&c=d/../x#y"}});
  CHECK_FALSE(out.is_error);
  CHECK_MESSAGE(out.content.find("q=a b&c=d/../x#y target=/echo?q=a%20b%26c%3Dd%2F..%2Fx%23y") !=
                    std::string::npos,
                out.content);

  Result<Tool> post = make_declared_http_tool(
      "poster", "Posts.", params, HttpToolSpec{"POST", server.url("/post"), {}, {}, 1000, 5});
  REQUIRE(post.is_ok());
  CHECK(call(post.value(), {{"q", "x"}}).content.find("got {\"q\":\"x\"}") != std::string::npos);

  // Placeholders may not choose the host; unknown placeholders and methods are refused.
  CHECK_FALSE(
      make_declared_http_tool("h", "", params, {"GET", "http://{q}/x", {}, {}, 1, 1}).is_ok());
  CHECK_FALSE(make_declared_http_tool("h", "", params, {"GET", "http://a.org/{nope}", {}, {}, 1, 1})
                  .is_ok());
  CHECK_FALSE(
      make_declared_http_tool("h", "", params, {"DELETE", "http://a.org/", {}, {}, 1, 1}).is_ok());
  CHECK_FALSE(
      make_declared_http_tool("bad name", "", params, {"GET", "http://a.org/", {}, {}, 1, 1})
          .is_ok());
}

TEST_CASE("tools: parse_url and host_allowed") {
  Result<Url> u = parse_url("HTTP://User:pw@Example.ORG.:8080/a/b?x=1#frag");
  REQUIRE(u.is_ok());
  CHECK(u->scheme == "http");
  CHECK(u->host == "example.org");
  CHECK(u->port == 8080);
  CHECK(u->target == "/a/b?x=1");
  CHECK(parse_url("https://[::1]/").value().host == "::1");
  CHECK(parse_url("https://a.org").value().target == "/");
  CHECK(parse_url("http://a.org?x").value().target == "/?x");
  CHECK_FALSE(parse_url("ftp://a.org/").is_ok());
  CHECK_FALSE(parse_url("http:///path").is_ok());
  CHECK_FALSE(parse_url("http://a.org:99999/").is_ok());
  CHECK_FALSE(parse_url("http://a .org/").is_ok());
  CHECK(host_allowed("docs.example.org", {"example.org"}));
  CHECK(host_allowed("EXAMPLE.org", {"example.org"}));
  CHECK_FALSE(host_allowed("badexample.org", {"example.org"}));
  CHECK_FALSE(host_allowed("example.org.evil.com", {"example.org"}));
  CHECK_FALSE(host_allowed("1.127.0.0.1", {"127.0.0.1"}));
  CHECK(url_encode("a b/é") == "a%20b%2F%C3%A9");
}

}  // namespace
}  // namespace r1
