#include "retrieval/search_tool.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>

#include "engine/model_store.h"
#include "retrieval/text_embedder.h"
#include "tools/tool_registry.h"

namespace r1 {

std::string format_search_hits(const std::vector<SearchHit>& hits, int32_t max_chars_per_hit) {
  if (hits.empty()) return "No document matches the query.";
  std::string out;
  for (size_t i = 0; i < hits.size(); ++i) {
    std::string text = hits[i].text;
    truncate_utf8(text, max_chars_per_hit);
    out += "[" + std::to_string(i + 1) + "] " + hits[i].citation + "\n" + text + "\n\n";
  }
  return out;
}

Result<Tool> make_search_documents_tool(const SearchToolOptions& options) {
  Result<std::string> dir = index_dir_for_name(options.index);
  if (!dir) return dir.status();
  // Opened on first use: a run that never searches does not load the embedding model.
  struct Shared {
    std::mutex mu;
    std::unique_ptr<DocumentIndex> index;
  };
  auto shared = std::make_shared<Shared>();
  Tool t;
  t.name = "search_documents";
  t.description =
      "Searches the user's documents (index \"" + options.index +
      "\") and returns the most relevant passages, each with its citation. Cite the passages "
      "you use as [n] with their citation.";
  t.parameters = {
      {"type", "object"},
      {"properties",
       {{"query",
         {{"type", "string"},
          {"description", "Plain words to look for, taken from the question"},
          {"minLength", 1},
          {"maxLength", 200}}},
        {"k",
         {{"type", "integer"}, {"minimum", 1}, {"maximum", std::max<int32_t>(1, options.k)}}}}},
      {"required", {"query"}}};
  t.timeout_s = 60;
  t.handler = [shared, options, dir = *dir](const nlohmann::json& args,
                                            const ToolContext&) -> Result<ToolOutput> {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (!shared->index) {
      if (!std::filesystem::exists(dir + "/index.db")) {
        return tool_error("there is no index \"" + options.index + "\" (create it with r1 ingest)");
      }
      Result<std::unique_ptr<TextEmbedder>> emb = open_native_text_embedder("");
      if (!emb)
        return tool_error("the embedding model cannot be loaded: " + emb.status().message());
      Result<std::unique_ptr<DocumentIndex>> idx = DocumentIndex::open(dir, std::move(emb.value()));
      if (!idx) return tool_error(idx.status().message());
      shared->index = std::move(idx.value());
    }
    SearchOptions so;
    so.k = args.value("k", options.k);
    so.mode = options.mode;
    Result<std::vector<SearchHit>> hits =
        shared->index->search(args.at("query").get<std::string>(), so);
    if (!hits) return tool_error(hits.status().message());
    ToolOutput out = tool_ok(format_search_hits(*hits, options.max_chars_per_hit));
    nlohmann::json citations = nlohmann::json::array();
    for (size_t i = 0; i < hits->size(); ++i) {
      citations.push_back("[" + std::to_string(i + 1) + "] " + (*hits)[i].citation);
    }
    out.metadata = {{"citations", citations}};
    return out;
  };
  return t;
}

}  // namespace r1
