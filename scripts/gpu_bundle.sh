#!/usr/bin/env bash
# Prepares what scripts/gpu_check.sh needs on a GPU machine that has the CUDA toolkit but none of
# this project's libraries (the lent H200 image): builds build-cuda with R1_CUDA=ON here, then
# packs into .gpu_carry/ (ignored by git, sent with the device tool's `carry`):
#   bundle.tar.xz  r1_tests, r1_cuda_bench, r1, and every shared library they load (glibc and its
#                  loader included, so the GPU image's libc version does not matter) except the
#                  driver (libcuda), cuBLAS and NCCL, which come from the GPU machine;
#   models/        the vocabulary GGUF the random 7B-shaped model copies its tokenizer from;
#   py/gguf        PyPI gguf (pure Python), for scripts/make_random_qwen7b.py there.
# Also carry tests/data/models (the tiny models setup writes). Run from anywhere; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
grep -qx '/.gpu_carry/' .git/info/exclude 2>/dev/null || echo '/.gpu_carry/' >> .git/info/exclude

CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true cmake -S . -B build-cuda -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DR1_CUDA=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache > /dev/null
CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true cmake --build build-cuda -j"${JOBS:-2}" \
  --target r1_tests r1 r1_cuda_bench

rm -rf .gpu_carry
stage=.gpu_carry/stage
mkdir -p "$stage/bin" "$stage/lib" .gpu_carry/models .gpu_carry/py
cp build-cuda/r1_tests build-cuda/r1_cuda_bench build-cuda/r1 "$stage/bin/"
for lib in $(ldd "$stage"/bin/* | awk '/=>/ && $3 ~ /^\// {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libcuda.so*|libcublas.so*|libcublasLt.so*|libnccl.so*) continue ;;
  esac
  cp -L "$lib" "$stage/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib/"
tar -C "$stage" -cJf .gpu_carry/bundle.tar.xz bin lib
rm -rf "$stage"
cp "${R1_MODELS_DIR:-$HOME/.cache/r1/models}/vocab-deepseek-r1-qwen.gguf" .gpu_carry/models/
cp -r "$(python3 -c 'import gguf, os; print(os.path.dirname(gguf.__file__))')" .gpu_carry/py/
find .gpu_carry/py -name __pycache__ -prune -exec rm -rf {} +
du -sh .gpu_carry tests/data/models
