#include "agent/agent.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <set>

#include "core/json_schema.h"
#include "tools/untrusted.h"

namespace r1 {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string calls_to_json(const std::vector<ToolCall>& calls) {
  if (calls.empty()) return "";
  nlohmann::json a = nlohmann::json::array();
  for (const ToolCall& c : calls) {
    a.push_back({{"id", c.id},
                 {"type", "function"},
                 {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return a.dump();
}

std::vector<ToolCall> calls_from_json(const std::string& text) {
  std::vector<ToolCall> calls;
  if (text.empty()) return calls;
  Result<nlohmann::json> j = parse_json(text);
  if (!j || !j->is_array()) return calls;
  for (const nlohmann::json& c : *j) {
    if (!c.is_object()) continue;
    ToolCall call;
    call.id = c.value("id", "");
    if (c.contains("function") && c["function"].is_object()) {
      call.name = c["function"].value("name", "");
      call.arguments = c["function"].value("arguments", "");
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

ChatMessage to_chat(const StoredMessage& m) {
  ChatMessage c;
  c.role = m.role;
  c.content = m.content;
  c.reasoning = m.reasoning;
  c.tool_calls = calls_from_json(m.tool_calls_json);
  c.tool_call_id = m.tool_call_id;
  c.name = m.name;
  return c;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* agent_event_kind_name(AgentEvent::Kind kind) {
  switch (kind) {
    case AgentEvent::Kind::kRunStart:
      return "run_start";
    case AgentEvent::Kind::kStepStart:
      return "step_start";
    case AgentEvent::Kind::kReasoning:
      return "reasoning";
    case AgentEvent::Kind::kContent:
      return "content";
    case AgentEvent::Kind::kToolCall:
      return "tool_call";
    case AgentEvent::Kind::kToolCallError:
      return "tool_call_error";
    case AgentEvent::Kind::kPolicyDecision:
      return "policy";
    case AgentEvent::Kind::kToolResult:
      return "tool_result";
    case AgentEvent::Kind::kFinal:
      return "final";
  }
  return "unknown";
}

nlohmann::json AgentEvent::to_json() const {
  nlohmann::json j = {{"event", agent_event_kind_name(kind)}, {"run_id", run_id}, {"step", step}};
  switch (kind) {
    case Kind::kRunStart:
    case Kind::kReasoning:
    case Kind::kContent:
    case Kind::kToolCallError:
      j["text"] = text;
      break;
    case Kind::kStepStart:
      break;
    case Kind::kToolCall:
      j["call"] = {{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}};
      break;
    case Kind::kPolicyDecision:
      j["call"] = {{"id", call.id}, {"name", call.name}};
      j["decision"] = decision;
      j["reason"] = reason;
      break;
    case Kind::kToolResult:
      j["call"] = {{"id", call.id}, {"name", call.name}};
      j["status"] = status;
      j["text"] = text;
      if (!citations.empty()) j["citations"] = citations;
      break;
    case Kind::kFinal:
      j["stop_reason"] = stop_reason;
      j["text"] = text;
      if (!reason.empty()) j["error"] = reason;
      break;
  }
  return j;
}

Policy policy_from_spec(const PolicySpecYaml& spec) {
  Policy p;
  p.deny_by_default = spec.default_decision == "deny";
  p.allow = spec.allow;
  p.deny = spec.deny;
  auto approval = [](const std::string& s) {
    return s == "always" ? Policy::Approval::kAlways : Policy::Approval::kNever;
  };
  p.approval_default = approval(spec.approval_default);
  for (const auto& [tool, mode] : spec.approval) p.approval[tool] = approval(mode);
  for (const ArgumentRuleSpec& r : spec.rules) {
    ArgumentRule rule;
    rule.tool = r.tool;
    rule.arg = r.arg;
    rule.path_prefix = r.path_prefix;
    rule.hosts = r.hosts;
    rule.min = r.min;
    rule.max = r.max;
    p.rules.push_back(std::move(rule));
  }
  return p;
}

Agent::Agent(const AgentSpec& spec, Engine& engine, const ToolRegistry& tools, AgentStore& store,
             Policy policy, Redactor redactor)
    : spec_(spec),
      engine_(engine),
      tools_(tools),
      store_(store),
      policy_(std::move(policy)),
      redactor_(std::move(redactor)) {}

Result<std::unique_ptr<Agent>> Agent::create(const AgentSpec& spec, Engine& engine,
                                             const ToolRegistry& tools, AgentStore& store) {
  for (const ToolRef& t : spec.tools) {
    if (!tools.find(t.name)) {
      return Status::invalid(spec.file + ": agent \"" + spec.name + "\" names tool \"" + t.name +
                             "\", which is not registered");
    }
  }
  Result<Redactor> redactor =
      Redactor::create(spec.policies.redact_builtin, spec.policies.redact_patterns);
  if (!redactor) return redactor.status();
  return std::unique_ptr<Agent>(new Agent(
      spec, engine, tools, store, policy_from_spec(spec.policies), std::move(redactor.value())));
}

Result<RunResult> Agent::run(const RunOptions& opts) {
  const Clock::time_point t0 = Clock::now();
  const LimitsSpec& limits = spec_.limits;
  RunResult rr;
  auto emit = [&](AgentEvent ev) {
    ev.run_id = rr.run_id;
    if (opts.on_event) opts.on_event(ev);
  };

  // ---- the run: new, or resumed ----------------------------------------------------------
  int64_t step = 0;
  std::vector<ToolCallRecord> pending;  // calls of a step that was not committed (resume)
  if (!opts.resume_run_id.empty()) {
    Result<RunRecord> run = store_.load_run(opts.resume_run_id);
    if (!run) return run.status();
    if (run->status == "finished") {
      return Status::invalid("run " + run->run_id + " already finished (" + run->stop_reason +
                             "); nothing to resume");
    }
    rr.run_id = run->run_id;
    rr.session_id = run->session_id;
    step = run->steps_done;
    Result<std::vector<ToolCallRecord>> interrupted = store_.mark_interrupted(rr.run_id);
    if (!interrupted) return interrupted.status();
    Result<RunRecord> again = store_.load_run(rr.run_id);
    if (!again) return again.status();
    for (const ToolCallRecord& tc : again->tool_calls) {
      if (tc.step == step) pending.push_back(tc);
    }
    AgentEvent start{AgentEvent::Kind::kRunStart};
    start.text = run->input;
    start.reason = "resumed";
    emit(start);
  } else {
    if (!opts.session_id.empty()) {
      Result<bool> exists = store_.session_exists(opts.session_id);
      if (!exists) return exists.status();
      if (!*exists) return Status::not_found("no session \"" + opts.session_id + "\"");
      rr.session_id = opts.session_id;
    } else {
      Result<std::string> s = store_.create_session(spec_.name);
      if (!s) return s.status();
      rr.session_id = *s;
    }
    const std::string input = redactor_.redact(opts.input);
    Result<std::string> run = store_.begin_run(rr.session_id, spec_.name, input);
    if (!run) return run.status();
    rr.run_id = *run;
    StoredMessage user;
    user.role = "user";
    user.content = input;
    user.run_id = rr.run_id;
    Result<int64_t> seq = store_.append_message(rr.session_id, user);
    if (!seq) return seq.status();
    AgentEvent start{AgentEvent::Kind::kRunStart};
    start.text = input;
    emit(start);
  }
  {
    nlohmann::json payload = {{"event", opts.resume_run_id.empty() ? "start" : "resume"},
                              {"agent", spec_.name},
                              {"session", rr.session_id}};
    Result<int64_t> a = store_.audit(rr.run_id, "run", json_text(payload));
    if (!a) return a.status();
  }

  Result<std::vector<StoredMessage>> stored = store_.load_messages(rr.session_id);
  if (!stored) return stored.status();
  std::vector<ChatMessage> history;
  for (const StoredMessage& m : *stored) history.push_back(to_chat(m));

  Result<std::string> instructions = render_instructions(spec_, opts.inputs);
  if (!instructions) return instructions.status();
  std::vector<ToolSpec> tool_specs;
  for (const Tool* tool : tools_.list()) {
    tool_specs.push_back({tool->name, tool->description, tool->parameters});
  }

  auto finish = [&](const std::string& reason, const std::string& answer,
                    const std::string& error) -> Result<RunResult> {
    rr.stop_reason = reason;
    rr.answer = answer;
    rr.error = error;
    R1_RETURN_IF_ERROR(store_.end_run(rr.run_id, reason, answer));
    nlohmann::json payload = {{"event", "end"},
                              {"stop_reason", reason},
                              {"steps", rr.steps},
                              {"tool_calls", rr.tool_calls},
                              {"tokens", rr.tokens}};
    if (!error.empty()) payload["error"] = error;
    Result<int64_t> a = store_.audit(rr.run_id, "run", json_text(payload));
    if (!a) return a.status();
    AgentEvent ev{AgentEvent::Kind::kFinal};
    ev.step = static_cast<int32_t>(step);
    ev.stop_reason = reason;
    ev.text = answer;
    ev.reason = error;
    emit(ev);
    return rr;
  };

  // The tool message for one result, as stored and as the model will see it.
  auto tool_message = [&](const ToolCall& call, const std::string& status,
                          const std::string& text) {
    StoredMessage m;
    m.role = "tool";
    m.tool_call_id = call.id;
    m.name = call.name;
    const std::string body = status == "ok" ? text : status + ": " + text;
    m.content = wrap_untrusted(call.name, redactor_.redact(body));
    m.run_id = rr.run_id;
    m.step = step;
    return m;
  };

  // ---- resume: finish the step the crash interrupted, without running anything again -----
  if (!pending.empty()) {
    StepRecord rec;
    rec.run_id = rr.run_id;
    rec.step = step;
    StoredMessage assistant;
    assistant.role = "assistant";
    assistant.run_id = rr.run_id;
    assistant.step = step;
    std::vector<ToolCall> calls;
    for (const ToolCallRecord& tc : pending)
      calls.push_back({tc.call_id, tc.tool_name, tc.arguments_json});
    assistant.tool_calls_json = calls_to_json(calls);
    rec.messages.push_back(assistant);
    for (size_t i = 0; i < pending.size(); ++i) {
      const ToolCallRecord& tc = pending[i];
      std::string text = tc.result_text;
      if (tc.status == "interrupted") {
        text = "the tool was running when the run stopped; it was not run again";
      }
      rec.messages.push_back(tool_message(calls[i], tc.status, text));
      AgentEvent ev{AgentEvent::Kind::kToolResult};
      ev.step = static_cast<int32_t>(step);
      ev.call = calls[i];
      ev.status = tc.status;
      ev.text = text;
      emit(ev);
      rr.tool_calls++;
    }
    rec.audit.push_back(
        {"tool_call", json_text({{"step", step}, {"resumed", true}, {"calls", pending.size()}})});
    R1_RETURN_IF_ERROR(store_.commit_step(rec));
    for (const StoredMessage& m : rec.messages) history.push_back(to_chat(m));
    ++step;
  }

  // ---- the loop ------------------------------------------------------------------------------
  int32_t malformed = 0;
  int32_t denied_steps = 0;
  std::vector<std::string> sources;  // "[n] citation" of passages tools returned (metadata)
  for (;;) {
    RunCounters counters;
    counters.steps = rr.steps;
    counters.tool_calls = rr.tool_calls;
    counters.tokens = rr.tokens;
    counters.elapsed_s = seconds_since(t0);
    Budgets budgets{limits.max_steps, limits.max_tool_calls, limits.max_tokens, limits.timeout_s};
    if (std::optional<std::string> over = exceeded_budget(budgets, counters)) {
      if (*over != "max_tool_calls") return finish(*over, "", "");
    }
    if (opts.cancelled && opts.cancelled->load()) return finish("cancelled", "", "");

    AgentEvent start{AgentEvent::Kind::kStepStart};
    start.step = static_cast<int32_t>(step);
    emit(start);
    const Clock::time_point step_t0 = Clock::now();

    const ModelSpec& ms = spec_.model;
    ChatRequest req;
    if (!instructions->empty()) req.messages.push_back({"system", *instructions});
    req.messages.insert(req.messages.end(), history.begin(), history.end());
    req.tools = tool_specs;
    if (rr.tool_calls == 0 && !tool_specs.empty()) {
      Result<ToolChoice> choice = parse_tool_choice(nlohmann::json(ms.tool_choice));
      if (!choice) return finish("error", "", "model.tool_choice: " + choice.status().message());
      req.tool_choice = *choice;
    }
    req.sampling.temperature = ms.temperature;
    req.sampling.top_p = ms.top_p;
    req.sampling.top_k = ms.top_k;
    req.sampling.min_p = ms.min_p;
    req.sampling.seed = ms.seed + static_cast<uint64_t>(step);
    req.think = ms.think;
    req.thinking.budget = ms.thinking_budget;
    req.thinking.min_thinking = ms.thinking_min;
    req.thinking.grace = ms.thinking_grace;
    if (ms.wrap_up) req.thinking.wrap_up = *ms.wrap_up;
    int64_t max_tokens = limits.max_tokens_per_step;
    if (limits.max_tokens > 0) max_tokens = std::min(max_tokens, limits.max_tokens - rr.tokens);
    req.max_tokens = static_cast<int32_t>(std::max<int64_t>(max_tokens, 1));

    Result<ChatResult> r = engine_.chat(req, [&](const ChatEvent& ev) {
      AgentEvent out;
      out.step = static_cast<int32_t>(step);
      switch (ev.kind) {
        case ChatEvent::Kind::kReasoning:
          out.kind = AgentEvent::Kind::kReasoning;
          out.text = ev.text;
          break;
        case ChatEvent::Kind::kContent:
          out.kind = AgentEvent::Kind::kContent;
          out.text = ev.text;
          break;
        case ChatEvent::Kind::kToolCall:
          return true;  // announced below, with its run-wide id
        case ChatEvent::Kind::kToolCallError:
          out.kind = AgentEvent::Kind::kToolCallError;
          out.text = ev.error.message;
          break;
      }
      emit(out);
      return !(opts.cancelled && opts.cancelled->load());
    });
    ++rr.steps;
    if (!r) {
      StepRecord rec;
      rec.run_id = rr.run_id;
      rec.step = step;
      rec.duration_ms = static_cast<int64_t>(seconds_since(step_t0) * 1000);
      rec.audit.push_back(
          {"model_call", json_text({{"step", step}, {"error", r.status().message()}})});
      R1_RETURN_IF_ERROR(store_.commit_step(rec));
      return finish("error", "", r.status().message());
    }
    rr.tokens += r->usage.completion_tokens;

    // Run-wide call ids (the engine numbers calls per turn).
    std::vector<ToolCall> calls = r->tool_calls;
    for (size_t i = 0; i < calls.size(); ++i) {
      calls[i].id = "call_" + std::to_string(step) + "_" + std::to_string(i);
      calls[i].arguments = redactor_.redact(calls[i].arguments);
    }

    StepRecord rec;
    rec.run_id = rr.run_id;
    rec.step = step;
    rec.raw_output = redactor_.redact(r->raw_output);
    rec.reasoning = redactor_.redact(r->reasoning);
    rec.content = redactor_.redact(r->content);
    rec.prompt_tokens = r->usage.prompt_tokens;
    rec.completion_tokens = r->usage.completion_tokens;
    rec.reasoning_tokens = r->usage.reasoning_tokens;
    nlohmann::json call_names = nlohmann::json::array();
    for (const ToolCall& c : calls) call_names.push_back(c.name);
    rec.audit.push_back(
        {"model_call", json_text({{"step", step},
                                  {"prompt_tokens", r->usage.prompt_tokens},
                                  {"completion_tokens", r->usage.completion_tokens},
                                  {"reasoning_tokens", r->usage.reasoning_tokens},
                                  {"finish_reason", r->finish_reason},
                                  {"tool_calls", call_names},
                                  {"malformed_calls", r->tool_call_errors.size()}})});
    StoredMessage assistant;
    assistant.role = "assistant";
    assistant.content = rec.content;
    assistant.reasoning = rec.reasoning;
    assistant.tool_calls_json = calls_to_json(calls);
    assistant.run_id = rr.run_id;
    assistant.step = step;
    rec.messages.push_back(assistant);

    auto commit = [&]() -> Status {
      rec.duration_ms = static_cast<int64_t>(seconds_since(step_t0) * 1000);
      R1_RETURN_IF_ERROR(store_.commit_step(rec));
      for (const StoredMessage& m : rec.messages) history.push_back(to_chat(m));
      ++step;
      return Status::ok();
    };

    // No valid call: a final answer, or malformed calls to feed back.
    if (calls.empty()) {
      if (r->tool_call_errors.empty()) {
        R1_RETURN_IF_ERROR(commit());
        if (r->finish_reason == "cancelled") return finish("cancelled", "", "");
        std::string answer = rec.content;
        // Retrieved passages the model saw are listed as its sources, so every answer cites
        // what it was given even when a small model forgets to.
        if (!sources.empty()) {
          answer += "\n\nSources:";
          for (const std::string& line : sources) answer += "\n" + line;
        }
        return finish("final", answer, "");
      }
      ++malformed;
      std::string what;
      for (const ToolCallError& e : r->tool_call_errors) {
        what += (what.empty() ? "" : "; ") + (e.name.empty() ? "" : e.name + ": ") + e.message;
      }
      if (malformed > limits.max_malformed_calls) {
        R1_RETURN_IF_ERROR(commit());
        return finish(
            "error", "",
            "the model made malformed tool calls " + std::to_string(malformed) + " times: " + what);
      }
      StoredMessage fix;
      fix.role = "user";
      fix.content = "Your tool call could not be used: " + redactor_.redact(what) +
                    ". Call the tool again with arguments that match its schema, or answer.";
      fix.run_id = rr.run_id;
      fix.step = step;
      rec.messages.push_back(fix);
      R1_RETURN_IF_ERROR(commit());
      continue;
    }

    // Policy, then the approved calls in parallel.
    struct Planned {
      ToolCall call;
      bool run = false;
      std::string status;  // for calls that do not run: denied
      std::string text;
      std::vector<std::string> citations;
      std::future<ToolOutput> output;
    };
    std::vector<Planned> planned(calls.size());
    int32_t approved = 0;
    for (size_t i = 0; i < calls.size(); ++i) {
      Planned& p = planned[i];
      p.call = calls[i];
      AgentEvent announce{AgentEvent::Kind::kToolCall};
      announce.step = static_cast<int32_t>(step);
      announce.call = p.call;
      emit(announce);
      Result<nlohmann::json> args = parse_json(r->tool_calls[i].arguments);
      Decision d = decide(policy_, p.call.name, args ? *args : nlohmann::json::object());
      std::string decision = decision_kind_name(d.kind);
      if (d.kind == Decision::Kind::kAsk) {
        const bool yes = opts.approve && opts.approve(p.call, d.reason);
        decision = yes ? "approved" : "denied";
        if (!opts.approve) d.reason += "; nobody can approve it, so it is denied";
        d.kind = yes ? Decision::Kind::kAllow : Decision::Kind::kDeny;
      }
      if (d.kind == Decision::Kind::kAllow && limits.max_tool_calls > 0 &&
          rr.tool_calls + approved >= limits.max_tool_calls) {
        d.kind = Decision::Kind::kDeny;
        decision = "deny";
        d.reason =
            "the run's tool-call budget (" + std::to_string(limits.max_tool_calls) + ") is spent";
      }
      AgentEvent ev{AgentEvent::Kind::kPolicyDecision};
      ev.step = static_cast<int32_t>(step);
      ev.call = p.call;
      ev.decision = decision;
      ev.reason = d.reason;
      emit(ev);
      rec.audit.push_back({"policy", json_text({{"step", step},
                                                {"call_id", p.call.id},
                                                {"tool", p.call.name},
                                                {"decision", decision},
                                                {"reason", d.reason}})});
      R1_RETURN_IF_ERROR(
          store_.tool_call_started(rr.run_id, step, p.call.id, p.call.name, p.call.arguments));
      if (d.kind == Decision::Kind::kAllow) {
        p.run = true;
        ++approved;
      } else {
        p.status = "denied";
        p.text = d.reason.empty() ? "denied by policy" : d.reason;
      }
    }
    ToolContext ctx;
    ctx.cancelled = opts.cancelled;
    ctx.session_id = rr.session_id;
    ctx.run_id = rr.run_id;
    if (limits.timeout_s > 0) {
      ctx.deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(limits.timeout_s));
    }
    for (size_t i = 0; i < planned.size(); ++i) {
      if (!planned[i].run) continue;
      // Arguments as the model wrote them (validated by the engine); the stored copy is redacted.
      planned[i].output = std::async(
          std::launch::async, [this, name = planned[i].call.name, args = r->tool_calls[i].arguments,
                               ctx]() { return tools_.run(name, args, ctx); });
    }
    for (Planned& p : planned) {
      int64_t duration_ms = 0;
      if (p.run) {
        ToolOutput out = p.output.get();
        const bool timed_out = out.metadata.is_object() && out.metadata.value("timed_out", false);
        p.status = timed_out ? "timeout" : out.is_error ? "error" : "ok";
        p.text = out.content;
        if (out.metadata.is_object()) {
          duration_ms = out.metadata.value("duration_ms", int64_t{0});
          // Tools that return passages (search_documents) list their citations here.
          if (!out.is_error && out.metadata.contains("citations") &&
              out.metadata["citations"].is_array()) {
            for (const nlohmann::json& c : out.metadata["citations"]) {
              if (c.is_string()) p.citations.push_back(c.get<std::string>());
              if (c.is_string() && std::find(sources.begin(), sources.end(),
                                             c.get<std::string>()) == sources.end()) {
                sources.push_back(c.get<std::string>());
              }
            }
          }
        }
        ++rr.tool_calls;
      }
      rec.tool_results.push_back({p.call.id, p.status, redactor_.redact(p.text), duration_ms});
      rec.messages.push_back(tool_message(p.call, p.status, p.text));
      rec.audit.push_back({"tool_call", json_text({{"step", step},
                                                   {"call_id", p.call.id},
                                                   {"tool", p.call.name},
                                                   {"status", p.status},
                                                   {"duration_ms", duration_ms},
                                                   {"result_bytes", p.text.size()}})});
      AgentEvent ev{AgentEvent::Kind::kToolResult};
      ev.step = static_cast<int32_t>(step);
      ev.call = p.call;
      ev.status = p.status;
      ev.text = redactor_.redact(p.text);
      ev.citations = p.citations;
      emit(ev);
    }
    R1_RETURN_IF_ERROR(commit());
    // A model that keeps calling what it may not call will not get anywhere.
    denied_steps = approved == 0 ? denied_steps + 1 : 0;
    if (denied_steps >= 2) {
      return finish("policy_denied", "", "every call of the last two steps was denied");
    }
  }
}

}  // namespace r1
