#!/usr/bin/env bash
# Starts llama-cpp-python's OpenAI-compatible server on the default model, for trying
# RemoteEngine by hand (the tests start their own on a free port):
#   scripts/remote_peer.sh [PORT]   ->  base_url http://127.0.0.1:PORT/v1 (default 8000)
# Needs `import llama_cpp` and the server deps scripts/setup.sh installs. Ctrl-C stops it.
set -euo pipefail
PORT=${1:-8000}
MODELS_DIR=${R1_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/r1/models}
MODEL=${R1_PEER_MODEL:-$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf}
[[ -f "$MODEL" ]] || { echo "remote_peer: $MODEL is missing: run scripts/setup.sh" >&2; exit 2; }
exec python3 -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" --n_ctx 2048
