// GgufFile: a read-only, validated view of a GGUF file (versions 2 and 3).
//
// open() maps the file and checks every count, length, offset and type against the real file
// size before anything is used; a malformed file yields a Status naming the field and the byte
// offset, never a crash or an allocation larger than the file justifies. Metadata strings and
// tensor data point into the mapping, which the GgufFile owns and unmaps on destruction; keep
// the GgufFile alive while any pointer or string_view from it is in use. After open() the
// object is immutable and safe to read from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "kernels/tensor_type.h"

namespace r1 {

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars are widened into u64/i64/f64; arrays keep their element type and
// either a pointer to the packed little-endian elements in the file (numeric/bool) or the
// string views (string). Nested arrays keep their children in `items`.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  uint64_t u64 = 0;      // unsigned integers and bool
  int64_t i64 = 0;       // signed integers
  double f64 = 0.0;      // floats
  std::string_view str;  // string

  GgufType elem_type = GgufType::kUint8;  // arrays only
  uint64_t count = 0;                     // arrays only: number of elements
  const uint8_t* raw = nullptr;           // numeric/bool arrays: count * sizeof(elem) bytes
  std::vector<std::string_view> strings;  // string arrays
  std::vector<GgufValue> items;           // arrays of arrays
};

struct GgufKv {
  std::string key;
  GgufValue value;
  uint64_t offset = 0;  // byte offset of the key in the file, for error messages
};

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};   // elements per dimension, ne[0] innermost (row length)
  uint64_t offset = 0;            // bytes, relative to the start of the data section
  uint64_t n_bytes = 0;           // bytes of tensor data
  const uint8_t* data = nullptr;  // into the mapping
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and validates `path`. Errors: kNotFound/kIoError for the file system, kInvalidArgument
  // with "PATH: FIELD at byte OFFSET: what is wrong" for malformed content.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Validates an in-memory image without copying it (the caller keeps `data` alive); `name`
  // is used in error messages. For fuzzing and tests.
  static Result<std::unique_ptr<GgufFile>> from_buffer(const uint8_t* data, size_t size,
                                                       std::string name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section

  const std::vector<GgufKv>& metadata() const { return kvs_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent

  // Typed accessors. Each fails with kNotFound when the key is absent and kInvalidArgument
  // when the stored type does not fit (any integer type converts when the value is in range).
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;  // any numeric type
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;  // numeric arrays
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;  // integer arrays

  // Convenience with defaults: absent -> `fallback`; present but wrong type -> error.
  Result<uint64_t> get_uint_or(std::string_view key, uint64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent

 private:
  GgufFile() = default;
  Status parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool owns_mapping_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensorInfo> tensors_;
  // Name -> index; the views point at the key/name bytes inside the image, so they stay valid
  // for the object's lifetime regardless of how the vectors above were grown.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Model-level sanity caps, for loaders to call before sizing buffers from metadata. Checks,
// when present: {arch}.block_count (1..4096), {arch}.attention.head_count and
// {arch}.attention.head_count_kv (<= 4096; a per-layer integer array is checked element-wise),
// {arch}.context_length (<= 10M), {arch}.embedding_length (1..1M) and the length of
// tokenizer.ggml.tokens (<= 4M). Returns kInvalidArgument naming the key and the value at
// fault; absent keys are not an error here (the loader decides what it requires).
Status gguf_check_model_caps(const GgufFile& file, std::string_view arch);

}  // namespace r1
