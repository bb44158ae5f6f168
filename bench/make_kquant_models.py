#!/usr/bin/env python3
"""Random-weight llama models for benchmarking K-quants (Q4_K, Q6_K).

The default model's rows (576) are not multiples of the 256-element K-quant super-block, so
llama.cpp's quantizer keeps most of its tensors in other types. This writes a llama model of
similar scale whose every row length is a multiple of 256 (n_embd 768, n_ff 2048, 24 layers,
SmolLM2's vocabulary), in F32 with PyPI `gguf`, and quantizes it with llama.cpp's quantize API
(llama-cpp-python). Speed, not quality, is measured with it.

Usage: make_kquant_models.py [MODELS_DIR]  -> bench-llama-190m.{q4_k,q6_k}.gguf (idempotent)
"""
import os
import sys

import gguf
import numpy as np
import llama_cpp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_tiny_models import hashed  # noqa: E402

N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV = 768, 2048, 24, 12, 4


def write_f32(src_vocab, path):
    reader = gguf.GGUFReader(src_vocab)
    w = gguf.GGUFWriter(path + ".part", "llama")
    w.add_name("bench-llama-190m")
    w.add_block_count(N_LAYER)
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    for key, field in reader.fields.items():
        if key.startswith("tokenizer."):
            vt = field.types[0]
            sub = field.types[1] if vt == gguf.GGUFValueType.ARRAY else None
            w.add_key_value(key, field.contents(), vt, sub_type=sub)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    kv = N_HEAD_KV * (N_EMBD // N_HEAD)
    salt = 1
    def t(name, shape, scale=0.05):
        nonlocal salt
        w.add_tensor(name, hashed(shape, salt, scale))
        salt += 1
    t("token_embd.weight", (n_vocab, N_EMBD), 0.5)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for l in range(N_LAYER):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        t(p + "attn_q.weight", (N_EMBD, N_EMBD))
        t(p + "attn_k.weight", (kv, N_EMBD))
        t(p + "attn_v.weight", (kv, N_EMBD))
        t(p + "attn_output.weight", (N_EMBD, N_EMBD))
        t(p + "ffn_gate.weight", (N_FF, N_EMBD))
        t(p + "ffn_up.weight", (N_FF, N_EMBD))
        t(p + "ffn_down.weight", (N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".part", path)


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/r1/models")
    f32 = os.path.join(models, "bench-llama-190m.f32.gguf")
    targets = {"q4_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K}
    todo = {k: v for k, v in targets.items()
            if not os.path.exists(os.path.join(models, f"bench-llama-190m.{k}.gguf"))}
    if not todo:
        return
    if not os.path.exists(f32):
        write_f32(os.path.join(models, "SmolLM2-135M-Instruct.Q4_1.gguf"), f32)
    for name, ftype in todo.items():
        dst = os.path.join(models, f"bench-llama-190m.{name}.gguf")
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.nthread = 2
        if llama_cpp.llama_model_quantize(f32.encode(), (dst + ".part").encode(), params) != 0:
            sys.exit(f"quantize {dst} failed")
        os.replace(dst + ".part", dst)
    os.remove(f32)


if __name__ == "__main__":
    main()
