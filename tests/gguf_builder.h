// GgufBuilder: a tiny GGUF writer (version 3, metadata only) for malformed-metadata tests that
// build their files in memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf.h"

namespace r1::test {

class GgufBuilder {
 public:
  GgufBuilder& add_string(const std::string& key, std::string_view value) {
    key_type(key, GgufType::kString);
    str(value);
    return *this;
  }
  GgufBuilder& add_u32(const std::string& key, uint32_t value) {
    key_type(key, GgufType::kUint32);
    put(value);
    return *this;
  }
  GgufBuilder& add_f32(const std::string& key, float value) {
    key_type(key, GgufType::kFloat32);
    put(value);
    return *this;
  }
  GgufBuilder& add_bool(const std::string& key, bool value) {
    key_type(key, GgufType::kBool);
    put(static_cast<uint8_t>(value));
    return *this;
  }
  GgufBuilder& add_strings(const std::string& key, const std::vector<std::string>& values) {
    key_type(key, GgufType::kArray);
    put(static_cast<uint32_t>(GgufType::kString));
    put(static_cast<uint64_t>(values.size()));
    for (const auto& v : values) str(v);
    return *this;
  }
  GgufBuilder& add_i32s(const std::string& key, const std::vector<int32_t>& values) {
    key_type(key, GgufType::kArray);
    put(static_cast<uint32_t>(GgufType::kInt32));
    put(static_cast<uint64_t>(values.size()));
    for (int32_t v : values) put(v);
    return *this;
  }
  // The image: header, the key/values, zero padding to the default alignment.
  std::vector<uint8_t> image() const {
    GgufBuilder header;
    header.bytes_ = {'G', 'G', 'U', 'F'};
    header.put(static_cast<uint32_t>(3));
    header.put(static_cast<uint64_t>(0));  // tensors
    header.put(static_cast<uint64_t>(n_kv_));
    std::vector<uint8_t> out = header.bytes_;
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    while (out.size() % 32 != 0) out.push_back(0);
    return out;
  }

 private:
  template <typename T>
  void put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    bytes_.insert(bytes_.end(), tmp, tmp + sizeof(T));
  }
  void str(std::string_view s) {
    put(static_cast<uint64_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void key_type(const std::string& key, GgufType type) {
    ++n_kv_;
    str(key);
    put(static_cast<uint32_t>(type));
  }
  std::vector<uint8_t> bytes_;
  uint64_t n_kv_ = 0;
};

}  // namespace r1::test
