// `r1 serve`: the OpenAI-compatible HTTP server (server/server.h). Argument parsing only.
#pragma once

namespace CLI {
class App;
}

namespace r1::cli {

// Registers the `serve` subcommand on `app` and returns it (check ->parsed() after parsing).
CLI::App* add_serve_command(CLI::App& app);
// Runs the parsed `serve` command until SIGINT or SIGTERM. Returns the exit code (0 after a
// clean stop, 1 when the address cannot be bound, 2 for bad options, keys or agent files).
int run_serve_command();

}  // namespace r1::cli
