#include "tools/list_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "tools/confined_path.h"

namespace r1 {

Tool make_list_dir_tool(const std::string& root, int32_t max_entries) {
  Result<ConfinedRoot> opened = ConfinedRoot::open(root);
  auto confined = opened ? std::make_shared<ConfinedRoot>(std::move(opened).value()) : nullptr;
  std::string root_error = opened ? "" : opened.status().message();

  Tool t;
  t.name = "list_dir";
  t.description =
      "Lists a directory under the allowed directory: one entry per line, directories end "
      "with '/', files show their size in bytes. Paths are relative; '..', absolute paths and "
      "links leading outside are refused.";
  t.parameters = {
      {"type", "object"},
      {"properties",
       {{"path", {{"type", "string"}, {"description", "relative directory (default \".\")"}}}}},
      {"additionalProperties", false}};
  t.timeout_s = 10;
  t.handler = [confined, root_error, max_entries](const nlohmann::json& args,
                                                  const ToolContext& ctx) -> Result<ToolOutput> {
    if (!confined) return tool_error("list_dir is unavailable: " + root_error);
    std::string path = args.value("path", ".");
    if (path.empty()) path = ".";
    Result<int> fd = confined->open_beneath(path, O_RDONLY | O_DIRECTORY);
    if (!fd) return tool_error(fd.status().message());
    DIR* dir = ::fdopendir(*fd);  // takes ownership of fd
    if (dir == nullptr) {
      ::close(*fd);
      return tool_error("cannot list \"" + path + "\"");
    }
    std::vector<std::string> lines;
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        lines.push_back(name + "/");
      } else if (S_ISLNK(st.st_mode)) {
        lines.push_back(name + " -> (link)");
      } else if (S_ISREG(st.st_mode)) {
        lines.push_back(name + "  " + std::to_string(st.st_size) + " bytes");
      } else {
        lines.push_back(name + "  (special file)");
      }
      if (ctx.is_cancelled()) break;
    }
    ::closedir(dir);
    std::sort(lines.begin(), lines.end());
    std::string out;
    int32_t shown = 0;
    for (const std::string& l : lines) {
      if (shown == max_entries) break;
      out += l + "\n";
      ++shown;
    }
    if (lines.size() > static_cast<size_t>(shown)) {
      out += "[" + std::to_string(lines.size() - shown) + " more entries not shown]\n";
    }
    if (lines.empty()) out = "(empty directory)\n";
    return tool_ok(out);
  };
  return t;
}

}  // namespace r1
