// Tensor-parallel splits (kernels/cuda/tensor_parallel.h) and NCCL communicator setup
// (kernels/cuda/nccl_comm.h). The splits are plain arithmetic and run everywhere; the
// communicator needs a GPU and skips without one.
#if defined(R1_HAVE_CUDA)

#include "kernels/cuda/tensor_parallel.h"

#include <doctest/doctest.h>

#include <vector>

#include "kernels/cuda/device.h"
#include "kernels/cuda/nccl_comm.h"

namespace r1 {

TEST_SUITE("cuda") {
  TEST_CASE("cuda: shards cover the range once, in whole pieces, larger ones first") {
    for (int world : {1, 2, 3, 4, 8}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        Result<cuda::Shard> s = cuda::shard_range(18944, 256, world, r);
        REQUIRE(s.is_ok());
        CHECK(s->begin == next);
        CHECK(s->count % 256 == 0);
        if (r > 0) {
          Result<cuda::Shard> prev = cuda::shard_range(18944, 256, world, r - 1);
          CHECK(prev->count >= s->count);
        }
        next += s->count;
      }
      CHECK(next == 18944);
    }
    CHECK_FALSE(cuda::shard_range(100, 32, 2, 0).is_ok());  // not whole pieces
    CHECK_FALSE(cuda::shard_range(64, 32, 3, 0).is_ok());   // fewer pieces than ranks
    CHECK_FALSE(cuda::shard_range(64, 32, 2, 2).is_ok());   // no such rank
  }

  TEST_CASE("cuda: a tensor-parallel plan keeps each GQA group on one rank") {
    // R1-Distill-Qwen-7B: 28 heads, 4 kv heads, n_ff 18944, Q4_K ffn_down.
    Result<cuda::TensorParallelPlan> p = cuda::plan_tensor_parallel(28, 4, 18944, 256, 2, 1);
    REQUIRE(p.is_ok());
    CHECK(p->kv_heads.begin == 2);
    CHECK(p->kv_heads.count == 2);
    CHECK(p->heads.begin == 14);
    CHECK(p->heads.count == 14);
    CHECK(p->ff.begin + p->ff.count == 18944);
    Result<cuda::TensorParallelPlan> bad = cuda::plan_tensor_parallel(28, 4, 18944, 256, 3, 0);
    REQUIRE_FALSE(bad.is_ok());
    CHECK(bad.status().message().find("kv heads") != std::string::npos);
    Result<cuda::TensorParallelPlan> one = cuda::plan_tensor_parallel(9, 3, 1536, 32, 1, 0);
    REQUIRE(one.is_ok());
    CHECK(one->heads.count == 9);
    CHECK(one->ff.count == 1536);
  }

  TEST_CASE("cuda: an NCCL group of one GPU sets up and all-reduces to the same values") {
    if (cuda::device_count() == 0) {
      MESSAGE("no CUDA device: skipped");
      return;
    }
    if (!cuda::nccl_available()) {
      MESSAGE("built without NCCL: skipped");
      return;
    }
    auto group = cuda::Communicator::init_group({0});
    REQUIRE_MESSAGE(group.is_ok(), group.status().message());
    REQUIRE(group->size() == 1);
    cuda::Communicator& comm = *(*group)[0];
    CHECK(comm.rank() == 0);
    CHECK(comm.world_size() == 1);
    cuda::Stream stream;
    cuda::DeviceArena arena;
    const size_t off = arena.reserve(1000 * sizeof(float), "test");
    REQUIRE(arena.allocate("test", 0).is_ok());
    std::vector<float> v(1000);
    for (int i = 0; i < 1000; ++i) v[i] = 0.5f * i - 7.0f;
    auto* d = static_cast<float*>(arena.at(off));
    REQUIRE(cuda::upload(d, v.data(), v.size() * sizeof(float)).is_ok());
    Status st = comm.all_reduce_sum(d, 1000, stream.handle());
    REQUIRE_MESSAGE(st.is_ok(), st.message());
    std::vector<float> back(1000);
    REQUIRE(cuda::copy_to_host(back.data(), d, back.size() * sizeof(float), stream).is_ok());
    REQUIRE(stream.synchronize("all-reduce").is_ok());
    CHECK(back == v);
    if (cuda::device_count() >= 2) {
      auto two = cuda::Communicator::init_group({0, 1});
      REQUIRE_MESSAGE(two.is_ok(), two.status().message());
      CHECK((*two)[1]->world_size() == 2);
    } else {
      MESSAGE("one GPU: the multi-GPU group is built but not measured");
    }
  }

}  // TEST_SUITE

}  // namespace r1

#endif  // R1_HAVE_CUDA
