#include "retrieval/rank_fusion.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace r1 {

std::vector<FusedItem> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists,
                                              double k, const std::vector<double>& weights) {
  std::vector<FusedItem> items;
  std::unordered_map<int64_t, size_t> index;  // id -> position in items (first appearance)
  for (size_t l = 0; l < lists.size(); ++l) {
    const std::vector<int64_t>& list = lists[l];
    const double w = l < weights.size() ? weights[l] : 1.0;
    std::unordered_set<int64_t> seen;
    for (size_t r = 0; r < list.size(); ++r) {
      const int64_t id = list[r];
      if (!seen.insert(id).second) continue;
      auto [it, fresh] = index.emplace(id, items.size());
      if (fresh) items.push_back({id, 0.0});
      items[it->second].score += w / (k + static_cast<double>(r + 1));
    }
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const FusedItem& a, const FusedItem& b) { return a.score > b.score; });
  return items;
}

}  // namespace r1
