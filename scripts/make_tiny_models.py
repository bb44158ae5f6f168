#!/usr/bin/env python3
"""Writes tiny random-weight GGUF models for architecture and tensor-type tests.

Every architecture or tensor type that no real small model covers gets a tiny model here;
llama.cpp (scripts/make_golden_llama.py) then provides the reference logits. Weights come from
an integer hash, not a random generator, so the files are byte-identical on every machine and
numpy version; the golden files record each file's SHA-256 and the tests check it.

  tiny-qwen2.{f32,f16,bf16,q8_0,q4_0,q4_1}.gguf   pure PyPI `gguf` (written here, any machine)
  tiny-qwen2.{q4_k,q6_k}.gguf                     quantized from f32 by llama.cpp (llama-cpp-python)
                                                  when --with-llama-quantize is given

Usage: make_tiny_models.py OUT_DIR [--with-llama-quantize]
"""
import os
import sys

import gguf
import numpy as np

N_EMBD = 256      # K-quant rows need multiples of 256
N_FF = 256
N_HEAD = 4
N_HEAD_KV = 2
N_LAYER = 2
N_CTX = 256

# A byte-level BPE vocabulary: the 256 byte symbols, a few merges, and ChatML specials.
def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


MERGES = ["Ġ t", "h e", "i n", "Ġ a", "e r", "o n", "Ġt he", "r e", "a t", "e n", "o r",
          "Ġ s", "e s", "Ġ w", "i s", "a n", "Ġ o", "i t", "Ġ c", "a l", "Ġ b", "Ġ f", "Ġ m",
          "in g", "o u", "Ġ p", "e d", "Ġ d", "l e", "Ġ h"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def vocab():
    toks = byte_symbols()
    for m in MERGES:
        a, b = m.split(" ")
        toks.append(a + b)
    types = [1] * len(toks) + [3] * len(SPECIALS)
    return toks + SPECIALS, types


def hashed(shape, salt, scale):
    """Deterministic pseudo-random values in [-scale, scale) from a 64-bit integer hash."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        x = i * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(31)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(29)
    u = (x >> np.uint64(40)).astype(np.float64) / float(1 << 24)  # [0, 1)
    return ((u * 2.0 - 1.0) * scale).astype(np.float32).reshape(shape)


def build_tensors(n_vocab):
    hd = N_EMBD // N_HEAD
    kv = N_HEAD_KV * hd
    t = {}
    salt = 1
    def w(name, shape, scale):
        nonlocal salt
        t[name] = hashed(shape, salt, scale)
        salt += 1
    w("token_embd.weight", (n_vocab, N_EMBD), 1.0)
    w("output.weight", (n_vocab, N_EMBD), 0.08)
    t["output_norm.weight"] = 1.0 + hashed((N_EMBD,), 999, 0.1)
    for l in range(N_LAYER):
        p = f"blk.{l}."
        t[p + "attn_norm.weight"] = 1.0 + hashed((N_EMBD,), 1000 + l, 0.1)
        t[p + "ffn_norm.weight"] = 1.0 + hashed((N_EMBD,), 2000 + l, 0.1)
        w(p + "attn_q.weight", (N_EMBD, N_EMBD), 0.1)
        w(p + "attn_k.weight", (kv, N_EMBD), 0.1)
        w(p + "attn_v.weight", (kv, N_EMBD), 0.1)
        w(p + "attn_q.bias", (N_EMBD,), 0.2)
        w(p + "attn_k.bias", (kv,), 0.2)
        w(p + "attn_v.bias", (kv,), 0.2)
        w(p + "attn_output.weight", (N_EMBD, N_EMBD), 0.1)
        w(p + "ffn_gate.weight", (N_FF, N_EMBD), 0.1)
        w(p + "ffn_up.weight", (N_FF, N_EMBD), 0.1)
        w(p + "ffn_down.weight", (N_EMBD, N_FF), 0.1)
    return t


QTYPES = {
    "f32": None,
    "f16": gguf.GGMLQuantizationType.F16,
    "bf16": gguf.GGMLQuantizationType.BF16,
    "q8_0": gguf.GGMLQuantizationType.Q8_0,
    "q4_0": gguf.GGMLQuantizationType.Q4_0,
    "q4_1": gguf.GGMLQuantizationType.Q4_1,
}


def write_qwen2(path, qname):
    toks, types = vocab()
    tensors = build_tensors(len(toks))
    tmp = path + ".part"
    wr = gguf.GGUFWriter(tmp, "qwen2")
    wr.add_name(f"tiny-qwen2-{qname}")
    wr.add_block_count(N_LAYER)
    wr.add_context_length(N_CTX)
    wr.add_embedding_length(N_EMBD)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_rope_freq_base(1000000.0)
    wr.add_layer_norm_rms_eps(1e-6)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("qwen2")
    wr.add_token_list(toks)
    wr.add_token_types(types)
    wr.add_token_merges(MERGES)
    wr.add_eos_token_id(len(toks) - 1)       # <|im_end|>
    wr.add_bos_token_id(len(toks) - 3)       # <|endoftext|>
    wr.add_add_bos_token(False)
    qt = QTYPES[qname]
    for name, x in tensors.items():
        if qt is None or x.ndim == 1:
            wr.add_tensor(name, x)
        elif qt == gguf.GGMLQuantizationType.F16:
            wr.add_tensor(name, x.astype(np.float16))
        else:
            q = gguf.quants.quantize(x, qt)
            wr.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    os.replace(tmp, path)


def llama_quantize(src, dst, ftype):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        sys.exit(f"llama_model_quantize {dst} failed: {rc}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/models"
    os.makedirs(out, exist_ok=True)
    for q in QTYPES:
        path = os.path.join(out, f"tiny-qwen2.{q}.gguf")
        write_qwen2(path, q)
        print("wrote", path)
    if "--with-llama-quantize" in sys.argv:
        import llama_cpp
        src = os.path.join(out, "tiny-qwen2.f32.gguf")
        for name, ftype in (("q4_k", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M),
                            ("q6_k", llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K)):
            dst = os.path.join(out, f"tiny-qwen2.{name}.gguf")
            llama_quantize(src, dst, ftype)
            print("wrote", dst)


if __name__ == "__main__":
    main()
