#!/usr/bin/env python3
"""Writes tiny-r1-qwen.f16.gguf: a random-weight qwen2 model with the real R1-Distill-Qwen
tokenizer (152k tokens, <think>, </think> and the tool-call tokens as single tokens) and the real
R1 chat template, copied from the vocab-only GGUF that make_vocab_gguf.py writes.

No real R1 model fits this machine's tests, but every R1-specific mechanism does: the chat
format is detected from the template, `</think>` and the tool-call delimiters are single special
tokens, the grammar masks a 152k vocabulary, and a random model is an adversarial sampler for
the thinking budget and constrained decoding. Weights are hashed as in make_tiny_models.py, so
the file is the same on every machine. Idempotent.

Usage: make_tiny_r1.py MODELS_DIR
"""
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_models as tiny  # noqa: E402


def field_str(r, key):
    f = r.fields[key]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def field_int(r, key):
    f = r.fields[key]
    return int(f.parts[f.data[0]][0])


def main():
    out_dir = sys.argv[1]
    src = os.path.join(out_dir, "vocab-deepseek-r1-qwen.gguf")
    dst = os.path.join(out_dir, "tiny-r1-qwen.f16.gguf")
    if os.path.exists(dst):
        return
    r = gguf.GGUFReader(src)
    t = r.fields["tokenizer.ggml.tokens"]
    toks = [bytes(t.parts[i]).decode("utf-8") for i in t.data]
    tt = r.fields["tokenizer.ggml.token_type"]
    types = [int(tt.parts[i][0]) for i in tt.data]
    m = r.fields["tokenizer.ggml.merges"]
    merges = [bytes(m.parts[i]).decode("utf-8") for i in m.data]

    tiny.N_EMBD, tiny.N_FF, tiny.N_HEAD, tiny.N_HEAD_KV, tiny.N_LAYER = 64, 128, 4, 2, 2
    tensors = tiny.build_tensors(len(toks))
    tmp = dst + ".part"
    wr = gguf.GGUFWriter(tmp, "qwen2")
    wr.add_name("tiny-r1-qwen")
    wr.add_block_count(tiny.N_LAYER)
    wr.add_context_length(4096)
    wr.add_embedding_length(tiny.N_EMBD)
    wr.add_feed_forward_length(tiny.N_FF)
    wr.add_head_count(tiny.N_HEAD)
    wr.add_head_count_kv(tiny.N_HEAD_KV)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-6)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre(field_str(r, "tokenizer.ggml.pre"))
    wr.add_token_list(toks)
    wr.add_token_types(types)
    wr.add_token_merges(merges)
    wr.add_bos_token_id(field_int(r, "tokenizer.ggml.bos_token_id"))
    wr.add_eos_token_id(field_int(r, "tokenizer.ggml.eos_token_id"))
    wr.add_add_bos_token(True)
    wr.add_chat_template(field_str(r, "tokenizer.chat_template"))
    for name, x in tensors.items():
        wr.add_tensor(name, x if x.ndim == 1 else x.astype(np.float16))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    os.replace(tmp, dst)
    print("wrote", dst)


if __name__ == "__main__":
    main()
