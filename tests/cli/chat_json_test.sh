#!/usr/bin/env bash
# `r1 generate --chat --json`: one object with reasoning, content, tool_calls, usage (with
# reasoning_tokens) and finish_reason; the thinking budget and tool choice reach the engine;
# bad tool files and choices exit 2 with one line.
set -euo pipefail
R1=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS="$ROOT/examples/tools.json"

out=$("$R1" generate --chat --json --think --thinking-budget 32 --temp 0 -n 200 -t 2 \
        -p "What is 12 plus 30?")
echo "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
for k in ("reasoning", "content", "tool_calls", "usage", "finish_reason"):
    assert k in j, k
assert j["format"] == "chatml", j["format"]
u, t = j["usage"], j["thinking"]
assert u["reasoning_tokens"] > 0 and t["sampled_tokens"] <= 32 + 24, (u, t)
assert j["content"].strip() and "</think>" not in j["content"], j
assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u
'

out=$("$R1" generate --chat --json --tools "$TOOLS" --tool-choice required --temp 0 -n 160 -t 2 \
        -p "What is the weather in Rome?")
echo "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["finish_reason"] == "tool_calls", j
call = j["tool_calls"][0]
assert call["type"] == "function" and call["function"]["name"] in ("get_weather", "search_documents", "create_event"), call
args = json.loads(call["function"]["arguments"])
assert isinstance(args, dict), args
'

set +e
echo '[{"type": "function", "function": {"parameters": {}}}]' > /tmp/r1-bad-tools.$$.json
"$R1" generate --chat -p x --tools /tmp/r1-bad-tools.$$.json 2>/tmp/r1-err.$$; rc=$?
rm -f /tmp/r1-bad-tools.$$.json
[[ $rc -eq 2 && $(wc -l </tmp/r1-err.$$) -eq 1 ]] || { echo "a tool without a name: rc $rc"; cat /tmp/r1-err.$$; exit 1; }
"$R1" generate --chat -p x --tools "$TOOLS" --tool-choice launch_rocket 2>/tmp/r1-err.$$; rc=$?
[[ $rc -eq 2 ]] || { echo "an unknown named tool: rc $rc"; exit 1; }
grep -q launch_rocket /tmp/r1-err.$$ || { echo "the error does not name the tool"; exit 1; }
rm -f /tmp/r1-err.$$
echo "1 passed, 0 failed"
