// CUDA runtime wrappers for kernels/cuda/device.h.
#include <cuda_runtime.h>

#include <cstdio>

#include "kernels/cuda/device.h"

namespace r1::cuda {

namespace {

Status cuda_status(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return Status::ok();
  return Status::internal(what + ": CUDA error " + std::to_string(static_cast<int>(err)) + " (" +
                          cudaGetErrorString(err) + ")");
}

cudaStream_t raw(const Stream& s) {
  return static_cast<cudaStream_t>(s.handle());
}

}  // namespace

std::string format_mib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error for later calls
    return 0;
  }
  return n;
}

Result<DeviceInfo> use_device(int device) {
  const int n = device_count();
  if (device < 0 || device >= n) {
    return Status::invalid("CUDA device " + std::to_string(device) + " does not exist (" +
                           std::to_string(n) + " device" + (n == 1 ? "" : "s") + " found)");
  }
  R1_RETURN_IF_ERROR(cuda_status(cudaSetDevice(device), "cudaSetDevice"));
  cudaDeviceProp p{};
  R1_RETURN_IF_ERROR(cuda_status(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties"));
  DeviceInfo info;
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.multiprocessors = p.multiProcessorCount;
  int mem_clock_khz = 0;
  int bus_bits = 0;
  cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  (void)cudaGetLastError();
  info.peak_bandwidth_gb_s = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  size_t free_b = 0, total_b = 0;
  R1_RETURN_IF_ERROR(cuda_status(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo"));
  info.free_bytes = free_b;
  info.total_bytes = total_b;
  return info;
}

Status set_device(int device) {
  return cuda_status(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
}

Status memory_info(uint64_t* free_bytes, uint64_t* total_bytes) {
  size_t f = 0, t = 0;
  R1_RETURN_IF_ERROR(cuda_status(cudaMemGetInfo(&f, &t), "cudaMemGetInfo"));
  *free_bytes = f;
  *total_bytes = t;
  return Status::ok();
}

Status check_last_error(const char* what) {
  return cuda_status(cudaGetLastError(), what);
}

Stream::Stream() {
  cudaStream_t s = nullptr;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess) {
    handle_ = s;
  } else {
    (void)cudaGetLastError();
  }
}

Stream::~Stream() {
  if (handle_ != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(handle_));
}

Status Stream::synchronize(const char* what) const {
  return cuda_status(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)), what);
}

Graph::~Graph() {
  reset();
}

void Graph::reset() {
  if (exec_ != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_ != nullptr) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = nullptr;
  graph_ = nullptr;
}

Status Graph::begin_capture(const Stream& stream) {
  reset();
  return cuda_status(cudaStreamBeginCapture(raw(stream), cudaStreamCaptureModeThreadLocal),
                     "cudaStreamBeginCapture");
}

Status Graph::end_capture(const Stream& stream) {
  cudaGraph_t g = nullptr;
  R1_RETURN_IF_ERROR(cuda_status(cudaStreamEndCapture(raw(stream), &g), "cudaStreamEndCapture"));
  graph_ = g;
  cudaGraphExec_t e = nullptr;
  Status st = cuda_status(cudaGraphInstantiate(&e, g, 0), "cudaGraphInstantiate");
  if (!st) {
    reset();
    return st;
  }
  exec_ = e;
  return Status::ok();
}

Status Graph::launch(const Stream& stream) const {
  return cuda_status(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), raw(stream)),
                     "cudaGraphLaunch");
}

Status copy_to_device(void* dst, const void* src, size_t bytes, const Stream& stream) {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, raw(stream)),
                     "copy to device");
}

Status copy_to_host(void* dst, const void* src, size_t bytes, const Stream& stream) {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, raw(stream)),
                     "copy to host");
}

Status copy_device_to_device(void* dst, const void* src, size_t bytes, const Stream& stream) {
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, raw(stream)),
                     "device copy");
}

Status upload(void* dst, const void* src, size_t bytes) {
  return cuda_status(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload");
}

Status memset_device(void* dst, int value, size_t bytes, const Stream& stream) {
  return cuda_status(cudaMemsetAsync(dst, value, bytes, raw(stream)), "cudaMemsetAsync");
}

HostBuffer::~HostBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

Status HostBuffer::allocate(size_t bytes) {
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = nullptr;
  bytes_ = 0;
  R1_RETURN_IF_ERROR(cuda_status(cudaMallocHost(&data_, bytes), "cudaMallocHost"));
  bytes_ = bytes;
  return Status::ok();
}

DeviceArena::~DeviceArena() {
  if (base_ != nullptr) cudaFree(base_);
}

size_t DeviceArena::reserve(size_t bytes, const std::string& group) {
  const size_t offset = size_;
  size_ += (bytes + 255) / 256 * 256;
  for (auto& g : groups_) {
    if (g.first == group) {
      g.second += bytes;
      return offset;
    }
  }
  groups_.emplace_back(group, bytes);
  return offset;
}

Status DeviceArena::allocate(const std::string& what, uint64_t headroom) {
  uint64_t free_b = 0, total_b = 0;
  R1_RETURN_IF_ERROR(memory_info(&free_b, &total_b));
  const uint64_t need = size_ + headroom;
  if (need > free_b) {
    std::string parts;
    for (const auto& g : groups_) {
      parts += (parts.empty() ? "" : ", ") + g.first + " " + format_mib(g.second);
    }
    int dev = 0;
    cudaGetDevice(&dev);
    return Status::out_of_range(what + " needs " + format_mib(need) +
                                " on cuda:" + std::to_string(dev) + " (" + parts + ", headroom " +
                                format_mib(headroom) + ") but only " + format_mib(free_b) + " of " +
                                format_mib(total_b) + " is free");
  }
  const cudaError_t err = cudaMalloc(&base_, size_ == 0 ? 256 : size_);
  if (err != cudaSuccess) {
    base_ = nullptr;
    (void)cudaGetLastError();
    return Status::out_of_range(what + ": cudaMalloc of " + format_mib(size_) + " failed (" +
                                cudaGetErrorString(err) + ") with " + format_mib(free_b) +
                                " reported free");
  }
  return Status::ok();
}

Result<double> measure_copy_bandwidth_gb_s(uint64_t bytes) {
  void* a = nullptr;
  void* b = nullptr;
  R1_RETURN_IF_ERROR(cuda_status(cudaMalloc(&a, bytes), "cudaMalloc"));
  Status st = cuda_status(cudaMalloc(&b, bytes), "cudaMalloc");
  if (!st) {
    cudaFree(a);
    return st;
  }
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  float best_ms = 1e30f;
  for (int i = 0; i < 6 && st.is_ok(); ++i) {
    cudaEventRecord(e0);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    st = cuda_status(cudaEventSynchronize(e1), "bandwidth copy");
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i > 0) best_ms = ms < best_ms ? ms : best_ms;  // the first run warms up
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  if (!st) return st;
  return 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3) / 1e9;
}

}  // namespace r1::cuda
