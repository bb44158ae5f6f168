// Reciprocal rank fusion (Cormack et al. 2009): each ranked list gives an item at 1-based rank r
// the score 1 / (k + r); an item's fused score is the sum over the lists it appears in. Items
// with equal fused scores keep the order of their first appearance (list 0 first). Pure
// function: thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace r1 {

struct FusedItem {
  int64_t id = 0;
  double score = 0;  // sum of weight / (k + rank) over the lists holding `id`
};

constexpr double kRrfK = 60.0;

// Each list: ids best first (duplicates within a list count at their best rank only).
// weights[l] scales list l's contributions (weighted RRF); missing weights are 1.
std::vector<FusedItem> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists,
                                              double k = kRrfK,
                                              const std::vector<double>& weights = {});

}  // namespace r1
