// Counters and histograms of `r1 serve`, rendered in the Prometheus text format at /metrics.
// Thread-safe; recording is a few atomic adds or one short lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace r1::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket, _sum and _count lines of `name`.
  void render(const std::string& name, std::string* out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bound, plus +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Values only the server knows at scrape time (queue, slots, caches).
struct MetricsGauges {
  int64_t queue_depth = 0;
  int64_t slots_busy = 0;
  int64_t slots_total = 0;
  int64_t kv_cache_used_bytes = 0;
  int64_t kv_cache_total_bytes = 0;
  uint64_t prefix_cache_lookup_tokens = 0;
  uint64_t prefix_cache_hit_tokens = 0;
  uint64_t prefix_cache_bytes = 0;
  uint64_t batch_steps = 0;
  uint64_t batch_sequence_steps = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t cached, int64_t completion, int64_t reasoning);
  void time_to_first_token(double seconds) { ttft_.observe(seconds); }
  void decode_rate(double tokens_per_second) { decode_rate_.observe(tokens_per_second); }
  void rejected() { rejected_.fetch_add(1); }
  void cancelled() { cancelled_.fetch_add(1); }
  std::string render(const MetricsGauges& gauges) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<uint64_t> prompt_tokens_{0}, cached_tokens_{0}, completion_tokens_{0},
      reasoning_tokens_{0}, rejected_{0}, cancelled_{0};
  Histogram ttft_;
  Histogram decode_rate_;
};

}  // namespace r1::server
