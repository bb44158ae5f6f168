// PrefixCache: keys and values of token prefixes, shared across requests and sequences.
//
// A prompt's tokens are cut into blocks of block_tokens. A block is keyed by the hash of its
// tokens chained with its parent block's key, so one key stands for the whole prefix up to the
// block's end; lookups also compare the tokens and the parent key, so a hash collision is a
// miss, never a wrong prefix. The blocks form a tree (prompts that share a system prompt share
// its blocks). Each block holds (n_layer, block_tokens, k_dim) f16 keys and (n_layer,
// block_tokens, v_dim) f16 values, copied out of and into KvCaches of the model it was made
// for. Least recently used leaves are evicted first so bytes stays <= max_bytes; a restore
// touches a chain leaf first, so a parent is always more recent than its children.
//
// Thread-safe: restore() and store() may run at once from many threads. Block data is shared
// (copied outside the lock), so evicting a block another thread is restoring is safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/model.h"

namespace r1 {

struct PrefixCacheStats {
  uint64_t lookups = 0;         // restore() calls
  uint64_t lookup_tokens = 0;   // tokens asked for over all lookups
  uint64_t hit_tokens = 0;      // tokens restored over all lookups
  uint64_t blocks = 0;          // blocks held now
  uint64_t bytes = 0;           // bytes of keys and values held now
  uint64_t capacity_bytes = 0;  // max_bytes
  uint64_t evictions = 0;       // blocks evicted
};

class PrefixCache {
 public:
  // max_bytes bounds the keys and values held; block_tokens (>= 1) is the granularity of reuse.
  PrefixCache(const Model& model, uint64_t max_bytes, int32_t block_tokens = 32);
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // Copies into kv the keys/values of the longest cached prefix of ids (whole blocks, and no
  // more than kv.n_ctx() holds), sets kv.n_past to it and returns that many tokens (0 on a
  // miss). Rows of kv past the returned length are left as they were, so a caller that already
  // held a longer prefix may set n_past back. Rows [0, skip_tokens) of kv must already hold the
  // keys and values of ids' first skip_tokens tokens; blocks within them are not copied again.
  int64_t restore(const std::vector<int32_t>& ids, KvCache& kv, int64_t skip_tokens = 0);

  // Stores the whole blocks of ids[0..n) whose keys/values are in kv rows [0, n) (n <=
  // ids.size(), n <= kv.n_past()). Blocks already held are only touched. LRU eviction (leaves
  // first) keeps bytes <= max_bytes; a cache smaller than one block stores nothing.
  void store(const std::vector<int32_t>& ids, int64_t n, const KvCache& kv);

  PrefixCacheStats stats() const;
  int32_t block_tokens() const { return block_tokens_; }
  uint64_t block_bytes() const { return block_bytes_; }

 private:
  struct BlockData {
    std::vector<int32_t> tokens;  // (block_tokens)
    std::vector<uint16_t> k;      // (n_layer, block_tokens, k_dim) f16
    std::vector<uint16_t> v;      // (n_layer, block_tokens, v_dim) f16
  };
  struct Block {
    uint64_t parent = 0;  // parent's key; kRootKey for a first block
    std::shared_ptr<const BlockData> data;
    int32_t children = 0;
    std::list<uint64_t>::iterator lru;  // position in lru_
  };

  // The key of the block of `tokens` (block_tokens of them) after the block keyed `parent`.
  static uint64_t chain_key(uint64_t parent, const int32_t* tokens, int64_t n);
  // The block keyed `key` if it holds exactly `tokens` after `parent`; nullptr otherwise.
  Block* find(uint64_t key, uint64_t parent, const int32_t* tokens);
  void touch(Block& b);
  void evict_to(uint64_t limit);  // drops LRU leaves until bytes_ <= limit

  const int32_t block_tokens_;
  const uint64_t max_bytes_;
  int64_t n_layer_ = 0;
  int64_t k_dim_ = 0;         // f16 per key row
  int64_t v_dim_ = 0;         // f16 per value row
  uint64_t block_bytes_ = 0;  // bytes of keys and values one block holds

  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, Block> blocks_;
  std::list<uint64_t> lru_;  // keys, most recently used first
  uint64_t bytes_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace r1
