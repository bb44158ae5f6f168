#!/usr/bin/env bash
# The embedding examples, built by CMake: a minimal C++ program, a C++ program with its own
# tool and a C program using the C ABI, each running a YAML agent on the default model.
set -euo pipefail
EX=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DB=$(mktemp -d)/agents.db
sed "s|~/.local/share/r1/examples.db|$DB|" "$ROOT/examples/orders.yaml" > "${DB%.db}-orders.yaml"
sed "s|~/.local/share/r1/examples.db|$DB|" "$ROOT/examples/assistant.yaml" > "${DB%.db}-assistant.yaml"

out=$("$EX/custom_tool" "${DB%.db}-orders.yaml" "Where is order 1234?")
echo "$out" | grep -q '"event":"tool_result"' || { echo "custom_tool: no tool result"; echo "$out"; exit 1; }
echo "$out" | grep -q 'shipped on 2026-11-20' || { echo "custom_tool: the registered tool's result is missing"; echo "$out"; exit 1; }
echo "$out" | grep -q '^answer (final, ' || { echo "custom_tool: no final answer"; echo "$out"; exit 1; }

out=$("$EX/c_api_example" "${DB%.db}-orders.yaml" "Where is order 1234?")
echo "$out" | grep -q 'the C tool was called [1-9]' || { echo "c_api_example: tool not called"; echo "$out"; exit 1; }
echo "$out" | grep -q '"stop_reason":"final"' || { echo "c_api_example: no final answer"; echo "$out"; exit 1; }

out=$("$EX/embed_minimal" "${DB%.db}-assistant.yaml" "What is 17 * 23?")
echo "$out" | grep -q '"event":"final"' || { echo "embed_minimal: no final event"; echo "$out"; exit 1; }
rm -rf "$(dirname "$DB")"
echo "1 passed, 0 failed"
