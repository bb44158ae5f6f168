// FactStore: the long-term memory the `remember` and `recall` tools talk to.
//
// An interface so tools/ does not depend on memory/: the agent adapts its SQLite memory (FTS5
// facts table) to it. Implementations must be thread-safe (calls may run in parallel) and
// return errors as values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace r1 {

class FactStore {
 public:
  virtual ~FactStore() = default;
  // Stores `text`; returns its id.
  virtual Result<int64_t> remember(const std::string& text) = 0;
  // Up to `k` stored facts most relevant to `query`, best first.
  virtual Result<std::vector<std::string>> recall(const std::string& query, int k) = 0;
};

}  // namespace r1
