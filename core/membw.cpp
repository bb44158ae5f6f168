#include "core/membw.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

namespace r1 {

double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int repeats) {
  const uint64_t n = bytes / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  // Touch every page (and make the values non-trivial) before timing.
  pool.parallel_for(static_cast<int64_t>(n), 1 << 16, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.n_threads()) * 8);
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    const int64_t per = static_cast<int64_t>(n) / pool.n_threads();
    pool.run_on_all([&](int t) {
      const uint64_t* p = buf.data() + t * per;
      // Four independent xor chains keep several loads in flight; the compiler vectorises them.
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int64_t i = 0; i + 4 <= per; i += 4) {
        a0 ^= p[i];
        a1 ^= p[i + 1];
        a2 ^= p[i + 2];
        a3 ^= p[i + 3];
      }
      sinks[static_cast<size_t>(t) * 8] = a0 ^ a1 ^ a2 ^ a3;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(per * pool.n_threads() * sizeof(uint64_t)) / s / 1e9);
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sinks) keep = keep ^ v;
  (void)keep;
  return best;
}

}  // namespace r1
