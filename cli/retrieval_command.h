// `r1 ingest PATH... --index NAME [--hnsw|--flat] [-m MODEL] [--threads N]` and
// `r1 search QUERY --index NAME [-k K] [--mode hybrid|vector|keyword] [--path PREFIX] [--json]`.
// Argument parsing and printing only; the work is retrieval/document_index's.
#pragma once

namespace CLI {
class App;
}

namespace r1::cli {

// Register the subcommands on `app` and return them (check ->parsed() after parsing).
CLI::App* add_ingest_command(CLI::App& app);
CLI::App* add_search_command(CLI::App& app);

// ingest: a progress bar on stderr when it is a terminal, one line per file that could not be
// read, then a summary line on stdout. Exit 0 when every file was ingested, 1 when some failed
// (the others are indexed), 2 for bad usage (unknown index name, missing path).
int run_ingest_command();
// search: one block per hit (rank, score, citation, text) or with --json one object
// {"query", "mode", "k", "hits": [{"rank", "chunk_id", "score", "path", "page", "byte_start",
// "byte_end", "citation", "text"}]}. Keyword mode needs no model. Exit 0 (also with no hits).
int run_search_command();

}  // namespace r1::cli
