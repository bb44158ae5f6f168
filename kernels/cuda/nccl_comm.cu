// NCCL communicators (kernels/cuda/nccl_comm.h).
#include <cuda_runtime.h>

#include <cstring>
#include <string>
#include <thread>

#include "kernels/cuda/nccl_comm.h"

#if defined(R1_HAVE_NCCL)
#include <nccl.h>
#endif

namespace r1::cuda {

#if defined(R1_HAVE_NCCL)

namespace {
Status nccl_status(ncclResult_t r, const std::string& what) {
  if (r == ncclSuccess) return Status::ok();
  return Status::internal(what + ": NCCL error " + std::to_string(static_cast<int>(r)) + " (" +
                          ncclGetErrorString(r) + ")");
}
}  // namespace

bool nccl_available() {
  return true;
}

Result<NcclUniqueId> nccl_unique_id() {
  ncclUniqueId id;
  R1_RETURN_IF_ERROR(nccl_status(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  NcclUniqueId out;
  static_assert(sizeof(id) <= sizeof(out.bytes));
  std::memcpy(out.bytes.data(), &id, sizeof(id));
  return out;
}

Communicator::~Communicator() {
  if (comm_ != nullptr) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

Result<std::unique_ptr<Communicator>> Communicator::init_rank(const NcclUniqueId& id,
                                                              int world_size, int rank,
                                                              int device) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return Status::invalid("NCCL: rank " + std::to_string(rank) + " of world size " +
                           std::to_string(world_size) + " is not valid");
  }
  const cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    return Status::internal("NCCL rank " + std::to_string(rank) + ": cudaSetDevice(" +
                            std::to_string(device) + "): " + cudaGetErrorString(err));
  }
  ncclUniqueId raw;
  std::memcpy(&raw, id.bytes.data(), sizeof(raw));
  ncclComm_t comm = nullptr;
  R1_RETURN_IF_ERROR(
      nccl_status(ncclCommInitRank(&comm, world_size, raw, rank), "ncclCommInitRank"));
  std::unique_ptr<Communicator> c(new Communicator());
  c->comm_ = comm;
  c->rank_ = rank;
  c->world_size_ = world_size;
  c->device_ = device;
  return Result<std::unique_ptr<Communicator>>(std::move(c));
}

Result<std::vector<std::unique_ptr<Communicator>>> Communicator::init_group(
    const std::vector<int>& devices) {
  if (devices.empty()) return Status::invalid("NCCL: no devices given");
  Result<NcclUniqueId> id = nccl_unique_id();
  if (!id) return id.status();
  const int n = static_cast<int>(devices.size());
  std::vector<std::unique_ptr<Communicator>> comms(static_cast<size_t>(n));
  std::vector<Status> statuses(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      Result<std::unique_ptr<Communicator>> c = init_rank(*id, n, r, devices[r]);
      if (c) {
        comms[r] = std::move(c.value());
      } else {
        statuses[r] = c.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : statuses) {
    if (!st) return st;
  }
  return Result<std::vector<std::unique_ptr<Communicator>>>(std::move(comms));
}

Status Communicator::all_reduce_sum(float* data, int64_t count, void* stream) {
  return nccl_status(
      ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat, ncclSum,
                    static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream)),
      "ncclAllReduce");
}

#else  // no NCCL in this build

namespace {
Status no_nccl() {
  return Status::unsupported("this build has no NCCL (tensor parallelism needs libnccl)");
}
}  // namespace

bool nccl_available() {
  return false;
}
Result<NcclUniqueId> nccl_unique_id() {
  return no_nccl();
}
Communicator::~Communicator() = default;
Result<std::unique_ptr<Communicator>> Communicator::init_rank(const NcclUniqueId&, int, int, int) {
  return no_nccl();
}
Result<std::vector<std::unique_ptr<Communicator>>> Communicator::init_group(
    const std::vector<int>&) {
  return no_nccl();
}
Status Communicator::all_reduce_sum(float*, int64_t, void*) {
  return no_nccl();
}

#endif

}  // namespace r1::cuda
