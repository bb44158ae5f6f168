#!/usr/bin/env python3
"""Real all-MiniLM-L6-v2 vectors for bench/retrieval_bench.cpp (`retrieval_bench file PATH`).

Collects passages of real English text already on this machine (nothing is downloaded):
SQLite's HTML documentation (/usr/share/doc/sqlite3, public domain), the docstrings and comments
of Python's standard library (PSF licence), and the plain-text files under /usr/share/doc
(READMEs, NEWS, changelogs). Passages are sentences of 6..40 words (about 30 word pieces, the
granularity of sentence-embedding search; 200-piece chunks would cost 7x more to embed, out of
reach for 100k vectors on 2 cores), exact duplicates dropped, shuffled with a fixed seed. They
are embedded by r1's native embedder (`r1 embed`), in batches appended to the output so an
interrupted run resumes where it stopped.

Output (little-endian float32, row-major, 384 floats per row, rows unit length):
  ~/.cache/r1/bench/minilm-real-N.f32       N rows: the first N - queries are the base set,
                                            the last `queries` rows the held-out queries
  ~/.cache/r1/bench/minilm-real-N.txt       the passages, one per line, same order

  python3 bench/retrieval_real_vectors.py --r1 build/r1 [--n 101000] [-t 2]
  build/retrieval_bench file ~/.cache/r1/bench/minilm-real-101000.f32 1000
"""
import argparse, glob, html, json, os, random, re, struct, subprocess, sys, time

DIM = 384
WORDS_MIN, WORDS_MAX = 6, 40


def sentences(text):
    for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
        s = " ".join(s.split())
        n = len(s.split())
        if WORDS_MIN <= n <= WORDS_MAX and sum(c.isalpha() for c in s) > len(s) // 2:
            yield s


def sqlite_docs():
    for f in sorted(glob.glob("/usr/share/doc/sqlite3/**/*.html", recursive=True)):
        s = open(f, encoding="utf-8", errors="replace").read()
        s = re.sub(r"(?is)<(script|style|svg)\b.*?</\1>", " ", s)
        s = re.sub(r"(?is)<div class=.?nosearch.*?</div>", " ", s)
        yield from sentences(html.unescape(re.sub(r"<[^>]+>", " ", s)))


def python_stdlib():
    root = os.path.dirname(os.__file__)
    for f in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        if "/site-packages/" in f or "/dist-packages/" in f:
            continue
        try:
            src = open(f, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for m in re.finditer(r'"""(.*?)"""', src, re.S):
            yield from sentences(m.group(1))
        comments = " ".join(m.group(1) for m in re.finditer(r"^\s*#\s?(.*)$", src, re.M))
        yield from sentences(comments)


def debian_docs():
    for f in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
        if not os.path.isfile(f) or f.startswith("/usr/share/doc/sqlite3/"):
            continue
        base = os.path.basename(f).lower()
        if base == "copyright" or not (base.startswith(("readme", "news", "changelog")) or
                                       base.endswith((".txt", ".md", ".rst"))):
            continue
        try:
            yield from sentences(open(f, encoding="utf-8").read())
        except (UnicodeDecodeError, OSError):
            continue


def collect(n, seed):
    seen, out = set(), []
    for source in (sqlite_docs, python_stdlib, debian_docs):
        before = len(out)
        for s in source():
            if s not in seen:
                seen.add(s)
                out.append(s)
        print(f"{source.__name__}: {len(out) - before} passages", file=sys.stderr)
    if len(out) < n:
        sys.exit(f"only {len(out)} distinct passages on this machine; ask for --n {len(out)}")
    random.Random(seed).shuffle(out)
    return out[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--r1", default="build/r1")
    ap.add_argument("--n", type=int, default=101000, help="rows (base set + queries)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--out-dir", default=os.path.expanduser("~/.cache/r1/bench"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    vec_path = os.path.join(a.out_dir, f"minilm-real-{a.n}.f32")
    txt_path = os.path.join(a.out_dir, f"minilm-real-{a.n}.txt")
    if os.path.exists(txt_path):
        texts = open(txt_path, encoding="utf-8").read().split("\n")[: a.n]
    else:
        texts = collect(a.n, seed=5)
        with open(txt_path + ".tmp", "w", encoding="utf-8") as f:
            f.write("\n".join(texts))
        os.replace(txt_path + ".tmp", txt_path)
    row_bytes = DIM * 4
    done = os.path.getsize(vec_path) // row_bytes if os.path.exists(vec_path) else 0
    if done > a.n:
        sys.exit(f"{vec_path} holds {done} rows, more than --n {a.n}")
    with open(vec_path, "ab") as f:
        f.truncate(done * row_bytes)  # drop a torn last batch
        t0, tokens = time.time(), 0
        for start in range(done, a.n, a.batch):
            batch = texts[start : start + a.batch]
            # A leading space (ignored by the tokenizer) keeps CLI11 from splitting a text
            # written like a list, "[a, b]", into several texts.
            out = subprocess.run([a.r1, "embed", "--json", "-t", str(a.threads), "--"] +
                                 [" " + t for t in batch],
                                 check=True, capture_output=True, text=True).stdout
            rows = json.loads(out)["embeddings"]
            if len(rows) != len(batch):
                sys.exit(f"r1 embed returned {len(rows)} vectors for {len(batch)} texts")
            tokens += sum(r["n_tokens"] for r in rows)
            for r in rows:
                f.write(struct.pack(f"<{DIM}f", *r["embedding"]))
            f.flush()
            dt = time.time() - t0
            print(f"\r{start + len(batch)}/{a.n} rows, {tokens / dt:.0f} tokens/s", end="",
                  file=sys.stderr)
    print(f"\n{vec_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
