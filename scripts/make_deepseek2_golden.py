#!/usr/bin/env python3
"""Golden files for the `deepseek2` architecture from llama.cpp (PyPI llama-cpp-python).

Runs the tiny deepseek2 models of scripts/make_tiny_deepseek2.py through llama.cpp with the same
procedure as scripts/make_golden_llama.py (its run(): prompt prefilled in one batch, first-step
logits, a greedy continuation with the top-2 gap at each step, and llama.cpp's own spread when
the prompt is fed token by token). The vocabulary has fewer than 1024 tokens, so the stored
"top" logits are the whole vector. Output: tests/data/golden/deepseek2_NAME.json.

Usage: make_deepseek2_golden.py [MODELS_DIR]   (default tests/data/models)
CI never runs this; the tests read the JSON it wrote.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden_llama as golden  # noqa: E402
import make_tiny_deepseek2 as tiny_ds2  # noqa: E402

PROMPTS = [
    "the cat sat on the mat",
    "<｜User｜>what is in the morning?<｜Assistant｜><think>\n",
    "interesting things happen in the morning, and then the cat sat on the mat and the dog "
    "ran to the sea while the birds sang; at noon the town was quiet, and in the evening "
    "everyone went home to eat and talk about the day",
    "a",
]
N_GREEDY = 32


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else golden.TINY
    os.makedirs(golden.GOLDEN, exist_ok=True)
    for name in tiny_ds2.VARIANTS:
        golden.run(os.path.join(models, name + ".gguf"), "deepseek2_" + name, PROMPTS, N_GREEDY)


if __name__ == "__main__":
    main()
