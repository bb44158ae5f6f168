#!/usr/bin/env bash
# Sets up everything r1 needs on a fresh Debian machine, idempotently:
#   1. Debian packages that are missing (apt-get update only when something must be installed),
#   2. PyPI tools for tests (gguf, numpy) when missing,
#   3. a Release build in build/ (CMake + Ninja),
#   4. the default model and the all-MiniLM-L6-v2 embedding model into the cache outside the
#      work tree (r1 models fetch; the embedding model is converted to GGUF on first fetch by
#      scripts/convert_minilm.py, which needs the gguf and numpy installed in step 2),
#   5. derived test models (an F16 copy of the default model, tiny random-weight GGUFs, the
#      R1-Distill-Qwen vocabulary as a vocab-only GGUF).
# Environment: R1_BUILD_DIR (default build), R1_MODELS_DIR (default ~/.cache/r1/models).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake ninja-build g++ pkg-config git ca-certificates python3 python3-pip
  libpcre2-dev            # Unicode pre-tokenizer regexes
  libutf8proc-dev         # Unicode normalisation
  nlohmann-json3-dev      # JSON
  libcli11-dev            # command-line parsing
  doctest-dev             # unit tests
  libssl-dev              # SHA-256 of model files
  libyaml-cpp-dev         # agent specs (YAML with line and column marks)
  libsqlite3-dev          # agent memory, audit, retrieval metadata (FTS5 compiled in)
  libfaiss-dev            # vector search
  libcpp-httplib-dev      # HTTP server and remote engines
  libgumbo-dev            # HTML ingestion
  libpoppler-cpp-dev      # PDF ingestion
  bubblewrap              # sandbox for the command tool
  sqlite3-doc             # the research assistant's sample corpus (SQLite's HTML docs)
  ccache                  # rebuilds of clean clones reuse earlier compilations
  chromium chromium-driver  # the web chat's end-to-end test (headless, through Selenium)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

if ! python3 -c "import gguf, numpy, openai, selenium" 2>/dev/null; then
  echo "setup: installing PyPI test tools (gguf, numpy, openai, selenium)"
  python3 -m pip install --quiet gguf numpy openai selenium
fi
# The RemoteEngine test's peer: llama-cpp-python's OpenAI-compatible server. On a fresh machine
# pip builds llama.cpp from source once (several minutes on 2 cores); then only its server
# extras are added, never `llama-cpp-python[server]` (that would rebuild llama.cpp).
if ! python3 -c "import llama_cpp" 2>/dev/null; then
  echo "setup: installing llama-cpp-python (test peer; builds llama.cpp from source once)"
  python3 -m pip install --quiet llama-cpp-python
fi
if ! python3 -c "import uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings, yaml" 2>/dev/null; then
  echo "setup: installing llama-cpp-python server deps (uvicorn, fastapi, sse-starlette, ...)"
  python3 -m pip install --quiet uvicorn 'fastapi>=0.100.0' 'pydantic-settings>=2.0.1' 'sse-starlette>=1.6.1' 'starlette-context>=0.3.6,<0.4' 'PyYAML>=5.1'
fi

# ccache: paths relative to the checkout, so every clone shares one cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
BUILD_DIR=${R1_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

"$BUILD_DIR/r1" models fetch
"$BUILD_DIR/r1" models fetch all-minilm-l6-v2
MODELS_DIR=${R1_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/r1/models}
python3 scripts/derive_models.py "$MODELS_DIR"
python3 scripts/make_vocab_gguf.py "$MODELS_DIR"
python3 scripts/make_tiny_r1.py "$MODELS_DIR"
if [[ ! -f tests/data/models/tiny-qwen2.f32.gguf ]]; then
  python3 scripts/make_tiny_models.py tests/data/models >/dev/null
fi
echo "setup: ready ($BUILD_DIR/r1)"
