// BatchScheduler: continuous batching of forward passes from many concurrent sequences.
//
// Each caller (one thread per sequence, e.g. one per HTTP request) calls forward() as it would
// call Model::forward, with its own KvCache and ForwardScratch. A scheduler thread gathers the
// calls waiting at that moment into one step and runs them as one Model::forward_batch, so a
// step of B decoding sequences streams the weights once instead of B times. Calls that arrive
// during a step join the next one. Prefill (a call of many tokens) is cut into chunks that
// share each step's row budget with the decoding sequences, so a long prompt delays the others
// by one chunk per step rather than by the whole prompt.
//
// Thread-safety: forward() and stats() may be called from any number of threads at once. The
// scheduler thread is the only user of the ThreadPool while the scheduler lives; the Model, the
// pool and every caller's cache and scratch must outlive the calls that use them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/model.h"

namespace r1 {

struct BatchStats {
  uint64_t steps = 0;           // batched forward passes run
  uint64_t sequence_steps = 0;  // sum over steps of sequences in the step
  uint64_t tokens = 0;          // tokens computed (prefill included)
  int32_t active = 0;           // calls waiting or running now
  int32_t max_batch_seen = 0;   // most sequences in one step
};

class BatchScheduler {
 public:
  // max_batch: sequences per step at most (>= 1). step_tokens: rows per step at most (decode
  // rows first, prefill chunks fill the rest; a waiting prefill always gets a seat and at least
  // a few rows).
  BatchScheduler(const Model& model, ThreadPool& pool, int32_t max_batch = 32,
                 int64_t step_tokens = 128);
  // Waits for the calls in flight to finish, then stops the scheduler thread.
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Same contract as Model::forward (logits of the last token): runs tokens[0..n) at positions
  // kv.n_past() .. n_past+n-1, appends to kv, advances n_past and writes (n_vocab) f32 logits.
  // Blocks the caller until its tokens are done. Fails, leaving kv.n_past() unchanged, on the
  // same input errors as Model::forward (checked before the call joins a step). A failure
  // inside a step (not expected after the checks) fails only the calls that also fail when
  // rerun alone.
  Status forward(const int32_t* tokens, int64_t n, KvCache& kv, ForwardScratch& scratch,
                 float* logits);

  BatchStats stats() const;

 private:
  struct Call {
    const int32_t* tokens;
    int64_t n;           // tokens in the call
    int64_t done = 0;    // tokens already computed
    int64_t start_past;  // kv.n_past() when the call came, restored if it fails
    KvCache* kv;
    ForwardScratch* scratch;
    float* logits;  // (n_vocab) f32
    Status status;
    bool finished = false;
  };

  void loop();

  const Model& model_;
  ThreadPool& pool_;
  const int32_t max_batch_;
  const int64_t step_tokens_;

  mutable std::mutex mutex_;
  std::condition_variable work_;  // the scheduler thread waits here for calls
  std::condition_variable done_;  // callers wait here for their call to finish
  std::deque<Call*> calls_;       // waiting or running, in arrival order
  bool stop_ = false;
  BatchStats stats_;
  std::thread thread_;
};

}  // namespace r1
