#include "engine/sampler.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

namespace r1 {

TEST_CASE("greedy picks the largest logit, lowest id on ties") {
  SamplerParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f};
  CHECK(s.sample(l.data(), 4) == 1);
}

TEST_CASE("the same seed gives the same draws, another seed different ones") {
  std::vector<float> base(100);
  for (int i = 0; i < 100; ++i) base[i] = std::sin(i * 0.37f) * 3.0f;
  auto draw = [&](uint64_t seed) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = base;
      out.push_back(s.sample(l.data(), 100));
    }
    return out;
  };
  CHECK(draw(7) == draw(7));
  CHECK(draw(7) != draw(8));
}

TEST_CASE("top-k keeps only the k largest") {
  SamplerParams p;
  p.temperature = 5.0f;  // flat: every kept token is likely
  p.top_k = 3;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler s(p);
  std::vector<float> base = {5, 4, 3, 2, 1, 0};
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l = base;
    CHECK(s.sample(l.data(), 6) < 3);
  }
}

TEST_CASE("top-p keeps the smallest set reaching p and min-p drops tokens below min_p * p_max") {
  // Probabilities about 0.665, 0.245, 0.090 at temperature 1.
  std::vector<float> base = {2.0f, 1.0f, 0.0f};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.8f;
  p.min_p = 0.0f;
  Sampler s(p);
  std::map<int, int> seen;
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = base;
    ++seen[s.sample(l.data(), 3)];
  }
  CHECK(seen.count(2) == 0);
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);

  p.top_p = 1.0f;
  p.min_p = 0.3f;  // 0.245 / 0.665 = 0.37 stays, 0.090 / 0.665 = 0.14 goes
  Sampler m(p);
  seen.clear();
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = base;
    ++seen[m.sample(l.data(), 3)];
  }
  CHECK(seen.count(2) == 0);
  CHECK(seen[1] > 0);
}

TEST_CASE("repetition, presence and frequency penalties lower seen tokens") {
  SamplerParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.accept(0);
  std::vector<float> l = {3.0f, 2.0f};  // 3 / 2 = 1.5 < 2
  CHECK(s.sample(l.data(), 2) == 1);

  SamplerParams q;
  q.temperature = 0.0f;
  q.frequency_penalty = 0.6f;
  Sampler f(q);
  f.accept(0);
  f.accept(0);  // 3 - 2 * 0.6 = 1.8 < 2
  std::vector<float> l2 = {3.0f, 2.0f};
  CHECK(f.sample(l2.data(), 2) == 1);

  SamplerParams r;
  r.temperature = 0.0f;
  r.presence_penalty = 0.5f;
  Sampler pr(r);
  pr.accept(0);
  pr.accept(0);  // 3 - 0.5 = 2.5 > 2: presence counts once
  std::vector<float> l3 = {3.0f, 2.0f};
  CHECK(pr.sample(l3.data(), 2) == 0);
}

TEST_CASE("constrained sampling: greedy gives the best allowed token, whatever its rank") {
  SamplerParams p;
  p.temperature = 0.0f;
  // Logits fall with the id; only ids divisible by `step` are allowed.
  for (int step : {1, 3, 9, 50, 199}) {
    CAPTURE(step);
    Sampler s(p);
    std::vector<float> l(200);
    for (int i = 0; i < 200; ++i) l[i] = 10.0f - 0.01f * static_cast<float>(i);
    const std::vector<float> before = l;
    int mask_calls = 0;
    const int32_t id = s.sample_constrained(
        l.data(), 200, [&](int32_t t) { return t > 0 && t % step == 0; },
        [&](std::vector<uint8_t>& m) {
          ++mask_calls;
          for (int i = 0; i < 200; ++i) m[i] = i > 0 && i % step == 0;
        });
    CHECK(id == step);
    CHECK(l == before);                       // the caller's logits are left alone
    CHECK(mask_calls == (step > 8 ? 1 : 0));  // a mask only after several rejections
  }
}

TEST_CASE("constrained sampling: draws only allowed tokens, in proportion, and -1 when none is") {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 7;
  Sampler s(p);
  // Four equally likely tokens; 0 and 2 are allowed: each should get about half the draws.
  std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  auto allowed = [](int32_t t) { return t == 0 || t == 2; };
  auto mask = [](std::vector<uint8_t>& m) { m = {1, 0, 1, 0}; };
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[s.sample_constrained(l.data(), 4, allowed, mask)];
  CHECK(counts.size() == 2);
  CHECK(counts[0] + counts[2] == 2000);
  CHECK(std::abs(counts[0] - 1000) < 150);

  auto none = [](int32_t) { return false; };
  auto empty = [](std::vector<uint8_t>& m) { std::fill(m.begin(), m.end(), 0); };
  CHECK(s.sample_constrained(l.data(), 4, none, empty) == -1);
}

}  // namespace r1
