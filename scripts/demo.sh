#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs the main job: the research-assistant agent on
# the default model over SQLite's documentation (Debian sqlite3-doc). The first run indexes the
# pages listed in corpus/sqlite-docs-core.txt (a minute or two on 2 cores); later runs find the
# index up to date. Usage: scripts/demo.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
R1="${R1_BUILD_DIR:-build}/r1"
DOCS=/usr/share/doc/sqlite3
mapfile -t PAGES < <(grep -v '^#' corpus/sqlite-docs-core.txt | sed "s|^|$DOCS/|")
"$R1" ingest "${PAGES[@]}" --index sqlite-docs >&2
QUESTION=${1:-"How can readers keep reading while another connection writes to the database?"}
exec "$R1" run examples/research-assistant.yaml "$QUESTION" --approve deny
