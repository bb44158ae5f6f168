#!/usr/bin/env python3
"""Writes tiny random-weight `deepseek2` GGUFs (DeepSeek V2 / V2-Lite / V3 / R1 layout).

No real DeepSeek-V3/R1 fits a test machine, but every mechanism of the architecture does: each
file below is a few hundred KB and exercises one combination of multi-head latent attention
(MLA) and mixture-of-experts (MoE) options exactly as llama.cpp's converter writes them, so
llama.cpp (scripts/make_deepseek2_golden.py) can be the oracle for the native engine.

  tiny-ds2-lite.f32.gguf    V2-Lite style: no q LoRA (attn_q), legacy unsplit attn_kv_b,
                            softmax router, 2 shared experts, no weight normalisation, no YaRN
  tiny-ds3.f32.gguf         V3/R1 style: q LoRA, split attn_k_b/attn_v_b (key_length_mla),
                            sigmoid router with the exp_probs_b selection bias, grouped top-k
                            (4 groups, 2 used), normalised and scaled weights, YaRN with
                            yarn_log_multiplier
  tiny-ds3-legacy.f16.gguf  V3 as older converters wrote it: q LoRA with attn_kv_b, sigmoid
                            router with bias and no groups, YaRN without log multiplier, f16
  tiny-ds3.q8_0.gguf        tiny-ds3 with Q8_0 matrices (3-D expert tensors quantized too)

The vocabulary is byte-level BPE (the 256 byte symbols, a few merges) plus DeepSeek-V3/R1's
special tokens, with pre-tokenizer `deepseek-v3`, so the R1 prompt markup tokenizes as in the
real model. Weights come from the integer hash of make_tiny_models.py: byte-identical files on
every machine.

Usage: make_tiny_deepseek2.py [OUT_DIR]   (default tests/data/models)
"""
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tiny_models as tiny  # noqa: E402

N_EMBD = 64
N_HEAD = 4
N_LAYER = 3
N_FF = 96          # dense feed-forward (leading blocks)
N_FF_EXP = 32      # per expert
QK_NOPE = 32       # per head, the part of q/k without rotary
QK_ROPE = 16       # per head, the rotary part (shared by all heads on the k side)
V_HEAD = 32        # per head value width
KV_LORA = 32       # compressed kv width (the latent the cache keeps)
Q_LORA = 32
N_EXPERT = 8

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
            "<think>", "</think>"]
CHAT_TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
                 "{% else %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}"
                 "{% endfor %}{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}")

VARIANTS = {
    "tiny-ds2-lite.f32": dict(q_lora=0, split_kv_b=False, gating=1, probs_bias=False, groups=0,
                              shared=2, norm=False, scale=1.0, yarn=None, qtype="f32"),
    "tiny-ds3.f32": dict(q_lora=Q_LORA, split_kv_b=True, gating=2, probs_bias=True, groups=(4, 2),
                         shared=1, norm=True, scale=2.5, yarn=(4.0, 64, 0.0707), qtype="f32"),
    "tiny-ds3-legacy.f16": dict(q_lora=Q_LORA, split_kv_b=False, gating=2, probs_bias=True,
                                groups=0, shared=1, norm=True, scale=1.5, yarn=(8.0, 32, None),
                                qtype="f16"),
    "tiny-ds3.q8_0": dict(q_lora=Q_LORA, split_kv_b=True, gating=2, probs_bias=True, groups=(4, 2),
                          shared=1, norm=True, scale=2.5, yarn=(4.0, 64, 0.0707), qtype="q8_0"),
}


def vocab():
    toks = tiny.byte_symbols()
    for m in tiny.MERGES:
        a, b = m.split(" ")
        toks.append(a + b)
    types = [1] * len(toks) + [3] * len(SPECIALS)
    return toks + SPECIALS, types


def build_tensors(v, n_vocab):
    t = {}
    salt = [100]

    def w(name, shape, scale):
        salt[0] += 1
        t[name] = tiny.hashed(shape, salt[0], scale)

    def norm(name, n):
        salt[0] += 1
        t[name] = 1.0 + tiny.hashed((n,), salt[0], 0.1)

    w("token_embd.weight", (n_vocab, N_EMBD), 1.0)
    w("output.weight", (n_vocab, N_EMBD), 0.15)
    norm("output_norm.weight", N_EMBD)
    qk = QK_NOPE + QK_ROPE
    for l in range(N_LAYER):
        p = f"blk.{l}."
        norm(p + "attn_norm.weight", N_EMBD)
        norm(p + "ffn_norm.weight", N_EMBD)
        if v["q_lora"]:
            w(p + "attn_q_a.weight", (v["q_lora"], N_EMBD), 0.2)
            norm(p + "attn_q_a_norm.weight", v["q_lora"])
            w(p + "attn_q_b.weight", (N_HEAD * qk, v["q_lora"]), 0.3)
        else:
            w(p + "attn_q.weight", (N_HEAD * qk, N_EMBD), 0.2)
        w(p + "attn_kv_a_mqa.weight", (KV_LORA + QK_ROPE, N_EMBD), 0.2)
        norm(p + "attn_kv_a_norm.weight", KV_LORA)
        salt[0] += 1
        kv_b = tiny.hashed((N_HEAD, QK_NOPE + V_HEAD, KV_LORA), salt[0], 0.3)
        if v["split_kv_b"]:
            # As convert_hf_to_gguf.py splits it: k_b per head transposed to (kv_lora, nope),
            # ggml shape {nope, kv_lora, n_head}; v_b per head (v_head, kv_lora).
            t[p + "attn_k_b.weight"] = np.ascontiguousarray(
                kv_b[:, :QK_NOPE, :].transpose(0, 2, 1))
            t[p + "attn_v_b.weight"] = np.ascontiguousarray(kv_b[:, QK_NOPE:, :])
        else:
            t[p + "attn_kv_b.weight"] = kv_b.reshape(N_HEAD * (QK_NOPE + V_HEAD), KV_LORA)
        w(p + "attn_output.weight", (N_EMBD, N_HEAD * V_HEAD), 0.15)
        if l == 0:  # leading dense block
            w(p + "ffn_gate.weight", (N_FF, N_EMBD), 0.2)
            w(p + "ffn_up.weight", (N_FF, N_EMBD), 0.2)
            w(p + "ffn_down.weight", (N_EMBD, N_FF), 0.15)
            continue
        w(p + "ffn_gate_inp.weight", (N_EXPERT, N_EMBD), 0.3)
        if v["probs_bias"]:
            w(p + "exp_probs_b.bias", (N_EXPERT,), 0.3)
        w(p + "ffn_gate_exps.weight", (N_EXPERT, N_FF_EXP, N_EMBD), 0.25)
        w(p + "ffn_up_exps.weight", (N_EXPERT, N_FF_EXP, N_EMBD), 0.25)
        w(p + "ffn_down_exps.weight", (N_EXPERT, N_EMBD, N_FF_EXP), 0.25)
        n_sh = N_FF_EXP * v["shared"]
        w(p + "ffn_gate_shexp.weight", (n_sh, N_EMBD), 0.2)
        w(p + "ffn_up_shexp.weight", (n_sh, N_EMBD), 0.2)
        w(p + "ffn_down_shexp.weight", (N_EMBD, n_sh), 0.15)
    return t


# Kept in f32 whatever the file type, as llama.cpp's quantizer keeps them: norms, biases and
# the router.
def keep_f32(name, x):
    return x.ndim == 1 or name.endswith("ffn_gate_inp.weight")


def write(path, name, v):
    toks, types = vocab()
    tensors = build_tensors(v, len(toks))
    tmp = path + ".part"
    wr = gguf.GGUFWriter(tmp, "deepseek2")
    wr.add_name(name)
    wr.add_block_count(N_LAYER)
    n_ctx_train = 4096
    wr.add_context_length(n_ctx_train)
    wr.add_embedding_length(N_EMBD)
    wr.add_feed_forward_length(N_FF)
    wr.add_head_count(N_HEAD)
    if v["split_kv_b"]:
        wr.add_head_count_kv(1)
        wr.add_key_length(KV_LORA + QK_ROPE)
        wr.add_value_length(KV_LORA)
        wr.add_key_length_mla(QK_NOPE + QK_ROPE)
        wr.add_value_length_mla(V_HEAD)
    else:
        wr.add_head_count_kv(N_HEAD)
        wr.add_key_length(QK_NOPE + QK_ROPE)
        wr.add_value_length(V_HEAD)
    wr.add_rope_freq_base(10000.0)
    wr.add_layer_norm_rms_eps(1e-6)
    wr.add_q_lora_rank(v["q_lora"])  # 0: attn_q instead of attn_q_a/attn_q_b
    wr.add_kv_lora_rank(KV_LORA)
    wr.add_rope_dimension_count(QK_ROPE)
    wr.add_leading_dense_block_count(1)
    wr.add_expert_feed_forward_length(N_FF_EXP)
    wr.add_expert_count(N_EXPERT)
    wr.add_expert_used_count(2)
    wr.add_expert_shared_count(v["shared"])
    wr.add_expert_weights_scale(v["scale"])
    wr.add_expert_weights_norm(v["norm"])
    wr.add_expert_gating_func(gguf.ExpertGatingFuncType(v["gating"]))
    if v["groups"]:
        wr.add_expert_group_count(v["groups"][0])
        wr.add_expert_group_used_count(v["groups"][1])
    if v["yarn"]:
        factor, orig_ctx, log_mul = v["yarn"]
        wr.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        wr.add_rope_scaling_factor(factor)
        wr.add_rope_scaling_orig_ctx_len(orig_ctx)
        if log_mul is not None:
            wr.add_rope_scaling_yarn_log_mul(log_mul)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("deepseek-v3")
    wr.add_token_list(toks)
    wr.add_token_types(types)
    wr.add_token_merges(tiny.MERGES)
    wr.add_bos_token_id(toks.index(SPECIALS[0]))
    wr.add_eos_token_id(toks.index(SPECIALS[1]))
    wr.add_add_bos_token(True)
    wr.add_chat_template(CHAT_TEMPLATE)
    for tname, x in tensors.items():
        if v["qtype"] == "f32" or keep_f32(tname, x):
            wr.add_tensor(tname, x)
        elif v["qtype"] == "f16":
            wr.add_tensor(tname, x.astype(np.float16))
        else:
            qt = gguf.GGMLQuantizationType.Q8_0
            q = gguf.quants.quantize(x, qt)
            wr.add_tensor(tname, q, raw_shape=q.shape, raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    os.replace(tmp, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/models"
    os.makedirs(out, exist_ok=True)
    for name, v in VARIANTS.items():
        path = os.path.join(out, name + ".gguf")
        write(path, name, v)
        print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
