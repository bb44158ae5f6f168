// Mat-vec for decode and cuBLAS GEMM for prefill (kernels/cuda/matmul.h).
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "kernels/cuda/matmul.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant_device.cuh"

namespace r1::cuda {

using namespace qd;

namespace {

constexpr int kRowsPerBlock = 4;  // one warp per row

cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}

// Lane i takes units i, i + 32, ...: consecutive lanes read consecutive units, so each warp
// load instruction covers one contiguous span of the row.
template <TensorType kType>
__global__ void __launch_bounds__(kRowsPerBlock * 32)
    matvec_kernel(Mat w, Act a, int64_t units_per_row, float* __restrict__ y, bool accumulate) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= w.rows) return;
  float sum = 0.f;
#pragma unroll 4
  for (int64_t u = lane; u < units_per_row; u += 32) sum += dot_unit<kType>(w, row, u, a);
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane == 0) y[row] = accumulate ? y[row] + sum : sum;
}

Status blas_status(cublasStatus_t st, const std::string& what) {
  if (st == CUBLAS_STATUS_SUCCESS) return Status::ok();
  return Status::internal(what + ": cuBLAS status " + std::to_string(static_cast<int>(st)) + " (" +
                          cublasGetStatusString(st) + ")");
}

}  // namespace

void matvec(const DeviceMatrix& w, const void* act, float* y, bool accumulate, void* stream) {
  if (w.rows == 0) return;
  const Mat m = mat_view(w.type, w.data, w.rows, w.cols);
  const Act a = act_view(act_type_of(w.type), act, w.cols);
  const int64_t upr = w.cols / unit_elems(w.type);
  const unsigned blocks = static_cast<unsigned>((w.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  dispatch_type(w.type, [&]<TensorType kT>() {
    matvec_kernel<kT>
        <<<blocks, kRowsPerBlock * 32, 0, as_stream(stream)>>>(m, a, upr, y, accumulate);
  });
}

Blas::~Blas() {
  if (handle_ != nullptr) cublasDestroy(static_cast<cublasHandle_t>(handle_));
}

Status Blas::init(void* stream) {
  cublasHandle_t h = nullptr;
  R1_RETURN_IF_ERROR(blas_status(cublasCreate(&h), "cublasCreate"));
  handle_ = h;
  R1_RETURN_IF_ERROR(blas_status(cublasSetStream(h, as_stream(stream)), "cublasSetStream"));
  return Status::ok();
}

int64_t gemm_weight_chunk_elems(const DeviceMatrix& w, int64_t max_chunk_elems) {
  if (w.type == TensorType::kF32 || w.type == TensorType::kF16 || w.type == TensorType::kBF16) {
    return 0;  // used as they are
  }
  const int64_t rows = std::max<int64_t>(1, std::min(w.rows, max_chunk_elems / w.cols));
  return rows * w.cols;
}

Status linear_gemm(Blas& blas, const DeviceMatrix& w, const float* x, int64_t x_stride,
                   int64_t n_tokens, float* y, int64_t y_stride, bool accumulate, uint16_t* x16,
                   uint16_t* w16, int64_t chunk_elems, void* stream) {
  auto h = static_cast<cublasHandle_t>(blas.handle());
  const float alpha = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f;
  const int m = static_cast<int>(w.rows);
  const int n = static_cast<int>(n_tokens);
  const int k = static_cast<int>(w.cols);
  const Mat view = mat_view(w.type, w.data, w.rows, w.cols);
  if (w.type == TensorType::kF32) {
    return blas_status(
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, view.p0, CUDA_R_32F, k, x,
                     CUDA_R_32F, static_cast<int>(x_stride), &beta, y, CUDA_R_32F,
                     static_cast<int>(y_stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx f32");
  }
  if (w.type == TensorType::kBF16) {
    convert_rows_bf16(x, x_stride, n_tokens, w.cols, x16, stream);
    return blas_status(
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, view.p0, CUDA_R_16BF, k, x16,
                     CUDA_R_16BF, k, &beta, y, CUDA_R_32F, static_cast<int>(y_stride),
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx bf16");
  }
  convert_rows_f16(x, x_stride, n_tokens, w.cols, x16, stream);
  if (w.type == TensorType::kF16) {
    return blas_status(
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, view.p0, CUDA_R_16F, k, x16,
                     CUDA_R_16F, k, &beta, y, CUDA_R_32F, static_cast<int>(y_stride),
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx f16");
  }
  const int64_t chunk_rows = std::max<int64_t>(1, chunk_elems / w.cols);
  for (int64_t r0 = 0; r0 < w.rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, w.rows - r0);
    dequantize_rows_f16(w, r0, nr, w16, stream);
    R1_RETURN_IF_ERROR(blas_status(
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(nr), n, k, &alpha, w16,
                     CUDA_R_16F, k, x16, CUDA_R_16F, k, &beta, y + r0, CUDA_R_32F,
                     static_cast<int>(y_stride), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx dequantized f16"));
  }
  return Status::ok();
}

}  // namespace r1::cuda
