#!/usr/bin/env python3
"""Side-by-side engine benchmark: r1 vs llama.cpp (PyPI llama-cpp-python) on the same GGUFs.

Both engines run on the same file, machine and thread count, interleaved (r1, llama.cpp, r1,
...) for several rounds; the best of each is kept. Tests, as llama-bench defines them:
  pp512  prefill 512 prompt tokens into an empty cache
  tg128  decode 128 tokens one at a time from an empty cache, feeding back the argmax
Decode is also reported as GB/s of weights streamed per second and as a share of the read
bandwidth `r1 bench` measures on this machine.

Variants of the default model are made once with llama.cpp's quantize API (Q8_0 from the
shipped Q4_1; speed, not quality, is measured) and the F16 copy from scripts/derive_models.py.
The default model's 576-wide rows do not fit K-quant super-blocks (256), so Q4_K and Q6_K run
on a random-weight llama of similar scale with 256-multiple rows (bench/make_kquant_models.py).

Usage: python3 bench/engine_bench.py [--threads 2] [--rounds 3] [--types q4_1,q8_0,...]
        [--r1 build/r1] [--markdown]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import llama_cpp

MODELS = os.environ.get("R1_MODELS_DIR",
                        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                     "r1", "models"))
BASE = "SmolLM2-135M-Instruct"
FTYPES = {
    "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
}


def model_path(t):
    if t in ("q4_k", "q6_k"):
        return os.path.join(MODELS, f"bench-llama-190m.{t}.gguf")
    if t == "q4_1":
        return os.path.join(MODELS, f"{BASE}.Q4_1.gguf")
    if t == "f16":
        return os.path.join(MODELS, f"{BASE}.F16.gguf")
    return os.path.join(MODELS, f"{BASE}.{t.upper()}.gguf")


def ensure_variant(t):
    path = model_path(t)
    if os.path.exists(path):
        return path
    if t == "f16":
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "scripts",
                                                     "derive_models.py"), MODELS], check=True)
        return path
    if t in ("q4_k", "q6_k"):
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                     "make_kquant_models.py"), MODELS], check=True)
        return path
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[t]
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(model_path("q4_1").encode(), (path + ".part").encode(),
                                        params)
    if rc != 0:
        sys.exit(f"quantize to {t} failed ({rc})")
    os.replace(path + ".part", path)
    return path


def bench_r1(r1, path, threads, n_prompt, n_gen):
    out = subprocess.run([r1, "bench", "-m", path, "-t", str(threads), "-p", str(n_prompt),
                          "-n", str(n_gen), "-r", "1", "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


class LlamaCpp:
    def __init__(self, path, threads):
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_batch=512, n_ubatch=512,
                                   n_threads=threads, n_threads_batch=threads, flash_attn=False,
                                   verbose=False)
        self.n_vocab = self.llm.n_vocab()
        # Warm-up (page in the weights).
        self.llm.reset()
        self.llm.eval([1])

    def logits(self):
        return np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.n_vocab,))

    def run(self, n_prompt, n_gen):
        prompt = [(i * 7919 + 13) % self.n_vocab for i in range(n_prompt)]
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.eval(prompt)
        pp = n_prompt / (time.perf_counter() - t0)
        self.llm.reset()
        tok = 1
        t0 = time.perf_counter()
        for _ in range(n_gen):
            self.llm.eval([tok])
            tok = int(np.argmax(self.logits()))
        tg = n_gen / (time.perf_counter() - t0)
        return pp, tg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--types", default="q4_1,q8_0,q4_k,q6_k,f16")
    ap.add_argument("--n-prompt", type=int, default=512)
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--r1", default=os.path.join(os.path.dirname(__file__), "..", "build", "r1"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rows = []
    bandwidths = []  # every r1 run measures it; the median serves all rows
    for t in args.types.split(","):
        path = ensure_variant(t)
        peer = LlamaCpp(path, args.threads)
        best = {"r1_pp": 0, "r1_tg": 0, "ll_pp": 0, "ll_tg": 0}
        info = None
        for _ in range(args.rounds):
            info = bench_r1(args.r1, path, args.threads, args.n_prompt, args.n_gen)
            bandwidths.append(info["memory_read_gb_s"])
            best["r1_pp"] = max(best["r1_pp"], info["prefill_tok_s"])
            best["r1_tg"] = max(best["r1_tg"], info["decode_tok_s"])
            pp, tg = peer.run(args.n_prompt, args.n_gen)
            best["ll_pp"] = max(best["ll_pp"], pp)
            best["ll_tg"] = max(best["ll_tg"], tg)
        del peer
        rows.append({
            "type": t, **best,
            "pp_ratio": best["r1_pp"] / best["ll_pp"], "tg_ratio": best["r1_tg"] / best["ll_tg"],
            "weight_bytes_per_token": info["weight_bytes_per_token"],
            "weights_mb": info["weight_bytes_per_token"] / 1e6,
        })
        print(f"# {t}: done", file=sys.stderr)

    bw = float(np.median(bandwidths))
    for r in rows:
        r["mem_gb_s"] = bw
        r["r1_tg_share"] = r["r1_tg"] * r["weight_bytes_per_token"] / 1e9 / bw
        r["ll_tg_share"] = r["ll_tg"] * r["weight_bytes_per_token"] / 1e9 / bw

    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"threads {args.threads}, best of {args.rounds} interleaved rounds, "
          f"read bandwidth {bw:.1f} GB/s (median of {len(bandwidths)} measurements), "
          f"llama-cpp-python {llama_cpp.__version__}")
    print()
    print("| type | weights/token | r1 pp512 | llama.cpp pp512 | ratio | r1 tg128 | llama.cpp tg128 | ratio | r1 share of bw | llama.cpp share |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['type']} | {r['weights_mb']:.0f} MB | {r['r1_pp']:.1f} | {r['ll_pp']:.1f} | "
              f"{r['pp_ratio']:.2f}x | {r['r1_tg']:.1f} | {r['ll_tg']:.1f} | {r['tg_ratio']:.2f}x | "
              f"{100 * r['r1_tg_share']:.0f}% | {100 * r['ll_tg_share']:.0f}% |")


if __name__ == "__main__":
    main()
