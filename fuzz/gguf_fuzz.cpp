// libFuzzer target for the GGUF reader. Seeds: tests/data/gguf-malformed and tests/data/gguf-valid
// (scripts/make_malformed_gguf.py). Any input must parse or fail with a Status; when it parses,
// every accessor on every key and every tensor's bytes must be readable under ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/gguf.h"

namespace {

// Reads every byte a caller could legitimately reach, so out-of-bounds views show up here.
uint64_t touch(const r1::GgufValue& v) {
  uint64_t sum = v.u64 + static_cast<uint64_t>(v.i64) + v.count;
  for (char ch : v.str) sum += static_cast<unsigned char>(ch);
  for (std::string_view s : v.strings) {
    for (char ch : s) sum += static_cast<unsigned char>(ch);
  }
  if (v.raw != nullptr && v.type == r1::GgufType::kArray) {
    uint64_t elem_bytes = 1;
    switch (v.elem_type) {
      case r1::GgufType::kUint16:
      case r1::GgufType::kInt16:
        elem_bytes = 2;
        break;
      case r1::GgufType::kUint32:
      case r1::GgufType::kInt32:
      case r1::GgufType::kFloat32:
        elem_bytes = 4;
        break;
      case r1::GgufType::kUint64:
      case r1::GgufType::kInt64:
      case r1::GgufType::kFloat64:
        elem_bytes = 8;
        break;
      default:
        break;
    }
    for (uint64_t i = 0; i < v.count * elem_bytes; ++i) sum += v.raw[i];
  }
  for (const r1::GgufValue& item : v.items) sum += touch(item);
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A right-sized heap copy: libFuzzer's buffer is exact already, but this keeps the target
  // honest if it is ever driven from a larger buffer.
  std::vector<uint8_t> image(data, data + size);
  auto r = r1::GgufFile::from_buffer(image.data(), image.size(), "fuzz.gguf");
  if (!r.is_ok()) return 0;
  const r1::GgufFile& f = **r;

  volatile uint64_t sink = f.version() + f.alignment() + f.data_offset() + f.file_size();
  for (const r1::GgufKv& kv : f.metadata()) {
    const r1::GgufValue* v = f.find(kv.key);
    if (v != &kv.value) __builtin_trap();  // keys are unique, so find() must land on this one
    sink = sink + touch(*v);
    sink = sink + f.get_uint(kv.key).is_ok() + f.get_int(kv.key).is_ok();
    sink = sink + f.get_float(kv.key).is_ok() + f.get_bool(kv.key).is_ok();
    if (auto s = f.get_string(kv.key); s.is_ok()) sink = sink + s.value().size();
    if (auto a = f.get_string_array(kv.key); a.is_ok()) sink = sink + a.value().size();
    if (auto a = f.get_float_array(kv.key); a.is_ok()) {
      for (float x : a.value()) sink = sink + (x == x);
    }
    if (auto a = f.get_int_array(kv.key); a.is_ok()) {
      for (int64_t x : a.value()) sink = sink + static_cast<uint64_t>(x);
    }
    sink = sink + f.get_uint_or(kv.key, 1).is_ok() + f.get_float_or(kv.key, 1).is_ok() +
           f.get_bool_or(kv.key, true).is_ok();
  }
  if (auto arch = f.get_string("general.architecture"); arch.is_ok()) {
    sink = sink + r1::gguf_check_model_caps(f, arch.value()).is_ok();
  }
  for (const r1::GgufTensorInfo& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) __builtin_trap();
    sink = sink + static_cast<uint64_t>(t.n_elements()) + t.n_bytes;
    if (t.n_bytes > 0) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  }
  (void)sink;
  return 0;
}
