#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace r1 {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

void Sampler::accept(int32_t token) {
  history_.push_back(token);
  const size_t cap = static_cast<size_t>(std::max(0, params_.penalty_last_n));
  while (history_.size() > cap) history_.pop_front();
}

void Sampler::apply_penalties(float* logits, int64_t n_vocab) const {
  if (history_.empty()) return;
  if (params_.repeat_penalty == 1.0f && params_.presence_penalty == 0.0f &&
      params_.frequency_penalty == 0.0f) {
    return;
  }
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : history_) ++counts[t];
  for (const auto& [id, count] : counts) {
    if (id < 0 || id >= n_vocab) continue;
    float& l = logits[id];
    if (params_.repeat_penalty != 1.0f) {
      l = l > 0.0f ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty +
         (count > 0 ? params_.presence_penalty : 0.0f);
  }
}

int32_t Sampler::sample(float* logits, int64_t n_vocab) {
  apply_penalties(logits, n_vocab);
  return sample_penalized(logits, n_vocab);
}

int32_t Sampler::sample_penalized(float* logits, int64_t n_vocab) {
  if (params_.temperature <= 0.0f) return argmax(logits, n_vocab);

  candidates_.resize(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i) candidates_[i] = {static_cast<int32_t>(i), logits[i]};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + n, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(n);

  // Probabilities at temperature 1 for the top-p / min-p cuts, as the common samplers do.
  std::vector<double> p(n);
  const float max_l = candidates_[0].logit;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i)
    sum += p[i] = std::exp(static_cast<double>(candidates_[i].logit - max_l));
  for (double& v : p) v /= sum;

  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = n;
    for (size_t i = 0; i < n; ++i) {
      cum += p[i];
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (params_.min_p > 0.0f) {
    size_t keep = 1;
    while (keep < n && p[keep] >= params_.min_p * p[0]) ++keep;
    n = keep;
  }

  std::vector<double> w(n);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    total += w[i] =
        std::exp(static_cast<double>(candidates_[i].logit - max_l) / params_.temperature);
  }
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= w[i];
    if (r <= 0.0) return candidates_[i].id;
  }
  return candidates_[n - 1].id;
}

int32_t Sampler::sample_constrained(const float* logits, int64_t n_vocab,
                                    const std::function<bool(int32_t)>& allowed,
                                    const std::function<void(std::vector<uint8_t>&)>& fill_mask) {
  // Most draws are allowed (a model mostly wants what the grammar wants), so try a few draws,
  // removing each rejected token, before paying for a mask over the whole vocabulary.
  constexpr int kMaxRejections = 8;
  constexpr float kRemoved = -std::numeric_limits<float>::infinity();
  scratch_logits_.assign(logits, logits + n_vocab);
  apply_penalties(scratch_logits_.data(), n_vocab);
  penalized_.assign(scratch_logits_.begin(), scratch_logits_.end());
  for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
    const int32_t id = sample_penalized(scratch_logits_.data(), n_vocab);
    if (scratch_logits_[static_cast<size_t>(id)] == kRemoved) break;  // nothing left to draw
    if (allowed(id)) return id;
    scratch_logits_[static_cast<size_t>(id)] = kRemoved;
  }
  mask_.assign(static_cast<size_t>(n_vocab), 0);
  fill_mask(mask_);
  bool any = false;
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (mask_[static_cast<size_t>(i)]) {
      any = true;
    } else {
      penalized_[static_cast<size_t>(i)] = kRemoved;
    }
  }
  if (!any) return -1;
  const int32_t id = sample_penalized(penalized_.data(), n_vocab);
  return mask_[static_cast<size_t>(id)] ? id : -1;
}

}  // namespace r1
