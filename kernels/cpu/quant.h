// Block formats of the quantized tensor types and their CPU kernels.
//
// Each supported weight type has: a scalar reference dequantizer, a reference quantizer for the
// activation format it is multiplied with (its "dot type"), and dot products of one weight row
// with one activation row: a scalar reference and the fastest variant the CPU supports (AVX2+FMA
// baseline, AVX-512/VNNI when present), chosen once at run time. For prefill, a tile kernel
// computes the dots of a few weight rows with a few activation rows at once. The fast kernels are
// checked against the references in tests/kernels/quant_test.cpp. All functions are pure and
// thread-safe. Rows hold n elements; n must be a multiple of the type's block size.
//
// Activation (dot) types follow the scheme llama.cpp uses, so results track it closely:
//   F32 -> F32, F16 -> F16, BF16 -> BF16, Q4_0 -> Q8_0, Q4_1 -> Q8_1, Q8_0 -> Q8_0,
//   Q4_K -> Q8_K, Q6_K -> Q8_K.
// Q8_0 and Q8_1 activations are quantized the way llama.cpp's x86 build does it (the path it
// runs on the machines we compare against): multiply by 127/amax, round half to even. Q8_K
// follows ggml's quantize_row_q8_K_ref bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/tensor_type.h"

namespace r1 {

using f16_t = uint16_t;   // IEEE half, raw bits
using bf16_t = uint16_t;  // bfloat16, raw bits

float f16_to_f32(f16_t h);
f16_t f32_to_f16(float f);  // round to nearest even
float bf16_to_f32(bf16_t h);
bf16_t f32_to_bf16(float f);  // round to nearest even, NaN kept quiet

constexpr int kQK4_0 = 32;
struct BlockQ4_0 {
  f16_t d;                 // scale
  uint8_t qs[kQK4_0 / 2];  // nibbles: element j in low nibble of qs[j], j+16 in the high one
};
static_assert(sizeof(BlockQ4_0) == 18);

constexpr int kQK4_1 = 32;
struct BlockQ4_1 {
  f16_t d;  // scale
  f16_t m;  // min
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  f16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

constexpr int kQK8_1 = 32;
struct BlockQ8_1 {
  f16_t d;  // scale
  f16_t s;  // d * sum(qs)
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36);

constexpr int kQK_K = 256;
constexpr int kKScaleSize = 12;
struct BlockQ4_K {
  f16_t d;                      // super-block scale for the 6-bit scales
  f16_t dmin;                   // super-block scale for the 6-bit mins
  uint8_t scales[kKScaleSize];  // 8 scales and 8 mins, 6 bits each, packed
  uint8_t qs[kQK_K / 2];        // 4-bit quants
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scales, one per 16 elements
  f16_t d;                    // super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210);

struct BlockQ8_K {
  float d;  // scale (f32, unlike the other blocks)
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sum of qs in each group of 16
};
static_assert(sizeof(BlockQ8_K) == 292);

// True when the CPU kernels can compute with this weight type.
bool cpu_type_supported(TensorType type);

// Scalar reference: n elements of `type` at src -> f32. Besides the supported weight types it
// reads the activation types Q8_1 (s ignored) and Q8_K. False, dst untouched, for other types.
bool dequantize_row_ref(TensorType type, const void* src, float* dst, int64_t n);

// Scalar reference: n f32 values -> n elements of `type` at dst (the inverse of
// dequantize_row_ref, up to rounding). False if the type is unsupported.
bool quantize_row_ref(TensorType type, const float* src, void* dst, int64_t n);

// Reference quantizers (f32 -> blocks), used for activations and for tests.
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n);
void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n);
// Q4_K and Q6_K: a plain max-based quantizer for tests (ggml's files come from its own
// search-based quantizer; the block format is the same).
void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n);

// Computes dot(w_row, act_row) where the weight row has `type` and the activation row is in
// that type's dot type (see above), both n elements long.
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* act_row);
// Computes out4[i] = dot(weight row i, act_row) for the 4 weight rows starting at w_rows,
// row_stride_bytes apart, reading the activation row once. Same numbers as 4 vec_dot calls up
// to float summation order.
using VecDot4Fn = void (*)(int64_t n, const void* w_rows, size_t row_stride_bytes,
                           const void* act_row, float* out4);
// Computes a tile of dots for prefill: out[t * out_stride + r] = dot(weight row r, act row t)
// for r in [0, tile_rows) and t in [0, tile_tokens) (the shape is the kernel table's, below).
// Weight rows start at w_rows, w_stride bytes apart; activation rows (in the dot type) at
// act_rows, act_stride bytes apart; out_stride is in floats. Each weight block and each
// activation block is read once per tile and every output stays in a register, so a matmul
// over many tokens is bound by arithmetic, not loads. Same numbers as vec_dot up to float
// summation order.
using VecDotTileFn = void (*)(int64_t n, const void* w_rows, size_t w_stride, const void* act_rows,
                              size_t act_stride, float* out, size_t out_stride);
// Converts n f32 activations into the dot type's row layout.
using QuantizeActFn = void (*)(const float* x, void* y, int64_t n);

struct CpuTypeKernels {
  TensorType dot_type = TensorType::kF32;   // activation format
  QuantizeActFn quantize_act = nullptr;     // f32 -> dot_type row (bit-identical on every ISA)
  VecDotFn vec_dot = nullptr;               // fastest available
  VecDotFn vec_dot_ref = nullptr;           // scalar reference
  VecDot4Fn vec_dot4 = nullptr;             // fastest available, 4 rows at once
  VecDot4Fn vec_dot4_ref = nullptr;         // scalar reference, 4 rows at once
  VecDotTileFn vec_dot_tile = nullptr;      // fastest available, tile_rows x tile_tokens dots
  VecDotTileFn vec_dot_tile_ref = nullptr;  // scalar reference of the same tile shape
  int tile_rows = 4;                        // weight rows per vec_dot_tile call
  int tile_tokens = 4;                      // activation rows per vec_dot_tile call
  const char* isa = "scalar";               // which variant vec_dot is: "scalar", "avx2", "avx512"
};

// Kernels for a supported weight type (nullptr for an unsupported one). Chosen once per process
// from the CPU's features; R1_CPU_ISA=scalar|avx2|avx512 in the environment caps the choice.
// The returned table has static storage duration.
const CpuTypeKernels* cpu_type_kernels(TensorType type);

// Name of the widest instruction set the dispatcher picked ("scalar", "avx2", "avx512").
const char* cpu_isa_name();

// Instruction-set levels of the CPU kernels. kAvx2 needs AVX2+FMA+F16C; kAvx512 also needs
// AVX-512 F/BW/VL/VNNI/VBMI.
enum class CpuIsa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Widest level this CPU supports, ignoring R1_CPU_ISA.
CpuIsa cpu_isa_detected();

// Kernels of exactly one level, for tests and benchmarks: nullptr when the CPU lacks `isa` or
// the type is unsupported. A level without its own kernel for a type reuses the next lower
// level's (the table's `isa` says which one runs).
const CpuTypeKernels* cpu_type_kernels_for_isa(TensorType type, CpuIsa isa);

}  // namespace r1
