#!/usr/bin/env python3
"""Golden files from llama.cpp (PyPI llama-cpp-python), the engine's oracle.

For each model: the prompts' token ids as llama.cpp tokenizes them, the first-step logits (the
1024 largest, by id), and a greedy continuation of up to 64 tokens, decoded one token at a time
(prompt prefilled in one batch, as r1 does), with the gap between the two largest logits at
each step (a continuation may only part ways with llama.cpp's at a near-tie). Output: tests/data/golden/NAME.json.

Run after scripts/make_tiny_models.py and scripts/derive_models.py:
  python3 scripts/make_golden_llama.py [MODELS_DIR]
CI never runs this (it does not rebuild llama.cpp); the tests read the JSON it wrote.
"""
import hashlib
import json
import os
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
TINY = os.path.join(ROOT, "tests", "data", "models")

CHAT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n"
        "<|im_start|>assistant\n")
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "#include <stdio.h>\n\nint main(void) {\n",
    "人工智能是",
    "中国的首都是北京。上海是",
    "1, 2, 3, 5, 8, 13, 21,",
    "The year 1969 was notable because",
    "Q: What is 17 * 23?\nA:",
    "Les mathématiques sont",
    "SELECT name, email FROM users WHERE",
    CHAT,
]
TINY_PROMPTS = [
    "the cat sat on the mat",
    "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n",
    "interesting things happen in the morning",
    "a",
]
N_GREEDY = 64
TOP_LOGITS = 1024


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def last_logits(llm, n_vocab):
    """Logits of the last token of the latest batch (only it has logits)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).astype(np.float32)


def self_consistency(llm, cases, n_vocab, vocab):
    """How far llama.cpp moves from itself when only the evaluation order changes: the prompt
    prefilled one token at a time instead of in one batch. With 8-bit activations a last-bit
    difference flips a rounding and grows through the layers; this is the noise floor any
    second implementation is measured against."""
    max_diff = 0.0
    greedy_differs = 0
    for c in cases:
        llm.reset()
        for t in c["prompt_ids"]:
            llm.eval([t])
        first = last_logits(llm, n_vocab)
        top = c["top_ids"]
        max_diff = max(max_diff, float(np.abs(first[top] - np.array(c["top_logits"])).max()))
        greedy = []
        for _ in range(len(c["greedy_ids"])):
            tok = int(np.argmax(last_logits(llm, n_vocab)))
            greedy.append(tok)
            if llama_cpp.llama_vocab_is_eog(vocab, tok):
                break
            llm.eval([tok])
        greedy_differs += greedy != c["greedy_ids"]
    return {"order": "token-by-token prefill vs one batch",
            "max_logit_diff": max_diff, "greedy_differs": greedy_differs}


def run(model_path, name, prompts, n_greedy):
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_batch=512, n_threads=2,
                          logits_all=False, flash_attn=False, verbose=False)
    n_vocab = llm.n_vocab()
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    cases = []
    for text in prompts:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        llm.reset()
        llm.eval(ids)
        logits = last_logits(llm, n_vocab)
        top = np.argsort(-logits, kind="stable")[:TOP_LOGITS]
        greedy = []
        margins = []  # top-1 minus top-2 logit at each greedy step: how near a tie it was
        for _ in range(n_greedy):
            step = last_logits(llm, n_vocab)
            tok = int(np.argmax(step))
            top2 = np.partition(step, -2)[-2:]
            margins.append(float(top2[1] - top2[0]))
            greedy.append(tok)
            if llama_cpp.llama_vocab_is_eog(vocab, tok):
                break
            llm.eval([tok])
        cases.append({
            "prompt": text,
            "prompt_ids": ids,
            "top_ids": [int(i) for i in top],
            "top_logits": [float(logits[i]) for i in top],
            "greedy_ids": greedy,
            "greedy_margins": margins,
            "greedy_text": llm.detokenize(greedy).decode("utf-8", errors="replace"),
        })
    out = {
        "self_consistency": self_consistency(llm, cases, n_vocab, vocab),
        "model": os.path.basename(model_path),
        "sha256": sha256(model_path),
        "llama_cpp_python": llama_cpp.__version__,
        "n_vocab": n_vocab,
        "settings": "n_ctx=512 n_batch=512 n_threads=2 flash_attn=False, kv f16",
        "cases": cases,
    }
    path = os.path.join(GOLDEN, name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print("wrote", path)


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/r1/models")
    os.makedirs(GOLDEN, exist_ok=True)
    run(os.path.join(models, "SmolLM2-135M-Instruct.Q4_1.gguf"), "smollm2-q4_1", PROMPTS, N_GREEDY)
    run(os.path.join(models, "SmolLM2-135M-Instruct.F16.gguf"), "smollm2-f16", PROMPTS, N_GREEDY)
    for q in ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k"):
        run(os.path.join(TINY, f"tiny-qwen2.{q}.gguf"), f"tiny-qwen2-{q}", TINY_PROMPTS, 16)


if __name__ == "__main__":
    main()
