// SHA-256 (OpenSSL) as lower-case hex: of bytes in memory, and of a file read in 1 MiB blocks.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace r1 {

std::string sha256_hex(const void* bytes, size_t n);
// kIoError naming the path when the file cannot be opened or read.
Result<std::string> sha256_file(const std::string& path);

}  // namespace r1
