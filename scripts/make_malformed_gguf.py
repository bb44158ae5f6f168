#!/usr/bin/env python3
"""Writes the GGUF test corpus: malformed images that must be rejected cleanly, and a few
small valid ones. Both folders seed the gguf_fuzz target.

    python3 scripts/make_malformed_gguf.py            # writes into tests/data/
    python3 scripts/make_malformed_gguf.py OUT_DIR    # writes OUT_DIR/gguf-{malformed,valid}

Plain `struct`, no dependencies; the output is byte-for-byte reproducible. The layout is the
one documented at the top of engine/gguf.cpp. Each image stays well under 4 KB.
"""
import os
import struct
import sys

# Value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
# Tensor types used here: f32, f16, q4_0 (block 32), q4_1 (block 32).
T_F32, T_F16, T_Q4_0, T_Q4_1 = 0, 1, 2, 3
TYPE_BYTES = {T_F32: (1, 4), T_F16: (1, 2), T_Q4_0: (32, 18), T_Q4_1: (32, 20)}


def u8(v): return struct.pack("<B", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b)) + b


def kv(key, vtype, payload):
    return gstr(key) + u32(vtype) + payload


def kv_u32(key, v): return kv(key, U32, u32(v))
def kv_str(key, s): return kv(key, STR, gstr(s))
def arr(elem, items): return u32(elem) + u64(len(items)) + b"".join(items)


def tensor_bytes(ne, ttype):
    n = 1
    for d in ne:
        n *= d
    block, size = TYPE_BYTES.get(ttype, (1, 4))
    return n // block * size


def image(kvs, tensors, version=3, magic=b"GGUF", n_kv=None, n_tensors=None, alignment=32,
          data_bytes=None):
    """tensors: list of dicts {name, ne, type, offset?, n_dims?}. Offsets default to the
    contiguous aligned layout; data is a byte pattern, `data_bytes` long (default: exact)."""
    out = magic + u32(version)
    out += u64(len(tensors) if n_tensors is None else n_tensors)
    out += u64(len(kvs) if n_kv is None else n_kv)
    out += b"".join(kvs)
    nxt, data_end = 0, 0
    for t in tensors:
        ne = t["ne"]
        out += gstr(t["name"]) + u32(t.get("n_dims", len(ne))) + b"".join(u64(d) for d in ne)
        out += u32(t["type"])
        off = t.get("offset", nxt)
        out += u64(off)
        end = off + tensor_bytes(ne, t["type"])
        nxt = (end + alignment - 1) // alignment * alignment
        data_end = max(data_end, end)
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        n = data_end if data_bytes is None else data_bytes
        out += bytes((i * 7 + 1) & 0xFF for i in range(n))
    return out


BASE_KVS = [
    kv_str("general.architecture", "llama"),
    kv_u32("llama.block_count", 2),
    kv("tokenizer.ggml.tokens", ARR, arr(STR, [gstr("a"), gstr("b"), gstr("<s>")])),
    kv("tokenizer.ggml.scores", ARR, arr(F32, [struct.pack("<f", x) for x in (0, -1, -2)])),
]
BASE_TENSORS = [
    {"name": "token_embd.weight", "ne": [8, 3], "type": T_F32},   # 96 bytes at 0
    {"name": "output_norm.weight", "ne": [8], "type": T_F32},     # 32 bytes at 96
]


def base(**kw):
    return image(BASE_KVS, BASE_TENSORS, **kw)


def with_kv(extra, **kw):
    return image(BASE_KVS + [extra], BASE_TENSORS, **kw)


def with_tensor(t, **kw):
    kw.setdefault("data_bytes", 128)  # never the size a bogus shape claims
    return image(BASE_KVS, BASE_TENSORS + [t], **kw)


def depth_bomb(levels):
    payload = b""
    for _ in range(levels):
        payload += u32(ARR) + u64(1)
    return kv("deep", ARR, payload + u32(U8) + u64(0))


MALFORMED = {
    "empty": b"",
    "truncated_header": base()[:10],
    "truncated_in_kv": base()[:60],
    "truncated_in_tensor_info": base()[:len(base()) - 128 - 40],
    "truncated_in_data": base()[:-5],
    "bad_magic": base(magic=b"GGML"),
    "version_1": base(version=1),
    "version_4": base(version=4),
    "version_big_endian": base(version=0x03000000),
    "huge_n_kv": base(n_kv=1 << 60),
    "huge_n_tensors": base(n_tensors=1 << 40),
    "n_kv_all_ones": base(n_kv=(1 << 64) - 1),
    "key_length_huge": b"GGUF" + u32(3) + u64(0) + u64(1) + u64(1 << 62) + b"\0" * 16,
    "string_length_past_eof": image([kv("general.name", STR, u64(10) + b"a")], []),
    "string_length_all_ones": image([kv("general.name", STR, u64((1 << 64) - 1))], []),
    "unknown_value_type": with_kv(gstr("weird") + u32(13) + u32(0)),
    "unknown_array_elem_type": with_kv(kv("arr", ARR, u32(77) + u64(0))),
    "array_count_overflow": with_kv(kv("arr", ARR, u32(U64) + u64(1 << 61))),
    "string_array_count_huge": with_kv(kv("arr", ARR, u32(STR) + u64(1 << 40))),
    "nested_array_depth_bomb": with_kv(depth_bomb(200)),
    "bool_value_2": with_kv(kv("flag", BOOL, u8(2))),
    "bool_array_value_7": with_kv(kv("flags", ARR, arr(BOOL, [u8(0), u8(1), u8(7)]))),
    "duplicate_key": with_kv(kv_str("general.architecture", "again")),
    "alignment_zero": with_kv(kv_u32("general.alignment", 0)),
    "alignment_three": with_kv(kv_u32("general.alignment", 3)),
    "alignment_u64": with_kv(kv("general.alignment", U64, u64(32))),
    "n_dims_0": with_tensor({"name": "t", "ne": [8], "type": T_F32, "n_dims": 0}),
    "n_dims_5": with_tensor({"name": "t", "ne": [8, 1, 1, 1, 1], "type": T_F32}),
    "ne_negative": with_tensor({"name": "t", "ne": [8, -1], "type": T_F32}),
    "ne_huge": with_tensor({"name": "t", "ne": [8, 1 << 63], "type": T_F32}),
    "ne_product_overflow": with_tensor({"name": "t", "ne": [1 << 32, 1 << 32], "type": T_F32}),
    "tensor_type_4": with_tensor({"name": "t", "ne": [8], "type": 4}),
    "tensor_type_99": with_tensor({"name": "t", "ne": [8], "type": 99}),
    "ne0_not_block_multiple": with_tensor({"name": "t", "ne": [16], "type": T_Q4_0}),
    "offset_misaligned": with_tensor({"name": "t", "ne": [8], "type": T_F32, "offset": 112}),
    "tensors_overlap": with_tensor({"name": "t", "ne": [8], "type": T_F32, "offset": 96}),
    "tensor_gap": with_tensor({"name": "t", "ne": [8], "type": T_F32, "offset": 2048}),
    "tensor_past_eof": with_tensor({"name": "t", "ne": [1 << 40, 1 << 20], "type": T_F32}),
    "duplicate_tensor_name": with_tensor({"name": "token_embd.weight", "ne": [8],
                                          "type": T_F32}),
    "data_section_past_eof": base()[:len(base()) - 128 - 4],
}


def all_types_kvs():
    return [
        kv("u8", U8, u8(200)),
        kv("i8", I8, struct.pack("<b", -100)),
        kv("u16", U16, struct.pack("<H", 60000)),
        kv("i16", I16, struct.pack("<h", -30000)),
        kv("u32", U32, u32(4000000000)),
        kv("i32", I32, struct.pack("<i", -2000000000)),
        kv("f32", F32, struct.pack("<f", 1.5)),
        kv("bool", BOOL, u8(1)),
        kv_str("str", "hello"),
        kv("u64", U64, u64((1 << 64) - 1)),
        kv("i64", I64, struct.pack("<q", -(1 << 62))),
        kv("f64", F64, struct.pack("<d", -2.25)),
        kv("arr_i32", ARR, arr(I32, [struct.pack("<i", x) for x in (-1, 2, -3)])),
        kv("arr_str", ARR, arr(STR, [gstr("x"), gstr(""), gstr("yz")])),
        kv("nested", ARR, arr(ARR, [arr(U8, [u8(1), u8(2)]), arr(U8, [u8(3)])])),
    ]


VALID = {
    "model_v3": base(),
    "model_v2": base(version=2),
    "all_types_align64": image(all_types_kvs() + [kv_u32("general.alignment", 64)],
                               [{"name": "a", "ne": [32, 2], "type": T_Q4_1},
                                {"name": "b", "ne": [3], "type": T_F16}], alignment=64),
    "vocab_only": image(BASE_KVS, []),
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
    for folder, images in (("gguf-malformed", MALFORMED), ("gguf-valid", VALID)):
        path = os.path.join(root, folder)
        os.makedirs(path, exist_ok=True)
        for name, data in sorted(images.items()):
            assert len(data) < 4096, name
            with open(os.path.join(path, name + ".gguf"), "wb") as f:
                f.write(data)
        print(f"wrote {len(images)} files to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
