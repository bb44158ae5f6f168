#!/usr/bin/env bash
# The research assistant end to end on the default model: ingest a few SQLite documentation
# pages, run examples/research-assistant.yaml, and check that it searched, got cited passages
# and answered with its sources listed.
set -euo pipefail
R1=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export R1_INDEX_DIR="$TMP/indexes"
DOCS=/usr/share/doc/sqlite3
[[ -f $DOCS/wal.html ]] || { echo "sqlite3-doc is not installed (scripts/setup.sh installs it)"; exit 1; }
"$R1" ingest "$DOCS/wal.html" "$DOCS/isolation.html" "$DOCS/lang_vacuum.html" --index sqlite-docs -t 2 >/dev/null
sed "s|~/.local/share/r1/research.db|$TMP/research.db|" "$ROOT/examples/research-assistant.yaml" > "$TMP/ra.yaml"
"$R1" run "$TMP/ra.yaml" "How can readers keep reading while another connection writes?" \
  --approve deny --events json -t 2 > "$TMP/events.jsonl"
python3 - "$TMP/events.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
calls = [e for e in events if e["event"] == "tool_call"]
assert calls and calls[0]["call"]["name"] == "search_documents", calls
results = [e for e in events if e["event"] == "tool_result"]
assert results and results[0]["status"] == "ok", results
assert "/usr/share/doc/sqlite3/" in results[0]["text"] and ":bytes " in results[0]["text"], results[0]
final = events[-1]
assert final["event"] == "final" and final["stop_reason"] == "final", final
assert "Sources:" in final["text"] and "/usr/share/doc/sqlite3/" in final["text"].split("Sources:")[1], final["text"][-400:]
PY
echo "1 passed, 0 failed"
