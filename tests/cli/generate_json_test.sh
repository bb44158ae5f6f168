#!/usr/bin/env bash
# `r1 generate --json` on the default model: one JSON object whose ids, text and timings agree
# with each other, greedy and reproducible; bad usage exits 2.
set -euo pipefail
R1=$1
out1=$("$R1" generate -p "The capital of France is" -n 8 --temp 0 --json -t 2)
out2=$("$R1" generate -p "The capital of France is" -n 8 --temp 0 --json -t 2)
ids() { python3 -c 'import json, sys; print(json.load(sys.stdin)["ids"])'; }
[[ "$(echo "$out1" | ids)" == "$(echo "$out2" | ids)" ]] || { echo "greedy runs differ"; exit 1; }
echo "$out1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["prompt_ids"] and len(j["ids"]) == 8, j
assert j["stop_reason"] == "length", j
assert "Paris" in j["text"], j["text"]
t = j["timings"]
assert t["generated_tokens"] == 8 and t["decode_tok_s"] > 0, t
'
set +e
"$R1" generate -p "x" --temp -1 2>/dev/null; [[ $? -eq 2 ]] || { echo "bad --temp did not exit 2"; exit 1; }
"$R1" generate -m /nonexistent/model.gguf -p "x" 2>/dev/null; [[ $? -eq 2 ]] || { echo "missing model did not exit 2"; exit 1; }
"$R1" generate -p "x" -c 4000000 2>/dev/null; [[ $? -eq 2 ]] || { echo "a context larger than memory did not exit 2"; exit 1; }
msg=$("$R1" generate -p "x" --device tpu 2>&1); [[ $? -eq 2 && "$msg" == *"expected cpu, cuda or cuda:N"* ]] || { echo "an unknown --device did not exit 2: $msg"; exit 1; }
msg=$("$R1" generate -p "x" --device cuda:x 2>&1); [[ $? -eq 2 && "$msg" == *"expected cuda:N"* ]] || { echo "a bad cuda:N did not exit 2: $msg"; exit 1; }
echo "1 passed, 0 failed"
