// How a llama-family layer splits over the GPUs of one machine (tensor parallelism), as plain
// arithmetic with no CUDA in it.
//
// Megatron-style: q/k/v and gate/up are column-parallel (each rank computes a slice of the output
// features: whole attention heads, a range of feed-forward rows), attention runs on the rank's
// own heads, and the output and down projections are row-parallel (each rank multiplies its slice
// of the input features), so every block ends in one all-reduce of the (tokens, n_embd)
// partial sums. Norms, embeddings and the output matrix are replicated.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace r1::cuda {

struct Shard {
  int64_t begin = 0;  // first unit owned by this rank
  int64_t count = 0;  // units owned
};

// Splits n units over `world` ranks in multiples of `granule` units, as evenly as that allows
// (earlier ranks take the larger pieces). kInvalidArgument when n is not a multiple of granule,
// or there are fewer granules than ranks.
inline Result<Shard> shard_range(int64_t n, int64_t granule, int world, int rank) {
  if (world < 1 || rank < 0 || rank >= world || granule < 1) {
    return Status::invalid("tensor parallel: rank " + std::to_string(rank) + " of world size " +
                           std::to_string(world) + " is not valid");
  }
  if (n % granule != 0 || n / granule < world) {
    return Status::invalid("tensor parallel: " + std::to_string(n) + " units in pieces of " +
                           std::to_string(granule) + " do not split over " + std::to_string(world) +
                           " ranks");
  }
  const int64_t pieces = n / granule;
  const int64_t base = pieces / world;
  const int64_t extra = pieces % world;
  const int64_t first = rank * base + (rank < extra ? rank : extra);
  const int64_t mine = base + (rank < extra ? 1 : 0);
  return Shard{first * granule, mine * granule};
}

// The slices of one layer a rank owns.
struct TensorParallelPlan {
  int world = 1;
  int rank = 0;
  Shard heads;     // query heads
  Shard kv_heads;  // kv heads (the query heads' group stays on one rank)
  Shard ff;        // feed-forward rows of gate/up = columns of down
};

// kInvalidArgument naming the dimension that does not split: the kv heads must divide evenly
// (so every query head finds its kv head on its rank), and n_ff in pieces of ff_granule (the
// block size of ffn_down's type, so its column slices are whole blocks).
inline Result<TensorParallelPlan> plan_tensor_parallel(int64_t n_head, int64_t n_head_kv,
                                                       int64_t n_ff, int64_t ff_granule, int world,
                                                       int rank) {
  TensorParallelPlan p;
  p.world = world;
  p.rank = rank;
  if (world < 1 || n_head_kv % world != 0) {
    return Status::invalid("tensor parallel: " + std::to_string(n_head_kv) +
                           " kv heads do not split evenly over " + std::to_string(world) + " GPUs");
  }
  Result<Shard> kv = shard_range(n_head_kv, 1, world, rank);
  if (!kv) return kv.status();
  p.kv_heads = *kv;
  const int64_t group = n_head / n_head_kv;
  p.heads = Shard{p.kv_heads.begin * group, p.kv_heads.count * group};
  Result<Shard> ff = shard_range(n_ff, ff_granule, world, rank);
  if (!ff) return ff.status();
  p.ff = *ff;
  return p;
}

}  // namespace r1::cuda
