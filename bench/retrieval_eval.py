#!/usr/bin/env python3
"""Labelled retrieval evaluation: recall@5 and nDCG@10 per search mode over an `r1` index.

Questions (retrieval_eval.json) are phrased differently from the passages; a hit is relevant
when its source file is one of the question's relevant files (binary gains; a file counts once:
later hits from an already-credited file gain nothing). recall@5 = share of a question's relevant
files among the top 5 hits' files; nDCG@10 over the first 10 hits.

The README's figures are over the 28 pages in corpus/sqlite-docs-core.txt (every question's
relevant pages, as scripts/demo.sh indexes them) and over the whole folder (766 pages):

  grep -v '^#' corpus/sqlite-docs-core.txt | sed 's|^|/usr/share/doc/sqlite3/|' |
    xargs build/r1 ingest --index sqlite-docs
  build/r1 ingest /usr/share/doc/sqlite3 --index sqlite-docs-all
  python3 bench/retrieval_eval.py --r1 build/r1 --index sqlite-docs [--json]
  python3 bench/retrieval_eval.py --r1 build/r1 --index sqlite-docs \
    --questions bench/retrieval_eval_heldout.json

Hybrid's defaults (rrf_k, candidates: retrieval/document_index.h) were chosen on
retrieval_eval.json only; retrieval_eval_heldout.json was written afterwards and checks them.
"""
import argparse, json, math, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))


def search(r1, index, q, mode, k, candidates=0, keyword_weight=-1, rrf_k=-1):
    extra = ["--keyword-weight", str(keyword_weight)] if keyword_weight >= 0 else []
    extra += ["--rrf-k", str(rrf_k)] if rrf_k >= 0 else []
    out = subprocess.run([r1, "search", q, "--index", index, "--mode", mode, "-k", str(k), "--json",
                          "--candidates", str(candidates)] + extra,
                         check=True, capture_output=True, text=True).stdout
    return [os.path.basename(h["path"]) for h in json.loads(out)["hits"]]


def metrics(files, relevant):
    rel = set(relevant)
    recall5 = len(rel & set(files[:5])) / len(rel)
    seen, dcg = set(), 0.0
    for i, f in enumerate(files[:10]):
        if f in rel and f not in seen:
            seen.add(f)
            dcg += 1.0 / math.log2(i + 2)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), 10)))
    return recall5, dcg / idcg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--r1", default="build/r1")
    ap.add_argument("--index", default="sqlite-docs")
    ap.add_argument("--questions", default=os.path.join(here, "retrieval_eval.json"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--candidates", type=int, default=0, help="per-list depth before fusion")
    ap.add_argument("--modes", default="keyword,vector,hybrid")
    ap.add_argument("--keyword-weight", type=float, default=-1, help="hybrid fusion weight")
    ap.add_argument("--rrf-k", type=float, default=-1, help="hybrid fusion k (default: r1's)")
    a = ap.parse_args()
    qs = json.load(open(a.questions))["questions"]
    results = {}
    for mode in a.modes.split(","):
        r5, nd = [], []
        for item in qs:
            files = search(a.r1, a.index, item["q"], mode, 10, a.candidates, a.keyword_weight,
                           a.rrf_k)
            x, y = metrics(files, item["relevant"])
            r5.append(x)
            nd.append(y)
        results[mode] = {"recall@5": sum(r5) / len(r5), "nDCG@10": sum(nd) / len(nd), "n": len(qs)}
    if a.json:
        print(json.dumps(results))
    else:
        print(f"{'mode':8} {'recall@5':>9} {'nDCG@10':>8}  ({len(qs)} questions, index {a.index})")
        for mode, m in results.items():
            print(f"{mode:8} {m['recall@5']:9.3f} {m['nDCG@10']:8.3f}")


if __name__ == "__main__":
    main()
