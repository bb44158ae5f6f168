#!/usr/bin/env bash
# `r1 generate` on every malformed GGUF of the corpus: exit code 2 and exactly one line on
# stderr naming the file and the byte offset; never a crash (signal) or a hang.
set -uo pipefail
R1=$1
DIR=$(dirname "$0")/../data/gguf-malformed
fail=0
n=0
for f in "$DIR"/*.gguf; do
  n=$((n + 1))
  err=$(timeout 20 "$R1" generate -m "$f" -p hi -n 1 2>&1 >/dev/null)
  rc=$?
  lines=$(printf '%s\n' "$err" | wc -l)
  if [[ $rc -ne 2 || $lines -ne 1 || "$err" != *"$(basename "$f")"* || "$err" != *"byte"* ]]; then
    echo "FAIL $(basename "$f"): exit $rc, stderr: $err"
    fail=$((fail + 1))
  fi
done
echo "$((n - fail)) passed, $fail failed"
[[ $fail -eq 0 && $n -gt 0 ]]
