// The llama-family decoder (GGUF `llama` and `qwen2`) on an NVIDIA GPU, behind the same Model
// interface as the CPU engine, so the generator, sampler, thinking budget, grammar and prefix
// cache run on it unchanged.
//
// load_model_cuda() reads and validates the file exactly as load_model() does (same errors),
// then plans all device memory up front: the weights (kept quantized, repacked for wide
// loads; see kernels/cuda/quant.h), and for each of options.n_seq sequence slots a KV cache of
// options.n_ctx tokens plus activation buffers for options.max_batch_tokens tokens. When that
// does not fit, loading fails with kOutOfRange naming the bytes needed and free.
//
// Each make_scratch() takes one slot (a stream, a cuBLAS handle, buffers and the slot's f16 KV
// cache); the slot returns when the scratch is destroyed. The KV values live on the device, in
// the slot: the KvCache passed to forward() only carries the context size and n_past (truncate
// it to reuse a prefix, as on the CPU). So a KvCache must be used with the same scratch for as
// long as it holds tokens; forward() refuses a different pairing while n_past > 0. Decode steps
// (one token) are captured once per slot into a CUDA graph and replayed.
//
// Threading: one thread at a time per scratch; different scratches may run concurrently.
// Builds without CUDA (R1_HAVE_CUDA undefined) return kUnsupported "built without CUDA".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/model.h"

namespace r1 {

namespace cuda {
class Communicator;
}

struct CudaModelOptions {
  int device = 0;                  // CUDA device number (`--device cuda:N`)
  int64_t n_ctx = 4096;            // tokens of KV cache per sequence slot
  int n_seq = 1;                   // sequence slots (concurrent Generators)
  int64_t max_batch_tokens = 512;  // tokens per kernel batch; longer inputs run in chunks
  bool use_graphs = true;          // replay decode steps from a captured CUDA graph
  // Tensor parallelism: this process's rank of tp_world GPUs, joined through `comm` (owned by
  // the caller, must outlive the model; see kernels/cuda/nccl_comm.h). World size 1 needs none.
  int tp_world = 1;
  int tp_rank = 0;
  cuda::Communicator* comm = nullptr;
};

// Loads `path` for the GPU. Errors: those of load_model(); kUnsupported for an architecture
// other than llama/qwen2, a tensor type without device kernels, or a build without CUDA;
// kInvalidArgument for a bad option or device number; kOutOfRange when the plan does not fit
// in device memory.
Result<std::unique_ptr<Model>> load_model_cuda(const std::string& path,
                                               const CudaModelOptions& options);

// load_model() for device "cpu" (or ""), load_model_cuda() for "cuda" or "cuda:N" with n_seq
// sequence slots of n_ctx tokens; kInvalidArgument for any other device name.
Result<std::unique_ptr<Model>> load_model_on(const std::string& path, const std::string& device,
                                             int64_t n_ctx, int n_seq = 1);

// True when `model` came from load_model_cuda().
bool is_cuda_model(const Model& model);

// Runs forward() without copying logits to the host and returns the greedy token (argmax of the
// last position's logits, lowest id on ties) computed on the device. Same contract and
// validation as Model::forward(); kInvalidArgument when `model` is not a CUDA model.
Result<int32_t> cuda_forward_greedy(const Model& model, const int32_t* tokens, int64_t n,
                                    KvCache& kv, ForwardScratch& scratch);

}  // namespace r1
