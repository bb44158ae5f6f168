#!/usr/bin/env bash
# CUDA decode/prefill benchmark on a random-weight model shaped like R1-Distill-Qwen-7B.
#   bench/cuda_bench.sh [q4_k|q8_0] [BUILD_DIR]
# Builds r1_cuda_bench (needs a CUDA build: -DR1_CUDA=ON), writes the model once to
# ${R1_BENCH_DIR:-/tmp} with scripts/make_random_qwen7b.py (PyPI gguf), and prints decode tok/s,
# GB/s and the share of the GPU's bandwidth, and prefill tok/s.
set -euo pipefail
cd "$(dirname "$0")/.."
type=${1:-q4_k}
build=${2:-build-cuda}
cmake --build "$build" --target r1_cuda_bench
model=${R1_BENCH_DIR:-/tmp}/random-qwen7b.$type.gguf
vocab=${R1_MODELS_DIR:-$HOME/.cache/r1/models}/vocab-deepseek-r1-qwen.gguf
if [ ! -f "$model" ]; then
  if [ -f "$vocab" ]; then
    python3 scripts/make_random_qwen7b.py "$model" --type "$type" --vocab "$vocab"
  else
    python3 scripts/make_random_qwen7b.py "$model" --type "$type"
  fi
fi
"$build/r1_cuda_bench" "$model" -p 512 -n 128 -r 3
