#include "engine/prefix_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace r1 {

namespace {

constexpr uint64_t kRootKey = 0x9e3779b97f4a7c15ull;  // the parent of every first block

// splitmix64's finaliser: a cheap 64-bit mix with full avalanche.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

PrefixCache::PrefixCache(const Model& model, uint64_t max_bytes, int32_t block_tokens)
    : block_tokens_(std::max<int32_t>(1, block_tokens)), max_bytes_(max_bytes) {
  // A one-token cache tells this model's row widths (K and V rows may differ).
  std::unique_ptr<KvCache> probe = model.make_kv_cache(1);
  n_layer_ = probe->n_layer();
  k_dim_ = probe->kv_dim();
  v_dim_ = probe->v_dim();
  block_bytes_ = static_cast<uint64_t>(n_layer_) * static_cast<uint64_t>(block_tokens_) *
                 static_cast<uint64_t>(k_dim_ + v_dim_) * sizeof(uint16_t);
  stats_.capacity_bytes = max_bytes;
}

uint64_t PrefixCache::chain_key(uint64_t parent, const int32_t* tokens, int64_t n) {
  uint64_t h = mix(parent);
  for (int64_t i = 0; i < n; ++i) h = mix(h ^ (static_cast<uint64_t>(tokens[i]) + 0x100000000ull));
  return h;
}

PrefixCache::Block* PrefixCache::find(uint64_t key, uint64_t parent, const int32_t* tokens) {
  auto it = blocks_.find(key);
  if (it == blocks_.end()) return nullptr;
  Block& b = it->second;
  if (b.parent != parent) return nullptr;
  if (!std::equal(b.data->tokens.begin(), b.data->tokens.end(), tokens)) return nullptr;
  return &b;
}

void PrefixCache::touch(Block& b) {
  lru_.splice(lru_.begin(), lru_, b.lru);
}

void PrefixCache::evict_to(uint64_t limit) {
  while (bytes_ > limit && !lru_.empty()) {
    // Parents are always more recent than their children, so the oldest block is a leaf; the
    // scan is a safeguard.
    auto victim = std::prev(lru_.end());
    while (blocks_.at(*victim).children > 0 && victim != lru_.begin()) --victim;
    auto it = blocks_.find(*victim);
    assert(it->second.children == 0);
    if (it->second.parent != kRootKey) {
      auto parent = blocks_.find(it->second.parent);
      if (parent != blocks_.end()) --parent->second.children;
    }
    lru_.erase(victim);
    blocks_.erase(it);
    bytes_ -= block_bytes_;
    ++stats_.evictions;
  }
}

int64_t PrefixCache::restore(const std::vector<int32_t>& ids, KvCache& kv, int64_t skip_tokens) {
  const int64_t bt = block_tokens_;
  if (kv.n_layer() != n_layer_ || kv.kv_dim() != k_dim_ || kv.v_dim() != v_dim_) {
    assert(false && "PrefixCache::restore: a KvCache of another model");
    return 0;
  }
  const int64_t max_blocks = std::min<int64_t>(static_cast<int64_t>(ids.size()), kv.n_ctx()) / bt;
  std::vector<std::shared_ptr<const BlockData>> chain;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.lookups;
    stats_.lookup_tokens += ids.size();
    std::vector<Block*> found;
    uint64_t parent = kRootKey;
    for (int64_t b = 0; b < max_blocks; ++b) {
      const int32_t* tokens = ids.data() + b * bt;
      const uint64_t key = chain_key(parent, tokens, bt);
      Block* blk = find(key, parent, tokens);
      if (blk == nullptr) break;
      found.push_back(blk);
      chain.push_back(blk->data);
      parent = key;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) touch(**it);
    stats_.hit_tokens += chain.size() * static_cast<uint64_t>(bt);
  }

  // Copy outside the lock: the shared data stays alive even if the blocks are evicted now.
  for (int64_t b = 0; b < static_cast<int64_t>(chain.size()); ++b) {
    if ((b + 1) * bt <= skip_tokens) continue;
    const BlockData& d = *chain[b];
    for (int64_t l = 0; l < n_layer_; ++l) {
      std::memcpy(kv.k(l) + b * bt * k_dim_, d.k.data() + l * bt * k_dim_,
                  sizeof(uint16_t) * bt * k_dim_);
      if (v_dim_ > 0) {
        std::memcpy(kv.v(l) + b * bt * v_dim_, d.v.data() + l * bt * v_dim_,
                    sizeof(uint16_t) * bt * v_dim_);
      }
    }
  }
  const int64_t restored = static_cast<int64_t>(chain.size()) * bt;
  kv.set_n_past(restored);
  return restored;
}

void PrefixCache::store(const std::vector<int32_t>& ids, int64_t n, const KvCache& kv) {
  const int64_t bt = block_tokens_;
  if (kv.n_layer() != n_layer_ || kv.kv_dim() != k_dim_ || kv.v_dim() != v_dim_) {
    assert(false && "PrefixCache::store: a KvCache of another model");
    return;
  }
  n = std::min({n, static_cast<int64_t>(ids.size()), kv.n_past()});
  const int64_t n_blocks = n / bt;
  const int64_t capacity_blocks = static_cast<int64_t>(max_bytes_ / block_bytes_);
  if (n_blocks <= 0 || capacity_blocks == 0) return;

  // Which blocks are new?
  int64_t first_missing = 0;
  uint64_t parent = kRootKey;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Block*> found;
    for (; first_missing < n_blocks; ++first_missing) {
      const int32_t* tokens = ids.data() + first_missing * bt;
      const uint64_t key = chain_key(parent, tokens, bt);
      Block* blk = find(key, parent, tokens);
      if (blk == nullptr) break;
      found.push_back(blk);
      parent = key;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) touch(**it);
  }
  // A chain longer than the whole cache would only evict its own tail again.
  const int64_t last = std::min(n_blocks, capacity_blocks);
  if (first_missing >= last) return;

  // Copy the new blocks outside the lock.
  std::vector<std::shared_ptr<BlockData>> fresh;
  for (int64_t b = first_missing; b < last; ++b) {
    auto d = std::make_shared<BlockData>();
    d->tokens.assign(ids.begin() + b * bt, ids.begin() + (b + 1) * bt);
    d->k.resize(static_cast<size_t>(n_layer_ * bt * k_dim_));
    d->v.resize(static_cast<size_t>(n_layer_ * bt * v_dim_));
    for (int64_t l = 0; l < n_layer_; ++l) {
      std::memcpy(d->k.data() + l * bt * k_dim_, kv.k(l) + b * bt * k_dim_,
                  sizeof(uint16_t) * bt * k_dim_);
      if (v_dim_ > 0) {
        std::memcpy(d->v.data() + l * bt * v_dim_, kv.v(l) + b * bt * v_dim_,
                    sizeof(uint16_t) * bt * v_dim_);
      }
    }
    fresh.push_back(std::move(d));
  }

  std::lock_guard<std::mutex> lock(mutex_);
  // The parent may have been evicted meanwhile: then the new blocks have nowhere to hang.
  if (parent != kRootKey && blocks_.find(parent) == blocks_.end()) return;
  std::vector<uint64_t> chain_keys;  // the blocks of this chain we hold, root first
  {
    uint64_t p = kRootKey;
    for (int64_t b = 0; b < first_missing; ++b) {
      p = chain_key(p, ids.data() + b * bt, bt);
      chain_keys.push_back(p);
    }
  }
  for (const std::shared_ptr<BlockData>& d : fresh) {
    const uint64_t key = chain_key(parent, d->tokens.data(), bt);
    auto it = blocks_.find(key);
    if (it != blocks_.end()) {
      // Stored by another thread meanwhile; a different block under the same key (a hash
      // collision) ends the chain here.
      if (find(key, parent, d->tokens.data()) == nullptr) break;
    } else {
      Block blk;
      blk.parent = parent;
      blk.data = d;
      lru_.push_front(key);
      blk.lru = lru_.begin();
      blocks_.emplace(key, std::move(blk));
      if (parent != kRootKey) ++blocks_.at(parent).children;
      bytes_ += block_bytes_;
    }
    chain_keys.push_back(key);
    parent = key;
  }
  for (auto it = chain_keys.rbegin(); it != chain_keys.rend(); ++it) {
    auto b = blocks_.find(*it);
    if (b != blocks_.end()) touch(b->second);
  }
  evict_to(max_bytes_);
}

PrefixCacheStats PrefixCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PrefixCacheStats s = stats_;
  s.blocks = blocks_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace r1
