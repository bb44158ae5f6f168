#include "core/thread_pool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <vector>

namespace r1 {

TEST_CASE("parallel_for covers every index exactly once") {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 1000, 12345}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (int rep = 0; rep < 20; ++rep) {
        pool.parallel_for(n, 13, [&](int64_t b, int64_t e, int t) {
          CHECK(t >= 0);
          CHECK(t < threads);
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
      }
      for (int64_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 20);
    }
  }
}

TEST_CASE("run_on_all runs once per thread and waits for all") {
  ThreadPool pool(3);
  std::vector<int> seen(3, 0);
  for (int rep = 0; rep < 1000; ++rep) {
    pool.run_on_all([&](int t) { seen[t] += 1; });
  }
  CHECK(seen == std::vector<int>{1000, 1000, 1000});
}

}  // namespace r1
