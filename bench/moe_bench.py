#!/usr/bin/env python3
"""Decode speed of a mixture-of-experts model scales with the active, not the total, parameters.

Writes random-weight `deepseek2` GGUFs (scripts/make_tiny_deepseek2.py's layout, Q8_0) that
differ only in the number of routed experts (8, 32 and 64, always 2 used per token, one shared
expert), then runs `r1 bench` on each. A dense model of the same total size would decode 8x
slower at 64 experts than at 8; the MoE engine reads only the chosen experts' weights, so
decode tok/s should stay nearly flat while the file grows 6x. Prefill of a long prompt touches
almost every expert, so it is reported but not expected to stay flat.

Usage: bench/moe_bench.py [R1_BINARY] [-t THREADS]   (default build/r1, 2 threads)
Files go to $TMPDIR/r1-moe-bench (regenerated when missing).
"""
import json
import os
import subprocess
import sys
import tempfile

import gguf
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import make_tiny_deepseek2 as ds2  # noqa: E402

# Mid-sized: 4 layers (one dense), 590K parameters per expert; ~10M parameters active per token,
# 19M total at 8 experts and 120M at 64.
SHAPE = dict(N_EMBD=512, N_HEAD=8, N_LAYER=4, N_FF=1536, N_FF_EXP=384, QK_NOPE=64, QK_ROPE=32,
             V_HEAD=64, KV_LORA=256, Q_LORA=384)
EXPERTS = (8, 32, 64)


def write_model(path, n_expert):
    for k, v in SHAPE.items():
        setattr(ds2, k, v)
    ds2.N_EXPERT = n_expert
    variant = dict(q_lora=SHAPE["Q_LORA"], split_kv_b=True, gating=2, probs_bias=True, groups=0,
                   shared=1, norm=True, scale=2.5, yarn=None, qtype="q8_0")
    ds2.write(path, f"moe-bench-{n_expert}x", variant)


def main():
    args = sys.argv[1:]
    threads = "2"
    if "-t" in args:
        i = args.index("-t")
        threads = args[i + 1]
        del args[i:i + 2]
    r1 = args[0] if args else "build/r1"
    out_dir = os.path.join(tempfile.gettempdir(), "r1-moe-bench")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for n in EXPERTS:
        path = os.path.join(out_dir, f"moe-{n}x.q8_0.gguf")
        if not os.path.exists(path):
            write_model(path, n)
        res = subprocess.run([r1, "bench", "-m", path, "-p", "64", "-n", "64", "-r", "5", "-t",
                              threads, "--json"], capture_output=True, text=True, check=True)
        b = json.loads(res.stdout)
        rows.append((n, os.path.getsize(path), b))
        print(json.dumps({"experts": n, "file_mb": round(os.path.getsize(path) / 2**20, 1),
                          "bench": b}))
    base = rows[0][2]
    print("\nexperts  file MB  decode tok/s  vs 8 experts  prefill tok/s")
    for n, size, b in rows:
        dec = b.get("decode_tok_s") or b.get("decode", {}).get("tok_s")
        pre = b.get("prefill_tok_s") or b.get("prefill", {}).get("tok_s")
        dec0 = base.get("decode_tok_s") or base.get("decode", {}).get("tok_s")
        print(f"{n:7d}  {size / 2**20:7.1f}  {dec:12.1f}  {dec / dec0:11.2f}x  {pre:13.1f}")


if __name__ == "__main__":
    main()
