#!/usr/bin/env bash
# `r1 ingest` / `r1 search` end to end on a small folder: a summary line, exit 1 when a file is
# malformed (the rest indexed), re-ingest touches nothing, every mode finds the right file with
# a citation, --json parses, a bad index name exits 2. Skips (exit 0) without the MiniLM model.
set -uo pipefail
R1=$1
MODEL=${R1_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/r1/models}/all-MiniLM-L6-v2.F32.gguf
if [[ ! -f "$MODEL" ]]; then echo "skipped: $MODEL is missing"; exit 0; fi
DATA=$(cd "$(dirname "$0")/../data/retrieval" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export R1_INDEX_DIR=$TMP/indexes
mkdir -p "$TMP/docs"
echo "SQLite uses a write-ahead log so that readers do not block writers." > "$TMP/docs/wal.txt"
echo "# Cooking" > "$TMP/docs/pasta.md"
echo "Boil the pasta in salted water for nine minutes." >> "$TMP/docs/pasta.md"
cp "$DATA/two_pages.pdf" "$TMP/docs/cells.pdf"
cp "$DATA/truncated.pdf" "$TMP/docs/broken.pdf"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=$((fail + 1)); fi; }

out=$("$R1" ingest "$TMP/docs" --index t -t 2 2>"$TMP/err"); rc=$?
check "ingest exits 1 when a file is malformed (got $rc)" '[[ $rc -eq 1 ]]'
check "the malformed file is named" 'grep -q "broken.pdf: malformed PDF" "$TMP/err"'
check "summary line: $out" '[[ "$out" == *"3 new"*"1 failed"* ]]'
rm "$TMP/docs/broken.pdf"
out=$("$R1" ingest "$TMP/docs" --index t -t 2 2>/dev/null); rc=$?
check "re-ingest: $out" '[[ $rc -eq 0 && "$out" == *"0 new, 0 changed, 3 unchanged"*"0 chunks added"* ]]'
for mode in keyword vector hybrid; do
  out=$("$R1" search "can readers continue while a writer commits" --index t --mode $mode -k 1 -t 2)
  check "$mode search: $out" '[[ "$out" == *"wal.txt:bytes 0-"* ]]'
done
out=$("$R1" search "energy organelle of cells" --index t --mode vector -k 1 --json -t 2)
check "json + page citation: $out" \
  'python3 -c "import json,sys; h=json.loads(sys.argv[1])[\"hits\"][0]; assert h[\"page\"]==2 and h[\"citation\"].endswith(\"cells.pdf:page 2\")" "$out"'
"$R1" search x --index ../bad >/dev/null 2>&1; rc=$?
check "bad index name exits 2 (got $rc)" '[[ $rc -eq 2 ]]'
"$R1" search x --index missing >/dev/null 2>&1; rc=$?
check "missing index exits 2 (got $rc)" '[[ $rc -eq 2 ]]'
echo "$fail failed"
[[ $fail -eq 0 ]]
