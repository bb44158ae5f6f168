// `r1 embed [-m MODEL] TEXT... [--json] [--threads N]`: sentence embeddings with the native
// all-MiniLM-L6-v2 (or another `bert` GGUF). Argument parsing and printing only; the work is
// engine/embedder's.
#pragma once

namespace CLI {
class App;
}

namespace r1::cli {

// Registers the `embed` subcommand on `app` and returns it (check ->parsed() after parsing).
CLI::App* add_embed_command(CLI::App& app);

// Runs the parsed `embed` command: prints one line per text (the unit vector, space-separated),
// or with --json one object {"model", "dim", "threads", "embed_ms" (wall time of the embedding
// itself, model loading excluded), "embeddings": [{"text", "n_tokens", "embedding"}]}.
// Returns the exit code (0 ok, 1 runtime failure, 2 bad usage or input: a missing model).
int run_embed_command();

}  // namespace r1::cli
