#include "cli/retrieval_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "retrieval/document_index.h"

namespace r1::cli {

namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  std::string index;
  std::string model;  // embedding model path or name; empty: all-minilm-l6-v2
  bool hnsw = false;
  bool flat = false;
  int threads = 0;
};

struct SearchArgs {
  std::string query;
  std::string index;
  std::string model;
  int k = 5;
  int candidates = 0;          // per-list depth before fusion; 0: the index's default
  double keyword_weight = -1;  // < 0: the index's default
  double rrf_k = -1;           // < 0: the default (kHybridRrfK)
  std::string mode = "hybrid";
  std::string path_prefix;
  bool json = false;
  int threads = 0;
};

IngestArgs& ingest_args() {
  static IngestArgs a;
  return a;
}
SearchArgs& search_args() {
  static SearchArgs a;
  return a;
}

int fail(const Status& st) {
  std::fprintf(stderr, "r1: %s\n", st.message().c_str());
  return st.exit_code();
}

// One line, redrawn in place: [=====>     ] 120/767 files, 3012 chunks
void draw_progress(const IngestProgress& p) {
  const int width = 30;
  const int filled =
      p.files_total > 0 ? static_cast<int>(width * p.files_done / p.files_total) : width;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(static_cast<size_t>(width), ' ');
  std::fprintf(stderr, "\r[%s] %lld/%lld files, %lld chunks", bar.c_str(),
               static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
               static_cast<long long>(p.chunks_added));
  std::fflush(stderr);
}

}  // namespace

CLI::App* add_ingest_command(CLI::App& app) {
  IngestArgs& a = ingest_args();
  CLI::App* cmd = app.add_subcommand(
      "ingest", "Add files or folders (txt, md, html, pdf) to a document index for search");
  cmd->add_option("paths", a.paths, "Files or folders (recursively)")->required();
  cmd->add_option("--index", a.index,
                  "Index name (under ${XDG_DATA_HOME:-~/.local/share}/r1/indexes)")
      ->required();
  cmd->add_option("-m,--model", a.model, "Embedding model path or name (default all-minilm-l6-v2)");
  auto* hnsw =
      cmd->add_flag("--hnsw", a.hnsw, "Use an HNSW vector index (approximate, large indexes)");
  cmd->add_flag("--flat", a.flat, "Use an exact vector index")->excludes(hnsw);
  cmd->add_option("-t,--threads", a.threads, "Threads for embedding (0: all cores)")
      ->check(CLI::Range(0, 1024));
  return cmd;
}

CLI::App* add_search_command(CLI::App& app) {
  SearchArgs& a = search_args();
  CLI::App* cmd = app.add_subcommand("search", "Search a document index; every hit has a citation");
  cmd->add_option("query", a.query, "What to look for")->required();
  cmd->add_option("--index", a.index, "Index name")->required();
  cmd->add_option("-k", a.k, "Hits to return")->check(CLI::Range(1, 1000));
  cmd->add_option("--mode", a.mode, "hybrid (default), vector or keyword")
      ->check(CLI::IsMember({"hybrid", "vector", "keyword"}));
  cmd->add_option("--path", a.path_prefix, "Only files whose absolute path starts with this");
  cmd->add_option("--candidates", a.candidates,
                  "Hits taken from each ranking before hybrid fusion (default max(50, k))")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--keyword-weight", a.keyword_weight,
                  "Weight of the keyword ranking in hybrid fusion (vector: 1)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--rrf-k", a.rrf_k,
                  "k of hybrid's reciprocal rank fusion, 1 / (k + rank) (default 1; textbook: 60)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("-m,--model", a.model, "Embedding model path or name (default all-minilm-l6-v2)");
  cmd->add_option("-t,--threads", a.threads, "Threads for embedding (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", a.json, "Print one JSON object");
  return cmd;
}

int run_ingest_command() {
  const IngestArgs& a = ingest_args();
  Result<std::string> dir = index_dir_for_name(a.index);
  if (!dir) return fail(dir.status());
  Result<std::unique_ptr<TextEmbedder>> emb = open_native_text_embedder(a.model, a.threads);
  if (!emb) return fail(emb.status());
  Result<std::unique_ptr<DocumentIndex>> idx = DocumentIndex::open(*dir, std::move(*emb));
  if (!idx) return fail(idx.status());
  if ((*idx)->health().repaired) {
    std::fprintf(stderr, "r1: %s: repaired the vector index from SQLite (%s)\n", dir->c_str(),
                 (*idx)->health().problem.c_str());
  }
  IngestOptions o;
  o.kind = a.hnsw   ? IndexKindChoice::kHnsw
           : a.flat ? IndexKindChoice::kFlat
                    : IndexKindChoice::kKeep;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bool drew = false;
  if (tty) {
    o.progress = [&drew](const IngestProgress& p) {
      draw_progress(p);
      drew = true;
    };
  }
  Result<IngestReport> r = (*idx)->ingest(a.paths, o);
  if (drew) std::fprintf(stderr, "\n");
  if (!r) return fail(r.status());
  for (const FileError& e : r->errors)
    std::fprintf(stderr, "r1: skipped %s\n", e.status.message().c_str());
  std::printf(
      "ingested %s into '%s' in %.1fs: %lld new, %lld changed, %lld unchanged, %lld duplicate, "
      "%lld removed, %lld failed; %lld chunks added, %lld removed; vector index %s\n",
      a.paths.size() == 1 ? a.paths[0].c_str()
                          : (std::to_string(a.paths.size()) + " paths").c_str(),
      a.index.c_str(), r->seconds, static_cast<long long>(r->files_new),
      static_cast<long long>(r->files_changed), static_cast<long long>(r->files_unchanged),
      static_cast<long long>(r->files_duplicate), static_cast<long long>(r->files_removed),
      static_cast<long long>(r->errors.size()), static_cast<long long>(r->chunks_added),
      static_cast<long long>(r->chunks_removed), r->vector_index.c_str());
  return r->errors.empty() ? 0 : 1;
}

int run_search_command() {
  const SearchArgs& a = search_args();
  Result<std::string> dir = index_dir_for_name(a.index);
  if (!dir) return fail(dir.status());
  if (::access((*dir + "/index.db").c_str(), F_OK) != 0) {
    return fail(Status::not_found("no index named '" + a.index +
                                  "' (create it with `r1 ingest "
                                  "PATH --index " +
                                  a.index + "`)"));
  }
  const SearchMode mode = *parse_search_mode(a.mode);
  std::unique_ptr<TextEmbedder> embedder;
  if (mode != SearchMode::kKeyword) {
    Result<std::unique_ptr<TextEmbedder>> emb = open_native_text_embedder(a.model, a.threads);
    if (!emb) return fail(emb.status());
    embedder = std::move(*emb);
  }
  Result<std::unique_ptr<DocumentIndex>> idx = DocumentIndex::open(*dir, std::move(embedder));
  if (!idx) return fail(idx.status());
  if ((*idx)->health().repaired) {
    std::fprintf(stderr, "r1: %s: repaired the vector index from SQLite (%s)\n", dir->c_str(),
                 (*idx)->health().problem.c_str());
  }
  SearchOptions so;
  so.k = a.k;
  so.mode = mode;
  so.path_prefix = a.path_prefix;
  so.candidates = a.candidates;
  if (a.keyword_weight >= 0) so.keyword_weight = a.keyword_weight;
  if (a.rrf_k >= 0) so.rrf_k = a.rrf_k;
  Result<std::vector<SearchHit>> hits = (*idx)->search(a.query, so);
  if (!hits) return fail(hits.status());
  if (a.json) {
    nlohmann::json out = {
        {"query", a.query}, {"mode", a.mode}, {"k", a.k}, {"hits", nlohmann::json::array()}};
    int rank = 0;
    for (const SearchHit& h : *hits) {
      out["hits"].push_back({{"rank", ++rank},
                             {"chunk_id", h.chunk_id},
                             {"score", h.score},
                             {"path", h.path},
                             {"page", h.page},
                             {"byte_start", h.byte_start},
                             {"byte_end", h.byte_end},
                             {"citation", h.citation},
                             {"text", h.text}});
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  int rank = 0;
  for (const SearchHit& h : *hits) {
    std::string text = h.text;
    for (char& c : text)
      if (c == '\n') c = ' ';
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    std::printf("%d. [%.4f] %s\n   %s\n", ++rank, h.score, h.citation.c_str(), text.c_str());
  }
  if (hits->empty()) std::printf("no hits\n");
  return 0;
}

}  // namespace r1::cli
