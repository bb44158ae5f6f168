#include "engine/generator.h"

#include <algorithm>
#include <chrono>

namespace r1 {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kLength:
      return "length";
    case StopReason::kEndOfGeneration:
      return "eos";
    case StopReason::kStopString:
      return "stop";
    case StopReason::kContextFull:
      return "context_full";
    case StopReason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Generator::Generator(const Model& model, ThreadPool& pool, int64_t n_ctx, ServingContext serving)
    : model_(model),
      pool_(pool),
      serving_(serving),
      kv_(model.make_kv_cache(n_ctx)),
      scratch_(model.make_scratch()),
      logits_(static_cast<size_t>(model.config().n_vocab)) {
  // A cache with no layers keeps its keys and values elsewhere (a GPU model's device slot):
  // the host-side prefix cache has nothing to copy.
  if (kv_->n_layer() == 0) serving_.prefix_cache = nullptr;
}

Result<GenerateResult> Generator::generate_text(const std::string& prompt,
                                                const GenerateParams& params,
                                                const TokenCallback& on_piece) {
  const Tokenizer& tok = model_.tokenizer();
  return generate(tok.encode(prompt, tok.add_bos(), /*parse_special=*/true), params, on_piece);
}

Status Generator::prefill(const std::vector<int32_t>& prompt_ids, GenerateTimings* timings) {
  if (prompt_ids.empty()) return Status::invalid("the prompt is empty (no tokens)");
  if (static_cast<int64_t>(prompt_ids.size()) >= kv_->n_ctx()) {
    return Status::invalid("the prompt has " + std::to_string(prompt_ids.size()) +
                           " tokens, more than the context of " + std::to_string(kv_->n_ctx()) +
                           " allows");
  }
  // Reuse the cached prefix; at least the last prompt token is recomputed to get its logits.
  size_t common = 0;
  while (common < cached_ids_.size() && common < prompt_ids.size() &&
         cached_ids_[common] == prompt_ids[common]) {
    ++common;
  }
  common = std::min(common, prompt_ids.size() - 1);
  kv_->set_n_past(static_cast<int64_t>(common));
  cached_ids_.resize(common);

  auto t0 = std::chrono::steady_clock::now();
  PrefixCache* shared = serving_.prefix_cache;
  const int64_t usable = static_cast<int64_t>(prompt_ids.size()) - 1;  // the last is recomputed
  if (shared != nullptr &&
      usable / shared->block_tokens() * shared->block_tokens() > static_cast<int64_t>(common)) {
    // The shared cache may hold more of the prompt (another sequence's or an earlier request's
    // blocks); only whole blocks past what this sequence holds can add anything. It overwrites
    // no row this sequence computed beyond what it restores.
    const std::vector<int32_t> head(prompt_ids.begin(), prompt_ids.begin() + usable);
    const int64_t restored = shared->restore(head, *kv_, static_cast<int64_t>(common));
    if (restored > static_cast<int64_t>(common)) {
      common = static_cast<size_t>(restored);
      cached_ids_.assign(prompt_ids.begin(), prompt_ids.begin() + restored);
    }
    kv_->set_n_past(static_cast<int64_t>(common));
  }
  const int64_t n_new = static_cast<int64_t>(prompt_ids.size() - common);
  R1_RETURN_IF_ERROR(append(prompt_ids.data() + common, n_new));
  store_prefix();
  if (timings) {
    timings->prefill_ms = ms_since(t0);
    timings->prompt_tokens = n_new;
    timings->cached_tokens = static_cast<int64_t>(common);
  }
  return Status::ok();
}

void Generator::store_prefix() {
  if (serving_.prefix_cache == nullptr) return;
  serving_.prefix_cache->store(cached_ids_, kv_->n_past(), *kv_);
}

Status Generator::forward(const int32_t* ids, int64_t n) {
  if (serving_.scheduler != nullptr) {
    return serving_.scheduler->forward(ids, n, *kv_, *scratch_, logits_.data());
  }
  return model_.forward(pool_, ids, n, *kv_, *scratch_, logits_.data());
}

Status Generator::append(const int32_t* ids, int64_t n) {
  if (kv_->n_past() + n > kv_->n_ctx()) {
    return Status::out_of_range("the context of " + std::to_string(kv_->n_ctx()) +
                                " tokens is full");
  }
  // Prefill in chunks so scratch memory stays bounded on long inputs.
  constexpr int64_t kChunk = 512;
  for (int64_t off = 0; off < n; off += kChunk) {
    const int64_t m = std::min(kChunk, n - off);
    Status st = forward(ids + off, m);
    if (!st) {
      cached_ids_.resize(static_cast<size_t>(kv_->n_past()));
      return st;
    }
    cached_ids_.insert(cached_ids_.end(), ids + off, ids + off + m);
  }
  return Status::ok();
}

Result<GenerateResult> Generator::generate(const std::vector<int32_t>& prompt_ids,
                                           const GenerateParams& params,
                                           const TokenCallback& on_piece, bool keep_first_logits) {
  GenerateResult res;
  res.prompt_ids = prompt_ids;
  R1_RETURN_IF_ERROR(prefill(prompt_ids, &res.timings));
  const Tokenizer& tok = model_.tokenizer();
  const int64_t n_vocab = model_.config().n_vocab;
  if (keep_first_logits) res.first_logits = logits_;

  Sampler sampler(params.sampling);
  for (int32_t id : prompt_ids) sampler.accept(id);
  StreamDecoder decoder(tok, /*render_special=*/false);
  size_t emitted = 0;  // bytes of res.text already passed to on_piece
  auto t1 = std::chrono::steady_clock::now();
  res.stop_reason = StopReason::kLength;

  size_t max_stop_len = 0;
  for (const auto& s : params.stop) max_stop_len = std::max(max_stop_len, s.size());

  for (int32_t i = 0; i < params.max_tokens; ++i) {
    const int32_t id = sampler.sample(logits_.data(), n_vocab);
    sampler.accept(id);
    res.ids.push_back(id);
    if (params.stop_at_end_of_generation && tok.is_end_of_generation(id)) {
      res.stop_reason = StopReason::kEndOfGeneration;
      break;
    }
    res.text += decoder.push(id);

    // A stop string ends the text where it begins; text that could still grow into one is
    // held back from the callback.
    bool stopped = false;
    for (const auto& s : params.stop) {
      if (s.empty()) continue;
      size_t from = emitted > s.size() ? emitted - s.size() : 0;
      size_t at = res.text.find(s, from);
      if (at != std::string::npos) {
        res.text.resize(at);
        stopped = true;
      }
    }
    size_t safe = res.text.size();
    if (!stopped && max_stop_len > 0)
      safe = res.text.size() > max_stop_len - 1 ? res.text.size() - (max_stop_len - 1) : 0;
    safe = std::max(safe, emitted);
    if (on_piece && safe > emitted) {
      if (!on_piece(id, res.text.substr(emitted, safe - emitted))) {
        emitted = safe;
        res.stop_reason = StopReason::kCancelled;
        break;
      }
    }
    emitted = safe;
    if (stopped) {
      res.stop_reason = StopReason::kStopString;
      break;
    }
    if (i + 1 == params.max_tokens) break;
    if (kv_->n_past() + 1 > kv_->n_ctx()) {
      res.stop_reason = StopReason::kContextFull;
      break;
    }
    R1_RETURN_IF_ERROR(append(&id, 1));
  }
  if (res.stop_reason != StopReason::kStopString && res.stop_reason != StopReason::kCancelled) {
    res.text += decoder.flush();
  }
  if (on_piece && res.text.size() > emitted && res.stop_reason != StopReason::kCancelled) {
    on_piece(-1, res.text.substr(emitted));
  }
  res.timings.decode_ms = ms_since(t1);
  res.timings.generated_tokens = static_cast<int64_t>(res.ids.size());
  store_prefix();
  return res;
}

}  // namespace r1
