#!/usr/bin/env python3
"""Writes a random-weight GGUF shaped like DeepSeek-R1-Distill-Qwen-7B, for the CUDA benchmark.

Decode speed depends on the shapes and the bytes read, not on the values, so random quant bytes
with sane block scales stand in for the real 4-8 GB model, which no registry we can reach ships.
Shapes (qwen2): 28 layers, n_embd 3584, 28 heads / 4 kv heads of 128, n_ff 18944, vocab 152064,
q/k/v biases, untied output. --type q4_k writes Q4_K matrices with a Q6_K output matrix (the
layout of a Q4_K_M file, about 4.7 GB); --type q8_0 writes Q8_0 everywhere (about 8 GB). The
tokenizer is copied from a vocab GGUF (--vocab, e.g. vocab-deepseek-r1-qwen.gguf) when given,
else a byte-level vocabulary is written. Needs PyPI `gguf` and numpy.

Usage: make_random_qwen7b.py OUT.gguf [--type q4_k|q8_0] [--vocab VOCAB.gguf] [--layers N]
"""
import argparse
import os
import sys

import gguf
import numpy as np

N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF, N_VOCAB = 3584, 28, 4, 128, 18944, 152064
BLOCK = {"q4_k": (256, 144), "q6_k": (256, 210), "q8_0": (32, 34)}
QTYPE = {"q4_k": gguf.GGMLQuantizationType.Q4_K, "q6_k": gguf.GGMLQuantizationType.Q6_K,
         "q8_0": gguf.GGMLQuantizationType.Q8_0}


def random_matrix(rng, kind, rows, cols):
    """Random blocks of `kind` for a (rows, cols) matrix, as (rows, row_bytes) uint8."""
    elems, size = BLOCK[kind]
    nb = rows * (cols // elems)
    raw = np.frombuffer(rng.bytes(nb * size), dtype=np.uint8).reshape(nb, size).copy()
    d = np.full(nb, 2e-4, dtype=np.float16).view(np.uint8).reshape(nb, 2)
    if kind == "q4_k":
        raw[:, 0:2] = d      # d
        raw[:, 2:4] = d      # dmin
    elif kind == "q6_k":
        raw[:, 208:210] = np.full(nb, 2e-3, dtype=np.float16).view(np.uint8).reshape(nb, 2)
    else:
        raw[:, 0:2] = np.full(nb, 2e-3, dtype=np.float16).view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, (cols // elems) * size)


def copy_tokenizer(wr, path):
    r = gguf.GGUFReader(path)

    def text(key):
        f = r.fields[key]
        return bytes(f.parts[f.data[0]]).decode("utf-8")

    def integer(key):
        f = r.fields[key]
        return int(f.parts[f.data[0]][0])

    t = r.fields["tokenizer.ggml.tokens"]
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre(text("tokenizer.ggml.pre"))
    wr.add_token_list([bytes(t.parts[i]).decode("utf-8") for i in t.data])
    tt = r.fields["tokenizer.ggml.token_type"]
    wr.add_token_types([int(tt.parts[i][0]) for i in tt.data])
    m = r.fields["tokenizer.ggml.merges"]
    wr.add_token_merges([bytes(m.parts[i]).decode("utf-8") for i in m.data])
    wr.add_bos_token_id(integer("tokenizer.ggml.bos_token_id"))
    wr.add_eos_token_id(integer("tokenizer.ggml.eos_token_id"))


def byte_tokenizer(wr):
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    toks = [chr(c) for c in cs] + ["<|endoftext|>"]
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("qwen2")
    wr.add_token_list(toks)
    wr.add_token_types([1] * 256 + [3])
    wr.add_token_merges([])
    wr.add_bos_token_id(256)
    wr.add_eos_token_id(256)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--type", choices=["q4_k", "q8_0"], default="q4_k")
    ap.add_argument("--vocab")
    ap.add_argument("--layers", type=int, default=28)
    a = ap.parse_args()
    rng = np.random.default_rng(1234)
    mat = a.type
    out_kind = "q6_k" if a.type == "q4_k" else "q8_0"
    q_dim, kv_dim = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM

    tmp = a.out + ".part"
    wr = gguf.GGUFWriter(tmp, "qwen2")
    wr.add_name("random-r1-distill-qwen-7b-" + a.type)
    wr.add_block_count(a.layers)
    wr.add_context_length(131072)
    wr.add_embedding_length(N_EMBD)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-6)
    if a.vocab:
        copy_tokenizer(wr, a.vocab)
    else:
        byte_tokenizer(wr)

    def add_q(name, kind, rows, cols):
        wr.add_tensor(name, random_matrix(rng, kind, rows, cols), raw_dtype=QTYPE[kind])

    def add_f32(name, n, scale):
        wr.add_tensor(name, (1.0 + scale * rng.standard_normal(n)).astype(np.float32))

    add_q("token_embd.weight", mat, N_VOCAB, N_EMBD)
    add_f32("output_norm.weight", N_EMBD, 0.1)
    add_q("output.weight", out_kind, N_VOCAB, N_EMBD)
    for l in range(a.layers):
        p = f"blk.{l}."
        add_f32(p + "attn_norm.weight", N_EMBD, 0.1)
        add_f32(p + "ffn_norm.weight", N_EMBD, 0.1)
        add_q(p + "attn_q.weight", mat, q_dim, N_EMBD)
        add_q(p + "attn_k.weight", mat, kv_dim, N_EMBD)
        add_q(p + "attn_v.weight", mat, kv_dim, N_EMBD)
        wr.add_tensor(p + "attn_q.bias", (0.1 * rng.standard_normal(q_dim)).astype(np.float32))
        wr.add_tensor(p + "attn_k.bias", (0.1 * rng.standard_normal(kv_dim)).astype(np.float32))
        wr.add_tensor(p + "attn_v.bias", (0.1 * rng.standard_normal(kv_dim)).astype(np.float32))
        add_q(p + "attn_output.weight", mat, N_EMBD, q_dim)
        add_q(p + "ffn_gate.weight", mat, N_FF, N_EMBD)
        add_q(p + "ffn_up.weight", mat, N_FF, N_EMBD)
        add_q(p + "ffn_down.weight", mat, N_EMBD, N_FF)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    os.replace(tmp, a.out)
    print("wrote", a.out, os.path.getsize(a.out) // (1 << 20), "MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
