#!/usr/bin/env python3
"""Per-token cost of grammar-constrained decoding against plain decoding, same model, same run.

Runs `r1 generate --chat --json` on the same prompts with tool_choice required, once with the
tool-call grammar and once without (--unconstrained), interleaved, and compares decode time per
generated token (prefill excluded). Reports how often each mode produced schema-valid calls.
The tiny R1 model (152k-token vocabulary, tiny weights) is the worst case for mask cost relative
to the forward pass; SmolLM2 is the default model.

Usage: constrained_bench.py [--r1 build/r1] [--threads 2] [--rounds 3] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

PROMPTS = [
    "What's the weather like in Paris right now?",
    "Find my notes about the quarterly budget.",
    "Schedule a dentist appointment on the 14th of March.",
    "Is it raining in Tokyo? Use fahrenheit.",
    "Search my documents for the contract with Acme Corp.",
    "Add my mother's birthday on June 2nd, all day.",
]
HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "examples", "tools.json")


def models_dir():
    if os.environ.get("R1_MODELS_DIR"):
        return os.environ["R1_MODELS_DIR"]
    base = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    return os.path.join(base, "r1", "models")


def run(r1, model, prompt, constrained, threads, extra):
    cmd = [r1, "generate", "--chat", "--json", "-m", model, "-p", prompt, "--tools", TOOLS,
           "--tool-choice", "required", "--temp", "0", "-n", "96", "-t", str(threads)] + extra
    if not constrained:
        cmd.append("--unconstrained")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--r1", default=os.path.join(HERE, "..", "build", "r1"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for name, extra in (("SmolLM2-135M-Instruct.Q4_1.gguf", []),
                        ("tiny-r1-qwen.f16.gguf", ["--thinking-budget", "0"])):
        model = os.path.join(models_dir(), name)
        per_tok = {True: [], False: []}
        valid = {True: 0, False: 0}
        turns = 0
        for _ in range(a.rounds):
            for p in PROMPTS:
                for constrained in (True, False):
                    j = run(a.r1, model, p, constrained, a.threads, extra)
                    t = j["timings"]
                    if t["generated_tokens"] > 1:
                        per_tok[constrained].append(t["decode_ms"] / t["generated_tokens"])
                    ok = bool(j["tool_calls"]) and not j["tool_call_errors"]
                    valid[constrained] += ok
                turns += 1
        c = statistics.median(per_tok[True])
        u = statistics.median(per_tok[False])
        rows.append({"model": name, "constrained_ms_per_token": c, "plain_ms_per_token": u,
                     "overhead": c / u - 1.0, "valid_constrained": valid[True],
                     "valid_plain": valid[False], "turns": turns})
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print("| model | plain ms/token | constrained ms/token | overhead | valid calls (constrained / plain) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['plain_ms_per_token']:.2f} | {r['constrained_ms_per_token']:.2f} "
              f"| {100 * r['overhead']:+.1f}% | {r['valid_constrained']}/{r['turns']} / "
              f"{r['valid_plain']}/{r['turns']} |")


if __name__ == "__main__":
    sys.exit(main())
