#!/usr/bin/env python3
"""Write golden tokenizer ids with llama.cpp (PyPI llama-cpp-python) as the oracle.

For every text in TEXTS and every (special, add_bos) combination in COMBOS, llama.cpp tokenizes
the UTF-8 bytes with the model's vocab (vocab_only: no weights are loaded) and the result is
written as a JSON list of {"text", "special", "add_bos", "ids"} objects, which
tests/engine/tokenizer_test.cpp replays against r1's tokenizer.

  special  -> llama_tokenize(parse_special=...): special/control token text is recognised
  add_bos  -> llama_tokenize(add_special=...): BOS is added when the vocab asks for it

Usage (defaults: the SmolLM2 test model and tests/data/golden/tokenizer_smollm2.json):
  python3 scripts/make_golden_tokenizer.py [--model PATH.gguf] [--out PATH.json]

Needs: pip install llama-cpp-python
"""

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def default_model() -> str:
    base = os.environ.get("R1_MODELS_DIR")
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
        base = os.path.join(cache, "r1", "models")
    return os.path.join(base, "SmolLM2-135M-Instruct.Q4_1.gguf")


# The cases where pre-tokenizers and special-token splitting usually go wrong.
TEXTS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    "\r\n",
    "Hello world",
    " Hello world",
    "Hello  world   ",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you're right, they've said we'll see, he'd know, it's Bob's and don't.",
    "I'M SURE YOU'RE RIGHT, THEY'VE SAID WE'LL SEE, HE'D KNOW, IT'S, DON'T",
    "'s 't 're 've 'm 'll 'd 'x",
    "def add(a, b):\n\treturn a + b\n\nclass Foo:\n    def __init__(self):\n        self.x = 1\n",
    "for (int i = 0; i < n; ++i) {\n  sum += v[i];  // accumulate\n}\n",
    '{"name": "r1", "tools": [{"type": "function"}], "n": 42}',
    "1234567",
    "3.14159",
    "1 12 123 1234 12345 123456 1234567 12345678",
    "Version 2.0.1-beta+build.20240101, price $1,234.56 (≈ €1.100)",
    "中文测试：你好，世界！这是一个分词器的测试。",
    "日本語のテキスト、ひらがなとカタカナと漢字。",
    "한국어 텍스트입니다. 안녕하세요!",
    "مرحبا بالعالم، هذا اختبار.",
    "Привет, мир! Это тест токенизатора.",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "Ελληνικά: Γειά σου Κόσμε",
    "emoji: 🦙 😀 👨‍👩‍👧‍👦 🏳️‍🌈 ✅ 🇫🇷",
    "whitespace runs:  two   three    four\t\ttabs \n \n  end   ",
    "unicode spaces:\u00a0nbsp\u2003em\u3000ideographic\u2028line",
    "combining: e\u0301 a\u0308 n\u0303, ligature: \ufb01, fullwidth: ＡＢＣ１２３",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "What is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after<|endoftext|>",
    "not special: <|im_start <im_end|> <|unknown|>",
    "https://example.com/path?q=1&r=2#frag user@example.org",
    "# Title\n\n- item 1\n- item **bold** and `code`\n\n> quote\n",
    "Mixed 中文 and English 123 with emoji 🎉 and tabs\tand\nnewlines.",
]

COMBOS = [(False, False), (True, False), (False, True), (True, True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model())
    parser.add_argument("--out", default=str(REPO / "tests/data/golden/tokenizer_smollm2.json"))
    args = parser.parse_args()

    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed (pip install llama-cpp-python)", file=sys.stderr)
        return 1
    if not os.path.exists(args.model):
        print(f"{args.model}: model file not found", file=sys.stderr)
        return 1

    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    cases = []
    for text in TEXTS:
        for special, add_bos in COMBOS:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)
            cases.append({"text": text, "special": special, "add_bos": add_bos, "ids": list(ids)})

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        # One case per line: reviewable diffs when the oracle changes.
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
    print(f"{out}: {len(cases)} cases from {os.path.basename(args.model)} "
          f"(llama-cpp-python {llama_cpp.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
