#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the main job on the default model.
# Until the research-assistant agent lands, the main job is a chat turn with the model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
QUESTION=${1:-"Explain in two sentences why the sky is blue."}
exec "${R1_BUILD_DIR:-build}/r1" chat --temp 0 -n 200 -p "$QUESTION"
