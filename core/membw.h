// Measures the machine's memory read bandwidth, the ceiling for decoding speed (each decoded
// token streams every weight once). Used by `r1 bench` to report a share of what the hardware
// allows.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace r1 {

// Best-of-`repeats` read bandwidth in GB/s (1e9 bytes/s) over a buffer of `bytes` (much larger
// than the last-level cache), read by every thread of the pool on disjoint slices.
double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes = 512ull << 20, int repeats = 5);

}  // namespace r1
