#!/usr/bin/env python3
"""Derives models from the default GGUF, deterministically, with PyPI `gguf` only.

  f16: every 2-D weight dequantized to f32 and stored as f16 (norms stay f32). The golden
       files record this file's SHA-256, so tests know they compare the same weights.

Usage: derive_models.py MODELS_DIR   (writes MODELS_DIR/SmolLM2-135M-Instruct.F16.gguf)
Idempotent: an existing output is kept.
"""
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_tools import copy_metadata, tensor_as_f32  # noqa: E402

SRC = "SmolLM2-135M-Instruct.Q4_1.gguf"
DST = "SmolLM2-135M-Instruct.F16.gguf"


def derive_f16(src: str, dst: str):
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    tmp = dst + ".part"
    writer = gguf.GGUFWriter(tmp, arch)
    copy_metadata(reader, writer, skip=("general.file_type",))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for t in reader.tensors:
        x = tensor_as_f32(t)
        if x.ndim >= 2:
            x = x.astype(np.float16)
        writer.add_tensor(t.name, x)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)


def main():
    models = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/r1/models")
    src = os.path.join(models, SRC)
    dst = os.path.join(models, DST)
    if os.path.exists(dst):
        print(f"derive_models: {dst} exists")
        return
    if not os.path.exists(src):
        sys.exit(f"derive_models: {src} is missing: run `r1 models fetch` first")
    print(f"derive_models: writing {dst}")
    derive_f16(src, dst)


if __name__ == "__main__":
    main()
