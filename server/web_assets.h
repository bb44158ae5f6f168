// The web chat's files (server/web/*), compiled into the binary so `r1 serve` needs nothing
// beside it. Generated at build time by cmake/embed_files.cmake.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace r1::server {

// File name (no directory) -> contents.
const std::map<std::string, std::string_view>& web_assets();

}  // namespace r1::server
