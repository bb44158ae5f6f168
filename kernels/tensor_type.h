// Tensor element types as GGUF numbers them, and their block layout.
//
// A row of n elements of a block-quantized type is n / block_size blocks of type_size bytes.
// The numbering is the on-disk GGUF one, so values read from a file can be checked against
// tensor_type_known() before use. Plain data: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace r1 {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
};

struct TensorTypeTraits {
  const char* name;    // e.g. "q4_K"
  int64_t block_size;  // elements per block
  int64_t type_size;   // bytes per block
};

// False for numbers GGUF never assigned (4, 5, 31..33) and anything past the table.
bool tensor_type_known(uint32_t type);
// Traits of a known type; block_size 0 for unknown ones.
const TensorTypeTraits& tensor_type_traits(TensorType type);
inline const char* tensor_type_name(TensorType t) {
  return tensor_type_traits(t).name;
}
// Bytes of a row of n elements; -1 if n is not a multiple of the block size.
int64_t tensor_row_bytes(TensorType type, int64_t n);

}  // namespace r1
