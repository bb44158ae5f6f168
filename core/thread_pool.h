// ThreadPool: a fixed set of worker threads that run data-parallel loops.
//
// Workers are created once and live as long as the pool (no thread is spawned per operation).
// parallel_for() splits [0, n) across the workers and the calling thread and returns when every
// index ran. Between loops the workers spin briefly (an engine issues hundreds of loops per
// token) and then sleep on a condition variable. One caller at a time: parallel_for() is not
// re-entrant and must not be called concurrently from several threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace r1 {

class ThreadPool {
 public:
  // n_threads counts the caller: 1 means no workers. 0 picks the number of cores.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) over contiguous chunks covering [0, n). Chunks are
  // handed out dynamically in units of `grain` indices so a slow thread does not hold the rest.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // Calls fn(thread_index) once on every thread (static split decided by the caller).
  void run_on_all(const std::function<void(int thread)>& fn);

 private:
  void worker_main(int thread);
  void run_task(int thread);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;

  // The current job, published by bumping generation_.
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers that have not finished the current job
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace r1
