// CUDA devices, streams, graphs and device memory, behind a C++ interface with no CUDA types.
//
// Everything here is callable from plain .cpp files; the .cu files own the CUDA runtime calls.
// Streams and graphs are opaque handles. Device memory is taken in few, large allocations
// planned up front (DeviceArena): a model sums what it needs (weights, KV cache, activations),
// checks it against the device's free memory once, and fails with one message naming the
// bytes needed and free, instead of failing at some later allocation. Functions that can fail
// return a Status naming the CUDA error; kernel launches elsewhere are asynchronous and their
// errors surface at the next check_last_error() or synchronize().
//
// Thread-safety: the free functions are thread-safe. A Stream, Graph or DeviceArena is used by
// one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace r1::cuda {

// Devices the runtime can use: 0 when there is no driver, no device, or the runtime fails to
// start. Never fails.
int device_count();

struct DeviceInfo {
  std::string name;  // e.g. "NVIDIA H200"
  int major = 0;     // compute capability
  int minor = 0;
  int multiprocessors = 0;
  uint64_t total_bytes = 0;        // device memory
  uint64_t free_bytes = 0;         // free now
  double peak_bandwidth_gb_s = 0;  // from the memory clock and bus width (2 transfers a clock)
};

// Makes `device` current on the calling thread and describes it. kInvalidArgument for a
// device number out of range, kInternal when the runtime fails.
Result<DeviceInfo> use_device(int device);

// Makes `device` current on the calling thread, nothing more (cheap; once per forward call).
Status set_device(int device);

// Bytes free and total on the current device.
Status memory_info(uint64_t* free_bytes, uint64_t* total_bytes);

// kInternal naming `what` and the CUDA error when the last launch on this thread failed.
Status check_last_error(const char* what);

// A CUDA stream (non-blocking with respect to the legacy default stream).
class Stream {
 public:
  Stream();  // creates the stream on the current device; valid() tells whether it worked
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  bool valid() const { return handle_ != nullptr; }
  void* handle() const { return handle_; }  // cudaStream_t
  // Waits for all work queued so far; kInternal naming `what` and the error on failure.
  Status synchronize(const char* what) const;

 private:
  void* handle_ = nullptr;
};

// A captured sequence of launches on one stream, replayed with one launch (cudaGraphExec_t).
// Capture records the kernels and their arguments, not the data: a graph replays correctly as
// long as every buffer it touches stays where it was and values that change between replays
// (token ids, positions) are read from device memory.
class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Status begin_capture(const Stream& stream);
  Status end_capture(const Stream& stream);  // instantiates; ready() afterwards
  Status launch(const Stream& stream) const;
  bool ready() const { return exec_ != nullptr; }
  void reset();

 private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

// Asynchronous copies on `stream`. Host memory should be pinned (HostBuffer) for the copy to
// overlap; pageable memory works but the call then waits.
Status copy_to_device(void* dst, const void* src, size_t bytes, const Stream& stream);
Status copy_to_host(void* dst, const void* src, size_t bytes, const Stream& stream);
Status copy_device_to_device(void* dst, const void* src, size_t bytes, const Stream& stream);
// Synchronous upload from pageable host memory (weights at load).
Status upload(void* dst, const void* src, size_t bytes);
Status memset_device(void* dst, int value, size_t bytes, const Stream& stream);

// Pinned host memory (cudaMallocHost), for copies that overlap and for graph inputs.
class HostBuffer {
 public:
  HostBuffer() = default;
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  Status allocate(size_t bytes);
  void* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Device memory planned up front: reserve() each region (aligned to 256 bytes), then
// allocate() once. Region offsets are fixed at reserve() time, so pointers are known as soon
// as the single allocation succeeds.
class DeviceArena {
 public:
  DeviceArena() = default;
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Adds a region of `bytes` under `group` (a label for the error message, e.g. "weights");
  // returns its offset.
  size_t reserve(size_t bytes, const std::string& group);
  size_t planned_bytes() const { return size_; }
  // One cudaMalloc of planned_bytes() on the current device. kOutOfRange naming the bytes
  // needed (per group) and the bytes free when they do not fit, with `what` (the model path)
  // in front; `headroom` bytes are kept free for the CUDA context and cuBLAS.
  Status allocate(const std::string& what, uint64_t headroom);
  // Device pointer of the region at `offset` (valid after allocate()).
  void* at(size_t offset) const { return static_cast<char*>(base_) + offset; }
  bool allocated() const { return base_ != nullptr; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
  std::vector<std::pair<std::string, size_t>> groups_;  // label, bytes
};

// Device memory bandwidth as a device-to-device copy of `bytes` achieves it, counting bytes
// read plus bytes written (best of a few runs), in GB/s: the roofline a bandwidth-bound kernel
// is measured against. Allocates 2 * bytes for the duration of the call.
Result<double> measure_copy_bandwidth_gb_s(uint64_t bytes);

// Formats bytes as MiB with one decimal ("1234.5 MiB").
std::string format_mib(uint64_t bytes);

}  // namespace r1::cuda
