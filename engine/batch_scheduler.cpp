#include "engine/batch_scheduler.h"

#include <algorithm>
#include <vector>

namespace r1 {

namespace {
// Rows a waiting prefill gets in a step even when decoding sequences fill the row budget, so a
// prompt always advances.
constexpr int64_t kMinPrefillRows = 16;
}  // namespace

BatchScheduler::BatchScheduler(const Model& model, ThreadPool& pool, int32_t max_batch,
                               int64_t step_tokens)
    : model_(model),
      pool_(pool),
      max_batch_(std::max<int32_t>(1, max_batch)),
      step_tokens_(std::max<int64_t>(1, step_tokens)),
      thread_([this] { loop(); }) {}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

Status BatchScheduler::forward(const int32_t* tokens, int64_t n, KvCache& kv,
                               ForwardScratch& scratch, float* logits) {
  R1_RETURN_IF_ERROR(model_.check_forward(tokens, n, kv));
  Call call{tokens, n, 0, kv.n_past(), &kv, &scratch, logits, Status::ok(), false};
  std::unique_lock<std::mutex> lock(mutex_);
  if (stop_) return Status::internal("the batch scheduler is shutting down");
  calls_.push_back(&call);
  stats_.active = static_cast<int32_t>(calls_.size());
  work_.notify_one();
  done_.wait(lock, [&] { return call.finished; });
  return call.status;
}

BatchStats BatchScheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BatchScheduler::loop() {
  std::vector<Call*> step;      // calls in this step
  std::vector<int64_t> take;    // tokens each of them runs in this step
  std::vector<int64_t> before;  // each one's n_past before the step
  std::vector<BatchSeq> seqs;
  std::vector<Status> results;  // of sequences rerun alone after a failed pass
  for (;;) {
    step.clear();
    take.clear();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [&] { return stop_ || !calls_.empty(); });
      if (calls_.empty()) return;  // stopping, nothing in flight
      // Decoding sequences (one token left) first, in arrival order; then prefills share what
      // is left of the row budget, oldest first. A waiting prefill keeps one seat, so a full
      // house of decoders cannot starve it.
      bool prefill_waiting = false;
      for (const Call* c : calls_) prefill_waiting = prefill_waiting || c->n - c->done > 1;
      const int32_t decode_seats = max_batch_ - (prefill_waiting && max_batch_ > 1 ? 1 : 0);
      int64_t rows = 0;
      for (Call* c : calls_) {
        if (static_cast<int32_t>(step.size()) >= decode_seats) break;
        if (c->n - c->done != 1) continue;
        step.push_back(c);
        take.push_back(1);
        ++rows;
      }
      bool first_prefill = true;
      for (Call* c : calls_) {
        if (static_cast<int32_t>(step.size()) >= max_batch_) break;
        const int64_t left = c->n - c->done;
        if (left == 1) continue;
        int64_t room = step_tokens_ - rows;
        if (first_prefill) room = std::max(room, kMinPrefillRows);
        if (room <= 0) break;
        first_prefill = false;
        step.push_back(c);
        take.push_back(std::min(left, room));
        rows += take.back();
      }
    }

    // The calls in `step` are only touched by this thread until they are marked finished.
    const size_t n_step = step.size();
    seqs.resize(n_step);
    before.resize(n_step);
    for (size_t i = 0; i < n_step; ++i) {
      Call* c = step[i];
      seqs[i] = BatchSeq{c->tokens + c->done, take[i], c->kv, c->scratch, c->logits};
      before[i] = c->kv->n_past();
    }
    Status st = model_.forward_batch(pool_, seqs.data(), static_cast<int64_t>(n_step));
    results.assign(n_step, Status::ok());
    if (!st) {
      // Rerun alone each sequence the failed pass did not advance, so one bad call fails alone.
      for (size_t i = 0; i < n_step; ++i) {
        if (seqs[i].kv->n_past() == before[i] + take[i]) continue;
        seqs[i].kv->set_n_past(before[i]);
        results[i] = model_.forward(pool_, seqs[i].tokens, seqs[i].n, *seqs[i].kv, *seqs[i].scratch,
                                    seqs[i].logits);
      }
    }

    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.steps;
      stats_.sequence_steps += n_step;
      stats_.max_batch_seen = std::max(stats_.max_batch_seen, static_cast<int32_t>(n_step));
      for (size_t i = 0; i < n_step; ++i) {
        Call* c = step[i];
        if (results[i]) {
          c->done += take[i];
          stats_.tokens += static_cast<uint64_t>(take[i]);
        } else {
          c->status = results[i];
          c->kv->set_n_past(c->start_past);
        }
        if (!results[i] || c->done == c->n) {
          c->finished = true;
          calls_.erase(std::find(calls_.begin(), calls_.end(), c));
        }
      }
      stats_.active = static_cast<int32_t>(calls_.size());
    }
    done_.notify_all();
  }
}

}  // namespace r1
