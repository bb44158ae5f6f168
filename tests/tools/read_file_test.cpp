// read_file and list_dir stay inside their root: `..`, absolute paths, a symlink to a file
// outside, and a path through a symlinked directory are all refused; links that stay inside
// work; long files are paged; binary files are refused.
#include "tools/read_file.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/tools/temp_dir.h"
#include "tools/confined_path.h"
#include "tools/list_dir.h"

namespace r1 {
namespace {

using json = nlohmann::json;

ToolOutput call(const Tool& t, const json& args) {
  Result<ToolOutput> r = t.handler(args, ToolContext{});
  REQUIRE(r.is_ok());
  return r.value();
}

// outside/secret.txt beside root/, with links from inside root pointing out (and in).
struct Sandbox {
  test::TempDir tmp;
  std::string root = tmp / "root";
  Sandbox() {
    tmp.write("root/notes/a.txt", "alpha\n");
    tmp.write("root/readme.md", "hello\n");
    tmp.write("outside/secret.txt", "TOP SECRET\n");
    std::filesystem::create_symlink(tmp / "outside/secret.txt", tmp / "root/escape_abs");
    std::filesystem::create_symlink("../outside/secret.txt", tmp / "root/escape_rel");
    std::filesystem::create_directory_symlink(tmp / "outside", tmp / "root/outdir");
    std::filesystem::create_symlink("notes/a.txt", tmp / "root/inside_link");
  }
};

TEST_CASE("tools: read_file reads files beneath its root") {
  Sandbox sb;
  Tool t = make_read_file_tool(sb.root);
  CHECK(call(t, {{"path", "readme.md"}}).content == "hello\n");
  CHECK(call(t, {{"path", "notes/a.txt"}}).content == "alpha\n");
  CHECK(call(t, {{"path", "./notes/../notes/a.txt"}}).content == "alpha\n");
  CHECK(call(t, {{"path", "notes//a.txt"}}).content == "alpha\n");
}

TEST_CASE("tools: read_file refuses every way out of the root") {
  Sandbox sb;
  Tool t = make_read_file_tool(sb.root);
  for (const char* path : {"../outside/secret.txt", "notes/../../outside/secret.txt", "..",
                           "escape_abs", "escape_rel", "outdir/secret.txt"}) {
    CAPTURE(path);
    ToolOutput out = call(t, {{"path", path}});
    CHECK(out.is_error);
    CHECK_MESSAGE(out.content.find("escapes the root") != std::string::npos, out.content);
    CHECK(out.content.find("TOP SECRET") == std::string::npos);
  }
  ToolOutput abs = call(t, {{"path", sb.tmp / "outside/secret.txt"}});
  CHECK(abs.is_error);
  CHECK(abs.content.find("absolute path") != std::string::npos);
  ToolOutput etc = call(t, {{"path", "/etc/passwd"}});
  CHECK(etc.is_error);
}

TEST_CASE("tools: read_file follows links that stay inside, and reports missing files") {
  Sandbox sb;
  Tool t = make_read_file_tool(sb.root);
  ToolOutput in = call(t, {{"path", "inside_link"}});
  // openat2(RESOLVE_BENEATH) admits it; the O_NOFOLLOW fallback refuses every link.
  if (!in.is_error) {
    CHECK(in.content == "alpha\n");
  } else {
    CHECK(in.content.find("escapes the root") != std::string::npos);
  }
  ToolOutput missing = call(t, {{"path", "nope.txt"}});
  CHECK(missing.is_error);
  CHECK(missing.content.find("does not exist") != std::string::npos);
  ToolOutput dir = call(t, {{"path", "notes"}});
  CHECK(dir.is_error);
  CHECK(dir.content.find("not a regular file") != std::string::npos);
}

TEST_CASE("tools: read_file pages long files and refuses binary ones") {
  Sandbox sb;
  sb.tmp.write("root/long.txt", std::string(100, 'x') + "\xC3\xA9" + std::string(10, 'y'));
  sb.tmp.write("root/blob.bin", std::string("\x7f"
                                            "ELF\0\0\x01",
                                            7));
  sb.tmp.write("root/latin1.txt", "caf\xE9\n");
  Tool t = make_read_file_tool(sb.root, 101);  // the cap falls inside the 2-byte é
  ToolOutput first = call(t, {{"path", "long.txt"}});
  CHECK_FALSE(first.is_error);
  CHECK(first.content.rfind(std::string(100, 'x'), 0) == 0);
  CHECK_MESSAGE(first.content.find("call again with offset 100") != std::string::npos,
                first.content);
  ToolOutput second = call(t, {{"path", "long.txt"}, {"offset", 100}});
  CHECK(second.content == "\xC3\xA9" + std::string(10, 'y'));
  CHECK(call(t, {{"path", "blob.bin"}}).is_error);
  ToolOutput latin = call(t, {{"path", "latin1.txt"}});
  CHECK(latin.is_error);
  CHECK(latin.content.find("not a UTF-8 text file") != std::string::npos);
}

TEST_CASE("tools: read_file with a missing root fails every call with the reason") {
  Tool t = make_read_file_tool("/nonexistent/r1-root");
  ToolOutput out = call(t, {{"path", "a.txt"}});
  CHECK(out.is_error);
  CHECK(out.content.find("/nonexistent/r1-root") != std::string::npos);
}

TEST_CASE("tools: list_dir lists beneath its root and refuses escapes") {
  Sandbox sb;
  Tool t = make_list_dir_tool(sb.root);
  ToolOutput top = call(t, json::object());
  CHECK_FALSE(top.is_error);
  CHECK(top.content.find("notes/\n") != std::string::npos);
  CHECK(top.content.find("readme.md  6 bytes\n") != std::string::npos);
  CHECK(top.content.find("escape_abs -> (link)") != std::string::npos);
  CHECK(call(t, {{"path", "notes"}}).content == "a.txt  6 bytes\n");
  for (const char* path : {"..", "../outside", "outdir", "notes/../.."}) {
    CAPTURE(path);
    ToolOutput out = call(t, {{"path", path}});
    CHECK(out.is_error);
    CHECK(out.content.find("secret.txt") == std::string::npos);
  }
  CHECK(call(t, {{"path", "/"}}).is_error);

  Tool capped = make_list_dir_tool(sb.root, 2);
  CHECK(call(capped, json::object()).content.find("more entries not shown") != std::string::npos);
}

TEST_CASE("tools: normalize_relative_path folds dots and refuses climbing out") {
  CHECK(normalize_relative_path("a/./b//c/../d").value() == "a/b/d");
  CHECK(normalize_relative_path("").value() == ".");
  CHECK(normalize_relative_path("a/..").value() == ".");
  CHECK_FALSE(normalize_relative_path("a/../..").is_ok());
  CHECK_FALSE(normalize_relative_path("/etc").is_ok());
}

}  // namespace
}  // namespace r1
