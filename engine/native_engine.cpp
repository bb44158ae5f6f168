#include "engine/native_engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>

#include "core/json_schema.h"

namespace r1 {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool has_visible_text(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') return true;
  }
  return false;
}

bool ends_with_newline(std::string_view s) {
  return !s.empty() && s.back() == '\n';
}

}  // namespace

NativeEngine::NativeEngine(const Model& model, ThreadPool& pool, int64_t n_ctx,
                           std::unique_ptr<ChatFormat> format, ServingContext serving)
    : model_(model),
      format_(std::move(format)),
      generator_(model, pool, n_ctx, serving),
      token_index_(model.tokenizer()) {
  const Tokenizer& tok = model.tokenizer();
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.is_end_of_generation(id)) end_of_generation_ids_.push_back(id);
  }
}

Result<std::unique_ptr<NativeEngine>> NativeEngine::create(const Model& model, ThreadPool& pool,
                                                           int64_t n_ctx,
                                                           std::string_view format_name,
                                                           ServingContext serving) {
  Result<std::unique_ptr<ChatFormat>> format = Status::internal("no chat format");
  if (format_name.empty()) {
    std::string chat_template;
    if (model.gguf().find("tokenizer.chat_template")) {
      Result<std::string_view> t = model.gguf().get_string("tokenizer.chat_template");
      if (t) chat_template = std::string(*t);
    }
    format = detect_chat_format(chat_template, model.tokenizer());
  } else {
    format = make_chat_format(format_name);
  }
  if (!format) return format.status();
  return std::unique_ptr<NativeEngine>(
      new NativeEngine(model, pool, n_ctx, std::move(format.value()), serving));
}

Result<NativeEngine::Prepared> NativeEngine::prepare(const ChatRequest& req) const {
  const Tokenizer& tok = model_.tokenizer();
  Prepared p;

  // ---- the prompt -------------------------------------------------------------------------
  RenderOptions ropts;
  ropts.add_generation_prompt = true;
  ropts.think = req.think;
  ropts.keep_tool_call_reasoning = req.keep_tool_call_reasoning;
  ropts.tool_choice = req.tool_choice;
  if (req.tool_choice.mode == ToolChoice::Mode::kNamed) {
    bool found = false;
    for (const ToolSpec& t : req.tools) found = found || t.name == req.tool_choice.name;
    if (!found) {
      return Status::invalid("tool_choice names \"" + req.tool_choice.name +
                             "\", which is not among the tools");
    }
  }
  if (req.tool_choice.mode == ToolChoice::Mode::kRequired && req.tools.empty()) {
    return Status::invalid("tool_choice is \"required\" but no tools were given");
  }
  Result<std::string> prompt = format_->render(req.messages, req.tools, ropts);
  if (!prompt) return prompt.status();
  p.prompt = std::move(prompt.value());
  p.prompt_ids = tok.encode(p.prompt, /*add_bos=*/false, /*parse_special=*/true);
  if (tok.add_bos() && tok.bos_id() >= 0 &&
      (p.prompt_ids.empty() || p.prompt_ids[0] != tok.bos_id())) {
    p.prompt_ids.insert(p.prompt_ids.begin(), tok.bos_id());
  }
  p.starts_in_thinking = format_->prompt_opens_thinking(ropts);

  // ---- grammars ------------------------------------------------------------------------------
  // `tool_grammar` constrains tool calls; `answer_grammar`, when set, constrains the answer from
  // its first byte (tool_choice required/named, or a response schema).
  const bool tools_on = !req.tools.empty() && req.tool_choice.mode != ToolChoice::Mode::kNone;
  if (tools_on && req.constrain_tool_calls) {
    Result<ToolCallGrammar> g = format_->tool_call_grammar(req.tools, req.tool_choice);
    if (!g) return g.status();
    p.tool_grammar = std::move(g.value());
    if (req.tool_choice.mode == ToolChoice::Mode::kRequired ||
        req.tool_choice.mode == ToolChoice::Mode::kNamed) {
      p.answer_grammar = grammar::sequence({grammar::whitespace(4), p.tool_grammar->grammar});
    }
  }
  if (req.response_schema) {
    if (p.answer_grammar) {
      return Status::invalid("a response schema cannot be combined with a required tool call");
    }
    Result<Grammar> g = grammar::json_schema(*req.response_schema);
    if (!g) return Status::invalid("response schema: " + g.status().message());
    p.answer_grammar = grammar::sequence({grammar::whitespace(4), *g});
  }
  return p;
}

Status NativeEngine::check_request(const ChatRequest& req) const {
  Result<Prepared> p = prepare(req);
  if (!p) return p.status();
  if (static_cast<int64_t>(p->prompt_ids.size()) >= generator_.n_ctx()) {
    return Status::invalid("the prompt has " + std::to_string(p->prompt_ids.size()) +
                           " tokens, more than the context of " +
                           std::to_string(generator_.n_ctx()) + " allows");
  }
  return Status::ok();
}

Result<ChatResult> NativeEngine::chat(const ChatRequest& req, const ChatEventCallback& on_event) {
  const Tokenizer& tok = model_.tokenizer();
  const int64_t n_vocab = model_.config().n_vocab;
  ChatResult res;
  Result<Prepared> prepared = prepare(req);
  if (!prepared) return prepared.status();
  res.prompt = std::move(prepared->prompt);
  std::vector<int32_t> prompt_ids = std::move(prepared->prompt_ids);
  const bool starts_in_thinking = prepared->starts_in_thinking;
  std::optional<ToolCallGrammar> tool_grammar = std::move(prepared->tool_grammar);
  Grammar answer_grammar = std::move(prepared->answer_grammar);

  // ---- the thinking budget ----------------------------------------------------------------
  const ThinkingParams& tp = req.thinking;
  const int32_t max_tokens = std::max<int32_t>(req.max_tokens, 0);
  const int32_t reserve =
      tp.answer_reserve >= 0 ? tp.answer_reserve : std::min<int32_t>(max_tokens / 4, 512);
  const std::string close_text = "\n" + format_->think_close() + "\n\n";
  std::vector<int32_t> close_ids = tok.encode(close_text, false, true);
  std::vector<int32_t> close_marker_ids = tok.encode(format_->think_close(), false, true);
  const int32_t close_first_id = close_marker_ids.empty() ? -1 : close_marker_ids[0];
  const int32_t wrap_len =
      static_cast<int32_t>(tok.encode("\n\n" + tp.wrap_up, false, true).size() + close_ids.size());
  // The cap: the budget, and never more than leaves room for the wrap-up and the answer.
  int64_t cap = tp.budget >= 0 ? tp.budget : std::numeric_limits<int32_t>::max();
  cap = std::min<int64_t>(
      cap, std::max<int64_t>(0, int64_t{max_tokens} - reserve - wrap_len - std::max(tp.grace, 0)));
  res.thinking.effective_budget = static_cast<int32_t>(cap);

  // ---- prefill --------------------------------------------------------------------------------
  R1_RETURN_IF_ERROR(generator_.prefill(prompt_ids, &res.timings));
  res.usage.prompt_tokens = static_cast<int64_t>(prompt_ids.size());
  res.usage.cached_tokens = res.timings.cached_tokens;

  std::unique_ptr<OutputParser> parser = format_->make_parser(starts_in_thinking);
  Sampler sampler(req.sampling);
  for (int32_t id : prompt_ids) sampler.accept(id);
  StreamDecoder decoder(tok, /*render_special=*/true);

  std::vector<ChatEvent> events;
  bool cancelled = false;
  bool repeated_call = false;  // the model repeated a call of this turn word for word
  int32_t generated = 0;       // tokens generated so far, forced ones included
  int32_t last_call_end = 0;   // `generated` when the previous call closed
  int32_t longest_call = 0;    // tokens of the longest call so far
  auto deliver = [&]() {
    for (ChatEvent& ev : events) {
      if (ev.kind == ChatEvent::Kind::kToolCall) {
        longest_call = std::max(longest_call, generated - last_call_end);
        last_call_end = generated;
        // Small models loop on the call they just made; a word-for-word repeat ends the turn.
        bool repeat = false;
        Result<nlohmann::json> args = parse_json(ev.call.arguments);
        for (const ToolCall& c : res.tool_calls) {
          if (c.name != ev.call.name) continue;
          Result<nlohmann::json> other = parse_json(c.arguments);
          repeat = repeat || (args && other ? *args == *other : c.arguments == ev.call.arguments);
        }
        if (repeat) {
          repeated_call = true;
          continue;
        }
        std::optional<ToolCallError> err = validate_tool_call(ev.call, req.tools);
        if (err) {
          ev.kind = ChatEvent::Kind::kToolCallError;
          ev.error = std::move(*err);
        }
      }
      if (ev.kind == ChatEvent::Kind::kToolCall) res.tool_calls.push_back(ev.call);
      if (ev.kind == ChatEvent::Kind::kToolCallError) res.tool_call_errors.push_back(ev.error);
      if (on_event && !cancelled && !on_event(ev)) cancelled = true;
    }
    events.clear();
  };

  // Decoding state.
  std::optional<GrammarMatcher> matcher;  // active grammar, if any
  bool matcher_is_answer = false;         // the active grammar is answer_grammar
  bool answer_grammar_pending = static_cast<bool>(answer_grammar);
  bool thinking_seen = starts_in_thinking;
  bool answer_seen = false;  // visible content after thinking (or without it)
  bool closing = false;      // forced tokens that end thinking are queued
  int32_t grace_used = 0;
  std::deque<int32_t> forced;  // tokens to emit before sampling again
  size_t content_from = 0;     // raw_output bytes before this are thinking
  size_t trigger_scan = 0;     // raw_output bytes already searched for triggers
  size_t max_trigger = 0;
  if (tool_grammar) {
    for (const std::string& t : tool_grammar->triggers)
      max_trigger = std::max(max_trigger, t.size());
  }
  auto is_eog = [&](int32_t id) { return tok.is_end_of_generation(id); };

  auto queue_close = [&](bool with_wrap_up) {
    std::string text;
    if (with_wrap_up && !tp.wrap_up.empty()) {
      const std::string& so_far = res.raw_output;
      text = (ends_with_newline(so_far) ? "\n" : "\n\n") + tp.wrap_up;
    }
    text += close_text;
    for (int32_t id : tok.encode(text, false, true)) forced.push_back(id);
    closing = true;
  };

  if (starts_in_thinking && cap == 0) {
    res.thinking.capped = true;
    queue_close(/*with_wrap_up=*/false);
  }

  auto t1 = std::chrono::steady_clock::now();
  std::string finish = "length";
  std::vector<int32_t> batch;  // tokens to feed the model this step
  while (generated < max_tokens && !cancelled) {
    batch.clear();
    bool stop = false;
    // One token per iteration, sampled or forced; forced runs are fed to the model together.
    do {
      int32_t id;
      bool was_forced = false;
      const bool in_thinking = parser->in_reasoning();
      if (!forced.empty()) {
        id = forced.front();
        forced.pop_front();
        was_forced = true;
      } else {
        if (answer_grammar_pending && !in_thinking && !closing) {
          // The answer begins: constrain it from its first byte.
          answer_grammar_pending = false;
          GrammarMatcher m(answer_grammar);
          if (!m.accept(std::string_view(res.raw_output).substr(content_from))) {
            return Status::internal("the answer grammar rejects the text before the answer");
          }
          matcher = std::move(m);
          matcher_is_answer = true;
        }
        // Between calls of a required answer: do not start a call that cannot finish.
        if (matcher && matcher_is_answer && matcher->is_complete() &&
            max_tokens - generated < longest_call + longest_call / 2 + 8) {
          stop = true;
          finish = "stop";
          break;
        }
        float* logits = generator_.logits();
        // After thinking, the model may not end before saying something.
        if (req.require_answer && thinking_seen && !in_thinking && !answer_seen) {
          for (int32_t e : end_of_generation_ids_)
            logits[e] = -std::numeric_limits<float>::infinity();
        }
        if (matcher) {
          GrammarMatcher& m = *matcher;
          id = sampler.sample_constrained(
              logits, n_vocab,
              [&](int32_t t) {
                if (is_eog(t)) return m.is_complete();
                const std::string& piece = token_index_.piece(t);
                return !piece.empty() && m.can_accept(piece);
              },
              [&](std::vector<uint8_t>& mask) {
                grammar_allowed_tokens(m, token_index_, mask);
                if (m.is_complete()) {
                  for (int32_t e : end_of_generation_ids_) mask[static_cast<size_t>(e)] = 1;
                }
              });
          if (id < 0) return Status::internal("the grammar allows no token (a grammar bug)");
        } else {
          id = sampler.sample(logits, n_vocab);
        }
        // Thinking must end through its delimiter, not by stopping; below min_thinking an
        // attempt to end it becomes wait_text instead (s1-style budget forcing).
        if (in_thinking && (is_eog(id) || id == close_first_id)) {
          if (res.thinking.sampled_tokens < tp.min_thinking && res.thinking.waits < tp.max_waits) {
            for (int32_t w : tok.encode("\n" + tp.wait_text, false, true)) forced.push_back(w);
            ++res.thinking.waits;
            continue;
          }
          if (is_eog(id)) {
            queue_close(/*with_wrap_up=*/false);
            continue;
          }
        }
      }
      sampler.accept(id);
      ++generated;
      if (!was_forced && is_eog(id)) {
        stop = true;
        finish = "stop";
        break;
      }
      batch.push_back(id);
      if (was_forced) ++res.thinking.forced_tokens;

      // Text: raw bytes for the grammar and triggers, whole characters for the parser.
      const std::string& piece = token_index_.piece(id);
      res.raw_output += piece;
      parser->push(decoder.push(id), events);
      const bool now_thinking = parser->in_reasoning();
      if (now_thinking) thinking_seen = true;
      if (in_thinking || now_thinking) {
        ++res.usage.reasoning_tokens;
        if (!was_forced) ++res.thinking.sampled_tokens;
        if (!was_forced && res.thinking.sampled_tokens > cap) ++res.thinking.grace_tokens;
      }
      if (now_thinking) {
        content_from = res.raw_output.size();
        trigger_scan = content_from;
      } else {
        if (in_thinking) {
          // Thinking just ended: the answer starts after the delimiter.
          const size_t at = res.raw_output.rfind(format_->think_close());
          content_from =
              at == std::string::npos ? res.raw_output.size() : at + format_->think_close().size();
          trigger_scan = content_from;
        }
        if (closing && forced.empty()) closing = false;
        if (!answer_seen) {
          answer_seen = has_visible_text(parser->parsed().content) || parser->in_tool_call() ||
                        !parser->parsed().tool_calls.empty() || !parser->parsed().errors.empty();
        }
      }

      // The budget: at the cap, finish the sentence within the grace window, then wrap up.
      if (now_thinking && !closing && !was_forced) {
        const bool over = res.thinking.sampled_tokens >= cap;
        if (over && (cap == 0 || grace_used >= tp.grace || ends_sentence(piece))) {
          res.thinking.capped = true;
          queue_close(/*with_wrap_up=*/cap > 0);
        } else if (over) {
          ++grace_used;
        }
      }

      // Grammars.
      if (matcher) {
        if (!matcher->accept(piece)) {
          // Only a forced token can get here; drop the constraint rather than fail the turn.
          matcher.reset();
        } else if (matcher->is_complete() && (!matcher_is_answer || !matcher->can_continue())) {
          // A tool call is done (another one re-triggers); a constrained answer is done when
          // nothing can follow, and so is the turn.
          if (matcher_is_answer) {
            stop = true;
            finish = "stop";
          }
          matcher.reset();
          trigger_scan = res.raw_output.size();
        }
      } else if (!now_thinking && !closing) {
        if (!answer_grammar && tool_grammar && !tool_grammar->triggers.empty()) {
          const size_t from =
              std::max(content_from, trigger_scan > max_trigger ? trigger_scan - max_trigger : 0);
          size_t best = std::string::npos;
          for (const std::string& t : tool_grammar->triggers) {
            const size_t at = res.raw_output.find(t, from);
            if (at != std::string::npos && at < best) best = at;
          }
          trigger_scan = res.raw_output.size();
          if (best != std::string::npos) {
            GrammarMatcher m(tool_grammar->grammar);
            if (m.accept(std::string_view(res.raw_output).substr(best))) {
              matcher = std::move(m);
              matcher_is_answer = false;
            }
          }
        }
      }
      deliver();
      if (repeated_call) {
        stop = true;
        finish = "stop";
      }
    } while (!stop && !forced.empty() && generated < max_tokens && !cancelled);

    if (!batch.empty() && (generated < max_tokens && !stop && !cancelled)) {
      if (generator_.n_past() + static_cast<int64_t>(batch.size()) > generator_.n_ctx()) {
        finish = "length";
        break;
      }
      R1_RETURN_IF_ERROR(generator_.append(batch.data(), static_cast<int64_t>(batch.size())));
    }
    if (stop) break;
  }
  parser->push(decoder.flush(), events);
  parser->finish(events);
  deliver();
  if (cancelled) finish = "cancelled";

  const ParsedOutput& parsed = parser->parsed();
  res.reasoning = parsed.reasoning;
  res.content = parsed.content;
  if (finish == "stop" && !res.tool_calls.empty()) finish = "tool_calls";
  res.finish_reason = finish;
  res.usage.completion_tokens = generated;
  res.timings.generated_tokens = generated;
  res.timings.decode_ms = ms_since(t1);
  generator_.store_prefix();
  return res;
}

}  // namespace r1
