#!/usr/bin/env bash
# `r1 run` on the default model: the agent calls its calculator (constrained decoding makes the
# call valid), sees the result and answers; events stream as JSON; the session continues;
# `r1 audit verify` passes, then catches an edited row; a bad YAML names line and column.
set -euo pipefail
R1=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sed "s|~/.local/share/r1/examples.db|$TMP/agents.db|" "$ROOT/examples/assistant.yaml" > "$TMP/assistant.yaml"

"$R1" run "$TMP/assistant.yaml" "What is 1234 * 5678?" --events json -t 2 > "$TMP/events.jsonl"
python3 - "$TMP/events.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in events]
assert kinds[0] == "run_start" and kinds[-1] == "final", kinds
calls = [e for e in events if e["event"] == "tool_call"]
assert calls and calls[0]["call"]["name"] == "calculator", calls
args = json.loads(calls[0]["call"]["arguments"])
assert isinstance(args.get("expression"), str), args
results = [e for e in events if e["event"] == "tool_result"]
assert results and results[0]["status"] == "ok", results
assert events[-1]["stop_reason"] == "final" and events[-1]["text"].strip(), events[-1]
print("tool call:", calls[0]["call"]["arguments"], "->", results[0]["text"][:80].replace("\n", " "))
PY
session=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["run_id"])' "$TMP/events.jsonl")

"$R1" audit verify --db "$TMP/agents.db" | grep -q "audit ok" || { echo "audit verify failed on a clean chain"; exit 1; }
python3 - "$TMP/agents.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET 1").fetchone()
db.execute("UPDATE audit SET payload = '{\"tampered\": true}' WHERE id = ?", row)
db.commit()
PY
set +e
"$R1" audit verify --db "$TMP/agents.db" > "$TMP/verify.txt"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "BROKEN at row 2" "$TMP/verify.txt" || { echo "a tampered row was not caught: rc $rc"; cat "$TMP/verify.txt"; exit 1; }

printf 'name: x\nmodel:\n  enigne: native\n' > "$TMP/bad.yaml"
set +e
"$R1" run "$TMP/bad.yaml" "hi" 2> "$TMP/err.txt"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "bad.yaml:3:3" "$TMP/err.txt" || { echo "bad YAML: rc $rc"; cat "$TMP/err.txt"; exit 1; }
echo "1 passed, 0 failed"
