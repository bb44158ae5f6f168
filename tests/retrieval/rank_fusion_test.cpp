// Reciprocal rank fusion, k = 60, 1-based ranks: the scores are the textbook sums.
#include "retrieval/rank_fusion.h"

#include <doctest/doctest.h>

namespace r1 {
namespace {

TEST_CASE("rank fusion: scores are sums of 1 / (60 + rank) with 1-based ranks") {
  const auto fused = reciprocal_rank_fusion({{10, 20, 30}, {30, 10, 40}});
  REQUIRE(fused.size() == 4);
  // 10: ranks 1 and 2; 30: ranks 3 and 1; 20: rank 2; 40: rank 3.
  CHECK(fused[0].id == 10);
  CHECK(fused[0].score == doctest::Approx(1.0 / 61 + 1.0 / 62).epsilon(1e-12));
  CHECK(fused[1].id == 30);
  CHECK(fused[1].score == doctest::Approx(1.0 / 63 + 1.0 / 61).epsilon(1e-12));
  CHECK(fused[2].id == 20);
  CHECK(fused[2].score == doctest::Approx(1.0 / 62).epsilon(1e-12));
  CHECK(fused[3].id == 40);
  CHECK(fused[3].score == doctest::Approx(1.0 / 63).epsilon(1e-12));
}

TEST_CASE("rank fusion: ties keep first appearance, duplicates count once, k is a parameter") {
  const auto tie = reciprocal_rank_fusion({{1}, {2}});
  REQUIRE(tie.size() == 2);
  CHECK(tie[0].id == 1);
  CHECK(tie[1].id == 2);
  const auto dup = reciprocal_rank_fusion({{5, 5, 6}});
  REQUIRE(dup.size() == 2);
  CHECK(dup[0].score == doctest::Approx(1.0 / 61));
  CHECK(dup[1].score == doctest::Approx(1.0 / 63));  // 6 keeps its position, rank 3
  const auto k0 = reciprocal_rank_fusion({{7, 8}}, 0.0);
  CHECK(k0[0].score == doctest::Approx(1.0));
  CHECK(k0[1].score == doctest::Approx(0.5));
  CHECK(reciprocal_rank_fusion({}).empty());
}

TEST_CASE("rank fusion: weights scale each list and missing weights are 1") {
  // 3 is second in both lists; 1 and 2 lead one list each, 2 in the half-weight one.
  const auto low = reciprocal_rank_fusion({{1, 3}, {2, 3}}, kRrfK, {1.0, 0.5});
  CHECK(low[0].id == 3);  // 1/62 + 0.5/62 beats 1/61
  CHECK(low[0].score == doctest::Approx(1.5 / 62).epsilon(1e-12));
  CHECK(low[1].id == 1);
  CHECK(low[2].id == 2);
  CHECK(low[2].score == doctest::Approx(0.5 / 61).epsilon(1e-12));
  const auto high = reciprocal_rank_fusion({{1}, {2}}, kRrfK, {1.0, 2.0});
  CHECK(high[0].id == 2);
  const auto partial = reciprocal_rank_fusion({{1}, {2}}, kRrfK, {0.5});
  CHECK(partial[0].id == 2);  // list 1 keeps weight 1
}

TEST_CASE("rank fusion: k sets how much agreement between lists outweighs rank") {
  // 3 is third and fourth; 1 leads the first list and is absent from the second.
  const std::vector<std::vector<int64_t>> lists = {{1, 2, 3}, {4, 5, 6, 3}};
  const auto textbook = reciprocal_rank_fusion(lists, kRrfK);
  CHECK(textbook[0].id == 3);  // 1/63 + 1/64 beats 1/61: any agreement wins
  const auto small_k = reciprocal_rank_fusion(lists, 1.0);
  CHECK(small_k[0].id == 1);  // 1/2 beats 1/4 + 1/5: a first hit outweighs late agreement
  CHECK(small_k[0].score == doctest::Approx(0.5));
  CHECK(small_k[2].id == 3);  // after 4 (1/2), before 2 (1/3)
  CHECK(small_k[2].score == doctest::Approx(1.0 / 4 + 1.0 / 5));
}

}  // namespace
}  // namespace r1
