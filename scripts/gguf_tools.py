"""Small helpers over PyPI `gguf` shared by the repo's model and golden-file scripts."""
import gguf
import numpy as np


def copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, skip=()):
    """Copies every key/value of `reader` (except GGUF.* and `skip`) into `writer`."""
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in skip or key == "general.architecture":
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(key, field.contents(), vtype, sub_type=sub)
        else:
            writer.add_key_value(key, field.contents(), vtype)


def tensor_as_f32(t) -> np.ndarray:
    """A reader tensor as float32 with numpy shape (rows..., cols)."""
    qtype = gguf.GGMLQuantizationType(t.tensor_type)
    data = np.asarray(t.data)
    if qtype == gguf.GGMLQuantizationType.F32:
        return data.astype(np.float32).reshape(list(reversed([int(x) for x in t.shape])))
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float32).reshape(list(reversed([int(x) for x in t.shape])))
    return gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(
        list(reversed([int(x) for x in t.shape])))
