#include "tools/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "tools/confined_path.h"
#include "tools/tool_registry.h"

namespace r1 {

Tool make_read_file_tool(const std::string& root, int64_t max_bytes) {
  Result<ConfinedRoot> opened = ConfinedRoot::open(root);
  auto confined = opened ? std::make_shared<ConfinedRoot>(std::move(opened).value()) : nullptr;
  std::string root_error = opened ? "" : opened.status().message();

  Tool t;
  t.name = "read_file";
  t.description =
      "Reads a text file under the allowed directory. Paths are relative to it; "
      "'..', absolute paths and links leading outside are refused. Returns at most " +
      std::to_string(max_bytes) + " bytes; pass offset to read further.";
  t.parameters = {
      {"type", "object"},
      {"properties",
       {{"path", {{"type", "string"}, {"description", "relative path of the file"}}},
        {"offset", {{"type", "integer"}, {"minimum", 0}, {"description", "byte to start at"}}}}},
      {"required", {"path"}},
      {"additionalProperties", false}};
  t.max_output_bytes = max_bytes + 512;  // room for the continuation note
  t.timeout_s = 10;
  t.handler = [confined, root_error, max_bytes](const nlohmann::json& args,
                                                const ToolContext&) -> Result<ToolOutput> {
    if (!confined) return tool_error("read_file is unavailable: " + root_error);
    std::string path = args.at("path").get<std::string>();
    int64_t offset = args.value("offset", int64_t{0});
    // O_NONBLOCK so a FIFO cannot hang the open; non-regular files are refused below.
    Result<int> fd = confined->open_beneath(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return tool_error(fd.status().message());
    struct stat st;
    if (::fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(*fd);
      return tool_error("\"" + path + "\" is not a regular file");
    }
    int64_t size = st.st_size;
    if (offset > size) offset = size;
    int64_t want = std::min<int64_t>(max_bytes, size - offset);
    std::string data(static_cast<size_t>(want), '\0');
    int64_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(*fd, data.data() + got, static_cast<size_t>(want - got), offset + got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(*fd);
        return tool_error("cannot read \"" + path + "\": " + std::strerror(err));
      }
      if (n == 0) break;
      got += n;
    }
    ::close(*fd);
    data.resize(static_cast<size_t>(got));
    size_t valid = valid_utf8_prefix(data);
    bool cut_inside_char = offset + got < size && data.size() - valid < 4;
    if (valid < data.size() && !cut_inside_char) {
      return tool_error("\"" + path + "\" is not a UTF-8 text file (invalid byte at offset " +
                        std::to_string(offset + static_cast<int64_t>(valid)) + ")");
    }
    if (data.find('\0') != std::string::npos) {
      return tool_error("\"" + path + "\" is a binary file (contains NUL bytes)");
    }
    data.resize(valid);
    int64_t end = offset + static_cast<int64_t>(valid);
    ToolOutput out = tool_ok(std::move(data));
    if (end < size) {
      out.content += "\n[file has " + std::to_string(size) + " bytes; shown bytes " +
                     std::to_string(offset) + ".." + std::to_string(end) +
                     "; call again with offset " + std::to_string(end) + " for more]";
    }
    out.metadata["bytes"] = size;
    return out;
  };
  return t;
}

}  // namespace r1
