#include "kernels/tensor_type.h"

namespace r1 {
namespace {

// Indexed by the GGUF type number. Sizes follow the block structs in kernels/cpu/quant.h
// (and, for types this engine only reads past, the published GGUF type table).
constexpr int kNumTypes = 36;
// clang-format off
constexpr TensorTypeTraits kTraits[kNumTypes] = {
    {"f32", 1, 4},          // 0
    {"f16", 1, 2},          // 1
    {"q4_0", 32, 18},       // 2
    {"q4_1", 32, 20},       // 3
    {nullptr, 0, 0},        // 4 (removed q4_2)
    {nullptr, 0, 0},        // 5 (removed q4_3)
    {"q5_0", 32, 22},       // 6
    {"q5_1", 32, 24},       // 7
    {"q8_0", 32, 34},       // 8
    {"q8_1", 32, 36},       // 9
    {"q2_K", 256, 84},      // 10
    {"q3_K", 256, 110},     // 11
    {"q4_K", 256, 144},     // 12
    {"q5_K", 256, 176},     // 13
    {"q6_K", 256, 210},     // 14
    {"q8_K", 256, 292},     // 15
    {"iq2_xxs", 256, 66},   // 16
    {"iq2_xs", 256, 74},    // 17
    {"iq3_xxs", 256, 98},   // 18
    {"iq1_s", 256, 50},     // 19
    {"iq4_nl", 32, 18},     // 20
    {"iq3_s", 256, 110},    // 21
    {"iq2_s", 256, 82},     // 22
    {"iq4_xs", 256, 136},   // 23
    {"i8", 1, 1},           // 24
    {"i16", 1, 2},          // 25
    {"i32", 1, 4},          // 26
    {"i64", 1, 8},          // 27
    {"f64", 1, 8},          // 28
    {"iq1_m", 256, 56},     // 29
    {"bf16", 1, 2},         // 30
    {nullptr, 0, 0},        // 31 (removed q4_0_4_4)
    {nullptr, 0, 0},        // 32 (removed q4_0_4_8)
    {nullptr, 0, 0},        // 33 (removed q4_0_8_8)
    {"tq1_0", 256, 54},     // 34
    {"tq2_0", 256, 66},     // 35
};
// clang-format on
constexpr TensorTypeTraits kUnknown = {"unknown", 0, 0};

}  // namespace

bool tensor_type_known(uint32_t type) {
  return type < kNumTypes && kTraits[type].name != nullptr;
}

const TensorTypeTraits& tensor_type_traits(TensorType type) {
  auto t = static_cast<uint32_t>(type);
  return tensor_type_known(t) ? kTraits[t] : kUnknown;
}

int64_t tensor_row_bytes(TensorType type, int64_t n) {
  const TensorTypeTraits& tr = tensor_type_traits(type);
  if (tr.block_size == 0 || n < 0 || n % tr.block_size != 0) return -1;
  return n / tr.block_size * tr.type_size;
}

}  // namespace r1
