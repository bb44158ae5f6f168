// Serving machinery on real model files: the batched forward pass (Model::forward_batch), the
// continuous-batching BatchScheduler, the shared PrefixCache, and the Generator and
// NativeEngine wired to them through ServingContext.
//
// A batched pass runs the same arithmetic as a lone one except in the matmuls: a decoding
// sequence alone takes the one-row kernels (vec_dot4), in a batch its row goes through the
// register-tile kernels with the other rows. Where those two kernels sum in the same order (the
// scalar and AVX2 kernels) batched and lone results are bit-identical and the tests require it.
// The AVX-512 tile kernels sum in another order; the last-bit differences that leaves grow
// through 30 layers of 8-bit activations (as in llama.cpp, whose own batched and token-by-token
// evaluations of this Q4_1 file differ by 0.27 in the logits; tests/data/golden), so there the
// logits are held to a stated tolerance and greedy streams may part only at a near-tie.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "engine/batch_scheduler.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/native_engine.h"
#include "engine/prefix_cache.h"
#include "kernels/cpu/quant.h"
#include "tests/test_paths.h"

namespace r1 {
namespace {

const Model& model_for(const std::string& file) {
  static std::map<std::string, std::unique_ptr<Model>> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    Result<std::unique_ptr<Model>> m = load_model(test::model_path(file));
    REQUIRE_MESSAGE(m.is_ok(), m.status().message() << " (run scripts/setup.sh)");
    it = cache.emplace(file, std::move(m.value())).first;
  }
  return *it->second;
}
const Model& smollm2() {
  return model_for("SmolLM2-135M-Instruct.Q4_1.gguf");
}
const Model& tiny_qwen() {
  return model_for("tiny-r1-qwen.f16.gguf");
}

// Whether this CPU's tile kernel gives bit for bit what the one-row kernel gives, on the first
// rows of the model's own gate matrix and a few activation rows.
bool tile_matches_one_row(const Model& m) {
  const GgufTensorInfo* w = m.gguf().find_tensor("blk.0.ffn_gate.weight");
  REQUIRE(w != nullptr);
  const CpuTypeKernels* k = cpu_type_kernels(w->type);
  REQUIRE(k != nullptr);
  const int64_t cols = w->ne[0];
  const int64_t w_row = tensor_row_bytes(w->type, cols);
  const int64_t a_row = tensor_row_bytes(k->dot_type, cols);
  std::vector<uint8_t> act(static_cast<size_t>(a_row * k->tile_tokens));
  std::vector<float> x(static_cast<size_t>(cols));
  for (int t = 0; t < k->tile_tokens; ++t) {
    for (int64_t c = 0; c < cols; ++c) x[c] = std::sin(0.37f * c + 1.3f * t) * (1 + t);
    k->quantize_act(x.data(), act.data() + t * a_row, cols);
  }
  std::vector<float> tile(static_cast<size_t>(k->tile_rows * k->tile_tokens));
  k->vec_dot_tile(cols, w->data, static_cast<size_t>(w_row), act.data(), static_cast<size_t>(a_row),
                  tile.data(), static_cast<size_t>(k->tile_rows));
  for (int t = 0; t < k->tile_tokens; ++t) {
    for (int r = 0; r + 4 <= k->tile_rows; r += 4) {
      float one[4];
      k->vec_dot4(cols, w->data + r * w_row, static_cast<size_t>(w_row), act.data() + t * a_row,
                  one);
      for (int i = 0; i < 4; ++i) {
        if (one[i] != tile[t * k->tile_rows + r + i]) return false;
      }
    }
  }
  return true;
}

std::vector<int32_t> encode(const Model& m, const std::string& text) {
  return m.tokenizer().encode(text, m.tokenizer().add_bos(), /*parse_special=*/true);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Largest logit gap between ranks 1 and 2: an argmax comparison is only meaningful above noise.
float top_margin(const std::vector<float>& v) {
  std::vector<float> s = v;
  std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
  return s[0] - s[1];
}

// Four sequences at different positions: three decode one token, one runs a chunk of several.
// Batched, they must give each sequence the logits and cache rows it gets alone: bit for bit
// where the kernels agree, within `tolerance` where they do not.
void check_batch_matches_alone(const Model& m, double tolerance) {
  const bool exact = tile_matches_one_row(m);
  MESSAGE(m.config().arch << " on " << std::string(cpu_isa_name()) << ": tile and one-row kernels "
                          << std::string(exact ? "agree bit for bit" : "sum in different orders"));
  if (exact) tolerance = 0.0;
  ThreadPool pool(2);
  const int64_t n_vocab = m.config().n_vocab;
  const std::vector<std::string> prompts = {
      "The quick brown fox jumps over the lazy dog.",
      "Paris is the capital of",
      "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
      "One, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve",
  };
  struct Seq {
    std::vector<int32_t> ids;
    std::unique_ptr<KvCache> kv;
    std::unique_ptr<ForwardScratch> scratch;
    std::vector<float> logits;
  };
  std::vector<Seq> alone(4), batched(4);
  std::vector<std::vector<int32_t>> next(4);
  for (size_t i = 0; i < 4; ++i) {
    const std::vector<int32_t> ids = encode(m, prompts[i]);
    for (Seq* s : {&alone[i], &batched[i]}) {
      s->kv = m.make_kv_cache(128);
      s->scratch = m.make_scratch();
      s->logits.assign(static_cast<size_t>(n_vocab), 0.0f);
      REQUIRE(m.forward(pool, ids.data(), static_cast<int64_t>(ids.size()), *s->kv, *s->scratch,
                        s->logits.data()));
    }
    next[i] = {argmax(alone[i].logits)};
  }
  next[3] = encode(m, " thirteen, fourteen");  // a prefill chunk among the decodes
  if (m.tokenizer().add_bos()) next[3].erase(next[3].begin());
  REQUIRE(next[3].size() >= 2);

  std::vector<BatchSeq> seqs;
  for (size_t i = 0; i < 4; ++i) {
    REQUIRE(m.forward(pool, next[i].data(), static_cast<int64_t>(next[i].size()), *alone[i].kv,
                      *alone[i].scratch, alone[i].logits.data()));
    seqs.push_back({next[i].data(), static_cast<int64_t>(next[i].size()), batched[i].kv.get(),
                    batched[i].scratch.get(), batched[i].logits.data()});
  }
  REQUIRE(m.forward_batch(pool, seqs.data(), 4));

  const int64_t kv_dim = alone[0].kv->kv_dim();
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(batched[i].kv->n_past() == alone[i].kv->n_past());
    const double diff = max_abs_diff(alone[i].logits, batched[i].logits);
    MESSAGE(m.config().arch << " sequence " << i << ": max logit diff batched vs alone " << diff);
    CHECK(diff <= tolerance);
    if (top_margin(alone[i].logits) > 2 * tolerance) {
      CHECK(argmax(alone[i].logits) == argmax(batched[i].logits));
    }
    // The new cache rows (f16) agree too; the prompt rows are untouched and identical.
    const int64_t rows = alone[i].kv->n_past();
    int64_t differing = 0;
    for (int64_t l = 0; l < m.config().n_layer; ++l) {
      const uint16_t* a = alone[i].kv->k(l);
      const uint16_t* b = batched[i].kv->k(l);
      for (int64_t j = 0; j < (rows - static_cast<int64_t>(next[i].size())) * kv_dim; ++j) {
        REQUIRE(a[j] == b[j]);
      }
      for (int64_t j = (rows - static_cast<int64_t>(next[i].size())) * kv_dim; j < rows * kv_dim;
           ++j) {
        differing += a[j] != b[j] ? 1 : 0;
      }
    }
    MESSAGE("  new key entries not bit-identical: " << differing);
    if (exact) CHECK(differing == 0);
  }
}

TEST_SUITE("engine") {
  TEST_CASE("forward_batch of four sequences at different positions matches each alone") {
    // Where the kernels differ: SmolLM2 Q4_1 (30 layers, 8-bit activations) moves by up to
    // about 0.9 (4x llama.cpp's own 0.27 as the bound); tiny-r1-qwen (f16, 2 layers) by 1e-4.
    SUBCASE("llama (SmolLM2 Q4_1)") {
      check_batch_matches_alone(smollm2(), 1.1);
    }
    SUBCASE("qwen2 (tiny-r1-qwen f16)") {
      check_batch_matches_alone(tiny_qwen(), 1e-2);
    }
  }

  TEST_CASE("forward_batch rejects a bad sequence without touching any cache") {
    const Model& m = smollm2();
    ThreadPool pool(2);
    auto kv_a = m.make_kv_cache(16);
    auto kv_b = m.make_kv_cache(16);
    auto sa = m.make_scratch();
    auto sb = m.make_scratch();
    std::vector<float> la(static_cast<size_t>(m.config().n_vocab));
    std::vector<float> lb(la.size());
    const int32_t good[2] = {1, 2};
    const int32_t bad[1] = {static_cast<int32_t>(m.config().n_vocab) + 5};
    BatchSeq seqs[2] = {{good, 2, kv_a.get(), sa.get(), la.data()},
                        {bad, 1, kv_b.get(), sb.get(), lb.data()}};
    Status st = m.forward_batch(pool, seqs, 2);
    REQUIRE_FALSE(st.is_ok());
    MESSAGE(st.message());
    CHECK(st.message().find("sequence 1") != std::string::npos);
    CHECK(kv_a->n_past() == 0);
    CHECK(kv_b->n_past() == 0);

    // A sequence that would overflow its context.
    std::vector<int32_t> many(20, 1);
    BatchSeq overflow[2] = {{good, 2, kv_a.get(), sa.get(), la.data()},
                            {many.data(), 20, kv_b.get(), sb.get(), lb.data()}};
    st = m.forward_batch(pool, overflow, 2);
    CHECK(st.code() == StatusCode::kOutOfRange);
    CHECK(kv_a->n_past() == 0);
  }

  // Greedy decoding step by step, keeping each step's gap between the two best logits.
  struct Stream {
    std::vector<int32_t> ids;
    std::vector<float> margins;
    std::string error;
  };
  Stream greedy(Generator & gen, const std::vector<int32_t>& prompt, int n_tokens) {
    Stream s;
    const int64_t n_vocab = gen.model().config().n_vocab;
    Status st = gen.prefill(prompt);
    for (int i = 0; st && i < n_tokens; ++i) {
      std::vector<float> logits(gen.logits(), gen.logits() + n_vocab);
      const int32_t id = argmax(logits);
      s.ids.push_back(id);
      s.margins.push_back(top_margin(logits));
      st = gen.append(&id, 1);
    }
    if (!st) s.error = st.message();
    return s;
  }

  TEST_CASE("BatchScheduler: six threads decode what each decodes alone, in shared steps") {
    const Model& m = smollm2();
    const bool exact = tile_matches_one_row(m);
    const std::vector<std::string> prompts = {
        "The history of the printing press",
        "A recipe for pancakes:",
        "The three laws of thermodynamics are",
        "In 1969, the first humans",
        "def add(a, b):",
        "The best way to learn a language is",
    };
    constexpr int kTokens = 24;
    std::vector<Stream> alone;
    {
      ThreadPool pool(2);
      for (const std::string& prompt : prompts) {
        Generator gen(m, pool, 256);
        alone.push_back(greedy(gen, encode(m, prompt), kTokens));
      }
    }

    ThreadPool pool(2);
    BatchScheduler scheduler(m, pool, 32);
    std::vector<Stream> batched(prompts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < prompts.size(); ++i) {
      threads.emplace_back([&, i] {
        Generator gen(m, pool, 256, ServingContext{&scheduler, nullptr});
        batched[i] = greedy(gen, encode(m, prompts[i]), kTokens);
      });
    }
    for (std::thread& t : threads) t.join();
    int parted = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      CAPTURE(prompts[i]);
      CHECK(batched[i].error.empty());
      REQUIRE(batched[i].ids.size() == alone[i].ids.size());
      if (exact) {
        CHECK(batched[i].ids == alone[i].ids);
        continue;
      }
      // Kernels that sum differently may part the streams only where the lone one was at a
      // near-tie: its two best logits closer than twice the tolerance of the test above.
      size_t same = 0;
      while (same < alone[i].ids.size() && batched[i].ids[same] == alone[i].ids[same]) ++same;
      if (same < alone[i].ids.size()) {
        ++parted;
        MESSAGE("parts at step " << same << " where the lone run's top-2 gap is "
                                 << alone[i].margins[same]);
        CHECK(alone[i].margins[same] <= 2.2f);
      }
    }
    const BatchStats st = scheduler.stats();
    MESSAGE(std::string(exact ? "exact kernels" : "AVX-512 tile kernels")
            << ": " << parted << "/" << prompts.size() << " streams parted; steps " << st.steps
            << ", sequence steps " << st.sequence_steps << ", tokens " << st.tokens
            << ", widest step " << st.max_batch_seen);
    CHECK(st.steps < st.sequence_steps);  // steps were shared
    CHECK(st.max_batch_seen >= 2);
    CHECK(st.active == 0);
    uint64_t tokens = 0;
    for (size_t i = 0; i < prompts.size(); ++i) tokens += encode(m, prompts[i]).size() + kTokens;
    CHECK(st.tokens == tokens);
  }

  TEST_CASE("BatchScheduler: a bad call fails alone and the others go on") {
    const Model& m = smollm2();
    ThreadPool pool(2);
    BatchScheduler scheduler(m, pool);
    auto kv = m.make_kv_cache(8);
    auto scratch = m.make_scratch();
    std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
    const int32_t bad = -1;
    Status st = scheduler.forward(&bad, 1, *kv, *scratch, logits.data());
    CHECK(st.code() == StatusCode::kInvalidArgument);
    std::vector<int32_t> too_many(9, 1);
    st = scheduler.forward(too_many.data(), 9, *kv, *scratch, logits.data());
    CHECK(st.code() == StatusCode::kOutOfRange);
    CHECK(kv->n_past() == 0);
    const int32_t ok[3] = {1, 2, 3};
    CHECK(scheduler.forward(ok, 3, *kv, *scratch, logits.data()));
    CHECK(kv->n_past() == 3);
  }

  TEST_CASE("BatchScheduler: a long prefill is chunked between decode steps") {
    const Model& m = smollm2();
    ThreadPool pool(2);
    BatchScheduler scheduler(m, pool, 32, /*step_tokens=*/32);
    std::string long_prompt;
    for (int i = 0; i < 40; ++i) long_prompt += "Sentence number " + std::to_string(i) + ". ";
    const std::vector<int32_t> ids = encode(m, long_prompt);
    REQUIRE(ids.size() > 200);

    // The lone reference for the long prompt's last logits.
    std::vector<float> expected(static_cast<size_t>(m.config().n_vocab));
    {
      auto kv = m.make_kv_cache(512);
      auto scratch = m.make_scratch();
      REQUIRE(m.forward(pool, ids.data(), static_cast<int64_t>(ids.size()), *kv, *scratch,
                        expected.data()));
    }
    GenerateParams p;
    p.max_tokens = 40;
    p.sampling.temperature = 0.0f;
    p.stop_at_end_of_generation = false;
    std::vector<float> got(expected.size());
    std::thread decoder([&] {
      Generator gen(m, pool, 256, ServingContext{&scheduler, nullptr});
      CHECK(gen.generate_text("Once upon a time", p).is_ok());
    });
    std::thread prefill([&] {
      auto kv = m.make_kv_cache(512);
      auto scratch = m.make_scratch();
      CHECK(scheduler.forward(ids.data(), static_cast<int64_t>(ids.size()), *kv, *scratch,
                              got.data()));
      CHECK(kv->n_past() == static_cast<int64_t>(ids.size()));
    });
    decoder.join();
    prefill.join();
    const BatchStats st = scheduler.stats();
    MESSAGE("steps " << st.steps << ", sequence steps " << st.sequence_steps << ", tokens "
                     << st.tokens);
    // The prompt alone needs ceil(n / 32) steps of 32 rows.
    CHECK(st.steps >= (ids.size() + 31) / 32);
    const double diff = max_abs_diff(expected, got);
    MESSAGE("chunked prefill vs one pass: max logit diff " << diff);
    CHECK(diff <= (tile_matches_one_row(m) ? 0.0 : 1.1));
  }

  TEST_CASE("PrefixCache: restored keys and values give the logits of a full recompute") {
    const Model& m = smollm2();
    ThreadPool pool(2);
    const int64_t n_vocab = m.config().n_vocab;
    std::string text;
    for (int i = 0; i < 12; ++i)
      text += "The river flows past stone number " + std::to_string(i) + ". ";
    const std::vector<int32_t> ids = encode(m, text);
    REQUIRE(ids.size() > 100);
    const int64_t n = static_cast<int64_t>(ids.size());

    auto kv = m.make_kv_cache(256);
    auto scratch = m.make_scratch();
    std::vector<float> full(static_cast<size_t>(n_vocab));
    REQUIRE(m.forward(pool, ids.data(), n, *kv, *scratch, full.data()));

    PrefixCache cache(m, 64ull << 20, 32);
    cache.store(ids, n, *kv);
    CHECK(cache.stats().blocks == static_cast<uint64_t>(n / 32));
    CHECK(cache.stats().bytes == cache.stats().blocks * cache.block_bytes());

    auto kv2 = m.make_kv_cache(256);
    const std::vector<int32_t> head(ids.begin(), ids.end() - 1);
    const int64_t got = cache.restore(head, *kv2);
    CHECK(got == (n - 1) / 32 * 32);
    CHECK(kv2->n_past() == got);
    for (int64_t l = 0; l < m.config().n_layer; ++l) {
      REQUIRE(std::equal(kv->k(l), kv->k(l) + got * kv->kv_dim(), kv2->k(l)));
      REQUIRE(std::equal(kv->v(l), kv->v(l) + got * kv->v_dim(), kv2->v(l)));
    }
    std::vector<float> resumed(full.size());
    REQUIRE(m.forward(pool, ids.data() + got, n - got, *kv2, *scratch, resumed.data()));
    const double diff = max_abs_diff(full, resumed);
    MESSAGE("restored prefix + " << n - got << " tokens vs full recompute: max logit diff "
                                 << diff);
    CHECK(diff <= (tile_matches_one_row(m) ? 0.0 : 1.1));
    CHECK(argmax(full) == argmax(resumed));

    const PrefixCacheStats st = cache.stats();
    CHECK(st.lookups == 1);
    CHECK(st.lookup_tokens == static_cast<uint64_t>(n - 1));
    CHECK(st.hit_tokens == static_cast<uint64_t>(got));
  }

  // Synthetic caches for the bookkeeping tests: row `pos` of every layer holds a value made from
  // the token there and its position, so a restored row is checkable without a model pass.
  uint16_t row_value(int32_t token, int64_t pos, int64_t layer) {
    return static_cast<uint16_t>((token * 131 + pos * 7 + layer * 3) & 0x3fff);
  }
  void fill(const std::vector<int32_t>& ids, KvCache& kv) {
    for (int64_t l = 0; l < kv.n_layer(); ++l) {
      for (int64_t p = 0; p < static_cast<int64_t>(ids.size()); ++p) {
        std::fill(kv.k(l) + p * kv.kv_dim(), kv.k(l) + (p + 1) * kv.kv_dim(),
                  row_value(ids[p], p, l));
        std::fill(kv.v(l) + p * kv.v_dim(), kv.v(l) + (p + 1) * kv.v_dim(),
                  static_cast<uint16_t>(row_value(ids[p], p, l) ^ 1));
      }
    }
    kv.set_n_past(static_cast<int64_t>(ids.size()));
  }
  bool rows_match(const std::vector<int32_t>& ids, const KvCache& kv, int64_t n) {
    for (int64_t l = 0; l < kv.n_layer(); ++l) {
      for (int64_t p = 0; p < n; ++p) {
        if (kv.k(l)[p * kv.kv_dim()] != row_value(ids[p], p, l)) return false;
        if (kv.k(l)[(p + 1) * kv.kv_dim() - 1] != row_value(ids[p], p, l)) return false;
        if (kv.v(l)[p * kv.v_dim()] != static_cast<uint16_t>(row_value(ids[p], p, l) ^ 1)) {
          return false;
        }
      }
    }
    return true;
  }
  std::vector<int32_t> seq(int32_t first, int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = first + static_cast<int32_t>(i);
    return v;
  }

  TEST_CASE("PrefixCache: whole blocks, partial prefixes, misses and divergence mid-block") {
    const Model& m = smollm2();
    PrefixCache cache(m, 64ull << 20, 16);
    const std::vector<int32_t> a = seq(100, 70);  // 4 whole blocks of 16, 6 tokens left over
    auto kv = m.make_kv_cache(128);
    fill(a, *kv);
    cache.store(a, 70, *kv);
    CHECK(cache.stats().blocks == 4);

    auto out = m.make_kv_cache(128);
    SUBCASE("the whole stored prefix") {
      CHECK(cache.restore(a, *out) == 64);
      CHECK(out->n_past() == 64);
      CHECK(rows_match(a, *out, 64));
    }
    SUBCASE("a prompt sharing 40 tokens restores the two whole blocks within them") {
      std::vector<int32_t> b(a.begin(), a.begin() + 40);
      b.push_back(7);
      b.push_back(8);
      CHECK(cache.restore(b, *out) == 32);
      CHECK(rows_match(a, *out, 32));
    }
    SUBCASE("a prompt shorter than one block") {
      std::vector<int32_t> b(a.begin(), a.begin() + 15);
      CHECK(cache.restore(b, *out) == 0);
    }
    SUBCASE("a miss leaves no prefix") {
      out->set_n_past(5);
      CHECK(cache.restore(seq(5000, 64), *out) == 0);
      CHECK(out->n_past() == 0);
    }
    SUBCASE("divergence in the middle of the third block") {
      std::vector<int32_t> b = a;
      b[40] = 9999;
      CHECK(cache.restore(b, *out) == 32);
      CHECK(rows_match(b, *out, 32));
    }
    SUBCASE("same tokens in a block after a different parent are not a hit") {
      std::vector<int32_t> b = a;
      b[3] = 4242;  // first block differs; the second block's tokens are as stored
      CHECK(cache.restore(b, *out) == 0);
    }
    SUBCASE("no more than the destination cache holds") {
      auto small = m.make_kv_cache(40);
      CHECK(cache.restore(a, *small) == 32);
    }
    SUBCASE("rows below skip_tokens are not copied again") {
      fill(a, *out);
      for (int64_t l = 0; l < out->n_layer(); ++l) out->k(l)[0] = 12345;  // a marker in row 0
      CHECK(cache.restore(a, *out, /*skip_tokens=*/16) == 64);
      CHECK(out->k(0)[0] == 12345);
      CHECK(rows_match(a, *out, 64) == false);  // row 0 still carries the marker
      out->k(0)[0] = row_value(a[0], 0, 0);
      for (int64_t l = 1; l < out->n_layer(); ++l) out->k(l)[0] = row_value(a[0], 0, l);
      CHECK(rows_match(a, *out, 64));
    }
    const PrefixCacheStats st = cache.stats();
    CHECK(st.lookups == 1);
    CHECK(st.capacity_bytes == 64ull << 20);
  }

  TEST_CASE("PrefixCache: LRU eviction keeps bytes under the bound, leaves first") {
    const Model& m = smollm2();
    PrefixCache probe(m, 0, 16);
    const uint64_t block = probe.block_bytes();
    PrefixCache cache(m, 3 * block + block / 2, 16);  // room for three blocks
    auto kv = m.make_kv_cache(128);
    auto out = m.make_kv_cache(128);

    const std::vector<int32_t> a = seq(100, 48);  // blocks A0 A1 A2
    fill(a, *kv);
    cache.store(a, 48, *kv);
    CHECK(cache.stats().blocks == 3);
    CHECK(cache.stats().bytes <= cache.stats().capacity_bytes);

    // B shares A0 and adds one block: the oldest leaf (A2) goes, the shared A0 stays.
    std::vector<int32_t> b(a.begin(), a.begin() + 16);
    for (int32_t t : seq(700, 16)) b.push_back(t);
    fill(b, *kv);
    cache.store(b, 32, *kv);
    PrefixCacheStats st = cache.stats();
    CHECK(st.blocks == 3);
    CHECK(st.evictions == 1);
    CHECK(st.bytes <= st.capacity_bytes);
    CHECK(cache.restore(b, *out) == 32);
    CHECK(rows_match(b, *out, 32));
    CHECK(cache.restore(a, *out) == 32);  // A0 A1 remain, A2 was the leaf evicted

    // Many unrelated prompts: the bound holds throughout and the most recent survives.
    for (int i = 0; i < 10; ++i) {
      const std::vector<int32_t> c = seq(2000 + 100 * i, 32);
      fill(c, *kv);
      cache.store(c, 32, *kv);
      st = cache.stats();
      CHECK(st.bytes <= st.capacity_bytes);
      CHECK(st.bytes == st.blocks * block);
    }
    CHECK(cache.restore(seq(2900, 32), *out) == 32);
    CHECK(cache.restore(seq(2000, 32), *out) == 0);
    CHECK(cache.stats().evictions > 1);

    // A prompt longer than the whole cache keeps its head.
    const std::vector<int32_t> d = seq(9000, 100);
    fill(d, *kv);
    cache.store(d, 100, *kv);
    CHECK(cache.stats().bytes <= cache.stats().capacity_bytes);
    CHECK(cache.restore(d, *out) == 48);

    // A cache smaller than one block holds nothing.
    PrefixCache tiny(m, block - 1, 16);
    tiny.store(d, 100, *kv);
    CHECK(tiny.stats().blocks == 0);
  }

  TEST_CASE("PrefixCache: concurrent store and restore from threads") {
    const Model& m = smollm2();
    PrefixCache probe(m, 0, 8);
    PrefixCache cache(m, 12 * probe.block_bytes(), 8);  // small: evictions happen throughout
    const std::vector<int32_t> system = seq(500, 24);   // a shared "system prompt"
    std::atomic<int> wrong{0};
    std::atomic<int> hits{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto kv = m.make_kv_cache(64);
        auto out = m.make_kv_cache(64);
        for (int i = 0; i < 200; ++i) {
          std::vector<int32_t> ids = system;
          for (int32_t x : seq(1000 * (t + 1) + (i % 7) * 10, 8 + (i % 3) * 8)) ids.push_back(x);
          const int64_t got = cache.restore(ids, *out);
          if (got % 8 != 0 || got > static_cast<int64_t>(ids.size()) ||
              !rows_match(ids, *out, got)) {
            ++wrong;
          }
          if (got > 0) ++hits;
          fill(ids, *kv);
          cache.store(ids, static_cast<int64_t>(ids.size()), *kv);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    const PrefixCacheStats st = cache.stats();
    MESSAGE("hits " << hits.load() << "/800, blocks " << st.blocks << ", evictions "
                    << st.evictions);
    CHECK(wrong.load() == 0);
    CHECK(hits.load() > 0);
    CHECK(st.bytes <= st.capacity_bytes);
    CHECK(st.evictions > 0);
    CHECK(st.lookups == 800);
  }

  TEST_CASE("Generator and NativeEngine with a prefix cache report restored tokens as cached") {
    const Model& m = smollm2();
    ThreadPool pool(2);
    PrefixCache cache(m, 256ull << 20, 16);
    BatchScheduler scheduler(m, pool);
    GenerateParams p;
    p.max_tokens = 12;
    p.sampling.temperature = 0.0f;
    std::string system;
    for (int i = 0; i < 6; ++i) system += "Rule " + std::to_string(i) + ": answer briefly. ";

    Generator first(m, pool, 512, ServingContext{&scheduler, &cache});
    auto a = first.generate_text(system + "Question: what is two plus two?", p);
    REQUIRE(a.is_ok());
    CHECK(a->timings.cached_tokens == 0);

    // Another sequence with the same system prompt restores its whole blocks.
    Generator second(m, pool, 512, ServingContext{&scheduler, &cache});
    auto b = second.generate_text(system + "Question: name a colour.", p);
    REQUIRE(b.is_ok());
    const int64_t shared = static_cast<int64_t>(encode(m, system).size()) - 1;
    CHECK(b->timings.cached_tokens >= shared / 16 * 16);
    CHECK(b->timings.cached_tokens > 0);
    CHECK(b->timings.prompt_tokens ==
          static_cast<int64_t>(b->prompt_ids.size()) - b->timings.cached_tokens);
    // And decodes what a cold generator decodes.
    Generator cold(m, pool, 512, ServingContext{&scheduler, nullptr});
    auto c = cold.generate_text(system + "Question: name a colour.", p);
    REQUIRE(c.is_ok());
    CHECK(c->timings.cached_tokens == 0);
    CHECK(b->ids == c->ids);

    // NativeEngine: an agent's next step (the previous turn plus a tool result) on a fresh
    // engine restores the whole previous turn, generated tokens included.
    auto e1 = NativeEngine::create(m, pool, 1024, "", ServingContext{&scheduler, &cache});
    auto e2 = NativeEngine::create(m, pool, 1024, "", ServingContext{&scheduler, &cache});
    REQUIRE(e1.is_ok());
    REQUIRE(e2.is_ok());
    ChatRequest req;
    req.messages = {{"system", system}, {"user", "Say hello to the team in one sentence."}};
    req.max_tokens = 24;
    req.sampling.temperature = 0.0f;
    auto r1 = (*e1)->chat(req);
    REQUIRE(r1.is_ok());
    req.messages.push_back({"assistant", r1->content});
    req.messages.push_back({"user", "Now say goodbye."});
    auto r2 = (*e2)->chat(req);
    REQUIRE(r2.is_ok());
    MESSAGE("second step: " << r2->usage.cached_tokens << " of " << r2->usage.prompt_tokens
                            << " prompt tokens restored");
    CHECK(r2->usage.cached_tokens >= (r1->usage.prompt_tokens) / 16 * 16);
    CHECK(r2->usage.cached_tokens < r2->usage.prompt_tokens);
    CHECK(cache.stats().hit_tokens > 0);
  }

  // A measurement, not a check: run with --no-skip.
  TEST_CASE("measure: 8 concurrent greedy streams through the scheduler vs 8 serial" *
            doctest::skip()) {
    const Model& m = smollm2();
    GenerateParams p;
    p.max_tokens = 64;
    p.sampling.temperature = 0.0f;
    p.stop_at_end_of_generation = false;
    std::vector<std::string> prompts;
    for (int i = 0; i < 8; ++i) prompts.push_back("Story " + std::to_string(i) + ": Once upon a");
    using clock = std::chrono::steady_clock;

    ThreadPool pool(2);
    double serial_decode_ms = 0;
    int64_t serial_tokens = 0;
    auto t0 = clock::now();
    {
      Generator gen(m, pool, 256);
      for (const std::string& prompt : prompts) {
        auto r = gen.generate_text(prompt, p);
        REQUIRE(r.is_ok());
        serial_decode_ms += r->timings.decode_ms;
        serial_tokens += r->timings.generated_tokens;
      }
    }
    const double serial_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();

    BatchScheduler scheduler(m, pool, 32);
    std::vector<std::thread> threads;
    std::atomic<int64_t> batched_tokens{0};
    t0 = clock::now();
    for (const std::string& prompt : prompts) {
      threads.emplace_back([&, prompt] {
        Generator gen(m, pool, 256, ServingContext{&scheduler, nullptr});
        auto r = gen.generate_text(prompt, p);
        if (r.is_ok()) batched_tokens += r->timings.generated_tokens;
      });
    }
    for (std::thread& t : threads) t.join();
    const double batched_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    const BatchStats st = scheduler.stats();
    MESSAGE("serial: " << serial_tokens << " tokens in " << serial_ms << " ms ("
                       << serial_tokens * 1000.0 / serial_ms << " tok/s; decode only "
                       << serial_tokens * 1000.0 / serial_decode_ms << " tok/s)");
    MESSAGE("batched: " << batched_tokens.load() << " tokens in " << batched_ms << " ms ("
                        << batched_tokens.load() * 1000.0 / batched_ms << " tok/s), " << st.steps
                        << " steps, mean " << double(st.sequence_steps) / double(st.steps)
                        << " sequences per step");
    MESSAGE("speed-up " << serial_ms / batched_ms << "x");
  }
}
}  // namespace
}  // namespace r1
