// NCCL communicators for tensor parallelism across the GPUs of one machine.
//
// One Communicator per GPU (rank). Two ways to set a group up: init_group() creates the
// unique id and starts one thread per GPU, each joining with ncclCommInitRank (the layout a
// one-thread-per-GPU engine uses), and returns the communicators; or, from threads or processes
// of your own, unique_id() once and init_rank() on each rank. World size 1 is a valid group
// (all-reduce is then a copy). Built only with NCCL (R1_HAVE_NCCL); without it every call
// returns kUnsupported. A Communicator is used by one thread at a time.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "core/status.h"

namespace r1::cuda {

// True when this build links NCCL.
bool nccl_available();

struct NcclUniqueId {
  std::array<char, 128> bytes{};  // ncclUniqueId, opaque
};

Result<NcclUniqueId> nccl_unique_id();

class Communicator {
 public:
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // Joins rank `rank` of a group of world_size on `device` (made current on this thread).
  // Blocks until every rank has joined.
  static Result<std::unique_ptr<Communicator>> init_rank(const NcclUniqueId& id, int world_size,
                                                         int rank, int device);
  // One communicator per device, rank i on devices[i], set up by one thread per device.
  static Result<std::vector<std::unique_ptr<Communicator>>> init_group(
      const std::vector<int>& devices);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int device() const { return device_; }

  // In place: data (count f32, device) = sum over ranks, on `stream`. Every rank must call it.
  Status all_reduce_sum(float* data, int64_t count, void* stream);

 private:
  Communicator() = default;
  void* comm_ = nullptr;  // ncclComm_t
  int rank_ = 0;
  int world_size_ = 1;
  int device_ = 0;
};

}  // namespace r1::cuda
