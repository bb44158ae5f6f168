// The `search_documents` tool: an agent's way into a DocumentIndex.
//
// Arguments {"query": string, "k": integer 1..options.k (optional)}. The result lists the hits best
// first, each with its citation ("path:page 3" or "path:bytes 100-900") and its text (cut to
// max_chars_per_hit), so the model can quote and cite; metadata["citations"] lists the same
// "[n] citation" lines for the agent, which puts them under its final answer. The agent loop fences
// it as untrusted data like every tool result. The index (and its embedding model) is opened on the
// first call and shared by later calls; the tool is thread-safe (DocumentIndex serialises calls).
#pragma once

#include <string>

#include "core/status.h"
#include "retrieval/document_index.h"
#include "tools/tool.h"

namespace r1 {

struct SearchToolOptions {
  std::string index;  // index name (see index_dir_for_name)
  int32_t k = 5;      // hits when the model does not say, and the most it may ask for
  SearchMode mode = SearchMode::kHybrid;
  int32_t max_chars_per_hit = 700;  // bytes of each hit's text shown to the model
};

// kInvalidArgument for a bad index name; a missing index is reported when the tool is called.
Result<Tool> make_search_documents_tool(const SearchToolOptions& options);

// The hits as the tool shows them (exposed for tests).
std::string format_search_hits(const std::vector<SearchHit>& hits, int32_t max_chars_per_hit);

}  // namespace r1
