#include "server/metrics.h"

#include <cstdio>

namespace r1::server {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void line(std::string* out, const std::string& name, const std::string& labels, double value) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " " + num(value) + "\n";
}

void help(std::string* out, const std::string& name, const char* type, const char* text) {
  *out += "# HELP " + name + " " + text + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i]++;
  sum_ += value;
  count_++;
}

void Histogram::render(const std::string& name, std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    line(out, name + "_bucket", "le=\"" + num(bounds_[i]) + "\"", static_cast<double>(cumulative));
  }
  cumulative += counts_.back();
  line(out, name + "_bucket", "le=\"+Inf\"", static_cast<double>(cumulative));
  line(out, name + "_sum", "", sum_);
  line(out, name + "_count", "", static_cast<double>(count_));
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      decode_rate_({1, 5, 10, 25, 50, 100, 200, 400, 800}) {}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{endpoint, status}]++;
}

void Metrics::tokens(int64_t prompt, int64_t cached, int64_t completion, int64_t reasoning) {
  prompt_tokens_.fetch_add(static_cast<uint64_t>(prompt));
  cached_tokens_.fetch_add(static_cast<uint64_t>(cached));
  completion_tokens_.fetch_add(static_cast<uint64_t>(completion));
  reasoning_tokens_.fetch_add(static_cast<uint64_t>(reasoning));
}

std::string Metrics::render(const MetricsGauges& g) const {
  std::string out;
  help(&out, "r1_requests_total", "counter", "HTTP requests by endpoint and status code.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, count] : requests_) {
      line(&out, "r1_requests_total",
           "endpoint=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"",
           static_cast<double>(count));
    }
  }
  help(&out, "r1_prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
  line(&out, "r1_prompt_tokens_total", "", static_cast<double>(prompt_tokens_.load()));
  help(&out, "r1_prompt_cached_tokens_total", "counter",
       "Prompt tokens reused from the KV or prefix cache instead of computed.");
  line(&out, "r1_prompt_cached_tokens_total", "", static_cast<double>(cached_tokens_.load()));
  help(&out, "r1_completion_tokens_total", "counter", "Generated tokens, thinking included.");
  line(&out, "r1_completion_tokens_total", "", static_cast<double>(completion_tokens_.load()));
  help(&out, "r1_reasoning_tokens_total", "counter", "Generated tokens inside thinking.");
  line(&out, "r1_reasoning_tokens_total", "", static_cast<double>(reasoning_tokens_.load()));
  help(&out, "r1_rejected_total", "counter",
       "Requests refused with 503 because the queue was full.");
  line(&out, "r1_rejected_total", "", static_cast<double>(rejected_.load()));
  help(&out, "r1_cancelled_total", "counter",
       "Generations stopped because the client went away or the request timed out.");
  line(&out, "r1_cancelled_total", "", static_cast<double>(cancelled_.load()));
  help(&out, "r1_time_to_first_token_seconds", "histogram",
       "From the request's arrival to its first generated token.");
  ttft_.render("r1_time_to_first_token_seconds", &out);
  help(&out, "r1_decode_tokens_per_second", "histogram", "Decode rate of each finished request.");
  decode_rate_.render("r1_decode_tokens_per_second", &out);
  help(&out, "r1_queue_depth", "gauge", "Requests waiting for a free sequence slot.");
  line(&out, "r1_queue_depth", "", static_cast<double>(g.queue_depth));
  help(&out, "r1_slots_busy", "gauge", "Sequence slots generating now.");
  line(&out, "r1_slots_busy", "", static_cast<double>(g.slots_busy));
  help(&out, "r1_slots_total", "gauge", "Sequence slots (concurrent generations at most).");
  line(&out, "r1_slots_total", "", static_cast<double>(g.slots_total));
  help(&out, "r1_kv_cache_used_bytes", "gauge", "KV cache bytes holding tokens, all slots.");
  line(&out, "r1_kv_cache_used_bytes", "", static_cast<double>(g.kv_cache_used_bytes));
  help(&out, "r1_kv_cache_bytes", "gauge", "KV cache bytes allocated, all slots.");
  line(&out, "r1_kv_cache_bytes", "", static_cast<double>(g.kv_cache_total_bytes));
  help(&out, "r1_prefix_cache_lookup_tokens_total", "counter",
       "Prompt tokens looked up in the shared prefix cache.");
  line(&out, "r1_prefix_cache_lookup_tokens_total", "",
       static_cast<double>(g.prefix_cache_lookup_tokens));
  help(&out, "r1_prefix_cache_hit_tokens_total", "counter",
       "Prompt tokens restored from the shared prefix cache.");
  line(&out, "r1_prefix_cache_hit_tokens_total", "",
       static_cast<double>(g.prefix_cache_hit_tokens));
  help(&out, "r1_prefix_cache_hit_ratio", "gauge", "hit tokens / looked-up tokens.");
  line(&out, "r1_prefix_cache_hit_ratio", "",
       g.prefix_cache_lookup_tokens
           ? static_cast<double>(g.prefix_cache_hit_tokens) / g.prefix_cache_lookup_tokens
           : 0.0);
  help(&out, "r1_prefix_cache_bytes", "gauge", "Bytes of keys and values in the prefix cache.");
  line(&out, "r1_prefix_cache_bytes", "", static_cast<double>(g.prefix_cache_bytes));
  help(&out, "r1_batch_steps_total", "counter", "Batched forward passes.");
  line(&out, "r1_batch_steps_total", "", static_cast<double>(g.batch_steps));
  help(&out, "r1_batch_sequence_steps_total", "counter",
       "Sequences advanced, summed over batched passes (divide by steps for the mean batch).");
  line(&out, "r1_batch_sequence_steps_total", "", static_cast<double>(g.batch_sequence_steps));
  return out;
}

}  // namespace r1::server
