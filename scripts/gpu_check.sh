#!/usr/bin/env bash
# The one script a GPU session runs (through the device tool, on the H200), after
# scripts/gpu_bundle.sh here and with carry [".gpu_carry", "tests/data/models"]:
#   1. builds from source with -DR1_CUDA=ON when this machine has the project's libraries,
#      else runs the binaries from .gpu_carry/bundle.tar.xz under their own loader;
#   2. the CUDA tests (r1_tests -ts=cuda): every kernel against the CPU reference, the CUDA engine
#      against the CPU engine on the tiny models of every weight type, NCCL with one rank;
#   3. the benchmark: a random-weight GGUF shaped like R1-Distill-Qwen-7B (Q4_K, then Q8_0 if
#      time allows), written here by scripts/make_random_qwen7b.py, and the tiny model;
#   4. compute-sanitizer memcheck over the kernel tests, if time is left.
# Results go to $OUT (the device tool brings them back) or ./gpu-out. Each step is timed and
# bounded; a failing step is recorded and the next one still runs. Budget: about 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
OUT=${OUT:-$root/gpu-out}
mkdir -p "$OUT"
summary=$OUT/summary.txt
: > "$summary"
log() { echo "[$(date +%T) +${SECONDS}s] $*" | tee -a "$summary"; }
step() {  # step NAME TIMEOUT_S COMMAND... : runs it, output to $OUT/NAME.txt, logs the status
  local name=$1 limit=$2
  shift 2
  log "begin $name"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  log "end $name: rc=$rc"
  tail -n 25 "$OUT/$name.txt"
  return $rc
}

nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
log "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1)"
# The tests find their data through the source path compiled in here (/work/main).
if [ ! -e /work/main/tests/data ]; then mkdir -p /work && ln -sfn "$root" /work/main; fi

# ---- 1. binaries ---------------------------------------------------------------------------------
bin_mode=none
if cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DR1_CUDA=ON \
     > "$OUT/configure.txt" 2>&1; then
  if step build 420 cmake --build build-gpu -j16 --target r1_tests r1 r1_cuda_bench; then
    bin_mode=source
    run() { "$root/build-gpu/$1" "${@:2}"; }
  fi
else
  log "configure failed (this image lacks the project's libraries): using the bundle"
fi
if [ "$bin_mode" = none ]; then
  if [ ! -f .gpu_carry/bundle.tar.xz ]; then
    log "no .gpu_carry/bundle.tar.xz: run scripts/gpu_bundle.sh and carry .gpu_carry"
    exit 1
  fi
  mkdir -p /tmp/r1b && tar -C /tmp/r1b -xJf .gpu_carry/bundle.tar.xz
  libdirs=/tmp/r1b/lib
  for name in libcuda.so.1 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
    p=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}')
    if [ -z "$p" ]; then
      p=$(find /usr/local/nvidia /usr/local/cuda /usr/local/cuda-13* /usr/lib/x86_64-linux-gnu \
            /usr/lib64 /opt -name "$name" 2>/dev/null | head -n 1)
    fi
    log "$name: ${p:-NOT FOUND}"
    [ -n "$p" ] && libdirs="$libdirs:$(dirname "$p")"
  done
  run() { /tmp/r1b/lib/ld-linux-x86-64.so.2 --library-path "$libdirs" "/tmp/r1b/bin/$1" "${@:2}"; }
  bin_mode=bundle
fi
log "binaries: $bin_mode"

# ---- 2. tests --------------------------------------------------------------------------------------
step tests 240 run r1_tests -ts=cuda --duration=true

# ---- 3. benchmark ----------------------------------------------------------------------------------
export PYTHONPATH=$root/.gpu_carry/py${PYTHONPATH:+:$PYTHONPATH}
vocab=$root/.gpu_carry/models/vocab-deepseek-r1-qwen.gguf
[ -f "$vocab" ] && vocab_arg=(--vocab "$vocab") || vocab_arg=()
step bench_tiny 60 run r1_cuda_bench "$root/tests/data/models/tiny-qwen2.q8_0.gguf" -p 128 -n 128
for type in q4_k q8_0; do
  if [ "$SECONDS" -gt 330 ]; then log "skipping the $type model: time"; break; fi
  model=/tmp/random-qwen7b.$type.gguf
  step "make_$type" 150 python3 scripts/make_random_qwen7b.py "$model" --type "$type" \
    "${vocab_arg[@]}" || continue
  step "bench_$type" 150 run r1_cuda_bench "$model" -p 512 -n 128 -r 3
  run r1_cuda_bench "$model" -p 512 -n 128 -r 1 --json > "$OUT/bench_$type.json" 2>&1
  rm -f "$model"
done

# ---- 4. memory checker on the kernels ------------------------------------------------------------
if [ "$bin_mode" = bundle ] && [ "$SECONDS" -lt 420 ] && command -v compute-sanitizer > /dev/null; then
  step memcheck 90 compute-sanitizer --tool memcheck --error-exitcode 9 \
    /tmp/r1b/lib/ld-linux-x86-64.so.2 --library-path "${libdirs:-}" /tmp/r1b/bin/r1_tests \
    -ts=cuda -tc='cuda: prefill and split-K*,cuda: dequantized*,cuda: q/k/v*'
fi
log "done in ${SECONDS}s"
