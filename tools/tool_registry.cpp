#include "tools/tool_registry.h"

#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "core/json_schema.h"

namespace r1 {

double ToolContext::seconds_left() const {
  if (deadline == std::chrono::steady_clock::time_point::max()) return 1e9;
  double s = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
  return s > 0 ? s : 0;
}

bool is_valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int64_t cut_utf8(std::string& text, int64_t max_bytes) {
  if (max_bytes < 0) max_bytes = 0;
  if (static_cast<int64_t>(text.size()) <= max_bytes) return 0;
  size_t cut = static_cast<size_t>(max_bytes);
  // Back up over continuation bytes (10xxxxxx) so a multi-byte character is never split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  int64_t dropped = static_cast<int64_t>(text.size() - cut);
  text.resize(cut);
  return dropped;
}

int64_t truncate_utf8(std::string& text, int64_t max_bytes) {
  const int64_t dropped = cut_utf8(text, max_bytes);
  if (dropped == 0) return 0;
  text += "\n[truncated " + std::to_string(dropped) + " bytes]";
  return dropped;
}

size_t valid_utf8_prefix(std::string_view text) {
  size_t i = 0, n = text.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return i;
    i += len;
  }
  return n;
}

// Abandoned handler threads: the registry's destructor waits until this count is zero.
struct ToolRegistry::InFlight {
  std::mutex mu;
  std::condition_variable cv;
  int64_t count = 0;
};

ToolRegistry::ToolRegistry() : in_flight_(std::make_shared<InFlight>()) {}

ToolRegistry::~ToolRegistry() {
  std::unique_lock<std::mutex> lock(in_flight_->mu);
  in_flight_->cv.wait(lock, [&] { return in_flight_->count == 0; });
}

Status ToolRegistry::add(Tool tool) {
  if (!is_valid_tool_name(tool.name)) {
    return Status::invalid("tool name \"" + tool.name + "\" must match [A-Za-z0-9_.-]{1,64}");
  }
  if (find(tool.name) != nullptr) {
    return Status::invalid("tool \"" + tool.name + "\" is already registered");
  }
  if (!tool.handler) return Status::invalid("tool \"" + tool.name + "\" has no handler");
  if (!(tool.timeout_s > 0)) {
    return Status::invalid("tool \"" + tool.name + "\": timeout_s must be positive");
  }
  if (tool.max_output_bytes <= 0) {
    return Status::invalid("tool \"" + tool.name + "\": max_output_bytes must be positive");
  }
  if (tool.parameters.is_null()) tool.parameters = nlohmann::json::object();
  Status s = check_json_schema(tool.parameters);
  if (!s) return Status::invalid("tool \"" + tool.name + "\": " + s.message());
  tools_.push_back(std::make_unique<Tool>(std::move(tool)));
  return Status::ok();
}

const Tool* ToolRegistry::find(const std::string& name) const {
  for (const auto& t : tools_) {
    if (t->name == name) return t.get();
  }
  return nullptr;
}

std::vector<const Tool*> ToolRegistry::list() const {
  std::vector<const Tool*> out;
  for (const auto& t : tools_) out.push_back(t.get());
  return out;
}

namespace {

// What the handler thread and run() share. The thread holds a shared_ptr, so the state lives
// until both are done with it, whichever finishes last.
struct CallState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  ToolOutput output;
  std::atomic<bool> cancelled{false};
  ToolHandler handler;  // a copy: the thread never touches the registry
  nlohmann::json args;
  ToolContext ctx;  // its `cancelled` points at the flag above
};

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

ToolOutput ToolRegistry::run(const std::string& name, const std::string& arguments_json,
                             const ToolContext& ctx) const {
  auto started = std::chrono::steady_clock::now();
  auto finish = [&](ToolOutput out) {
    out.metadata["duration_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    return out;
  };

  const Tool* tool = find(name);
  if (tool == nullptr) {
    std::string known;
    for (const auto& t : tools_) known += (known.empty() ? "" : ", ") + t->name;
    return finish(tool_error("unknown tool \"" + name +
                             "\"; available tools: " + (known.empty() ? "(none)" : known)));
  }

  nlohmann::json args = nlohmann::json::object();
  bool blank = arguments_json.find_first_not_of(" \t\r\n") == std::string::npos;
  if (!blank) {
    Result<nlohmann::json> parsed = parse_json(arguments_json);
    if (!parsed) {
      return finish(tool_error("arguments for " + name +
                               " are not valid JSON: " + parsed.status().message()));
    }
    args = std::move(parsed).value();
  }
  std::vector<SchemaViolation> violations = validate_json(tool->parameters, args);
  if (!violations.empty()) {
    return finish(
        tool_error("invalid arguments for " + name + ": " + describe_violations(violations)));
  }
  if (ctx.is_cancelled()) {
    ToolOutput out = tool_error(name + " was not run: the run was cancelled or is out of time");
    out.metadata["cancelled"] = true;
    return finish(std::move(out));
  }

  auto state = std::make_shared<CallState>();
  state->handler = tool->handler;
  state->args = std::move(args);
  state->ctx = ctx;
  state->ctx.cancelled = &state->cancelled;
  double limit_s = tool->timeout_s;
  auto tool_deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(limit_s));
  bool run_deadline_first = ctx.deadline < tool_deadline;
  auto deadline = run_deadline_first ? ctx.deadline : tool_deadline;
  state->ctx.deadline = deadline;

  std::shared_ptr<InFlight> in_flight = in_flight_;
  {
    std::lock_guard<std::mutex> lock(in_flight->mu);
    ++in_flight->count;
  }
  try {
    std::thread([state, in_flight] {
      ToolOutput out;
      try {
        Result<ToolOutput> r = state->handler(state->args, state->ctx);
        if (r) {
          out = std::move(r).value();
        } else {
          out = tool_error(r.status().message());
        }
      } catch (const std::exception& e) {
        out = tool_error(std::string("the tool failed: ") + e.what());
      } catch (...) {
        out = tool_error("the tool failed with an unknown exception");
      }
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->output = std::move(out);
        state->done = true;
      }
      state->cv.notify_all();
      {
        std::lock_guard<std::mutex> lock(in_flight->mu);
        --in_flight->count;
      }
      in_flight->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    std::lock_guard<std::mutex> lock(in_flight->mu);
    --in_flight->count;
    return finish(tool_error(std::string("cannot start a thread for ") + name + ": " + e.what()));
  }

  // Wait in short slices so the caller's cancelled flag is noticed promptly.
  std::unique_lock<std::mutex> lock(state->mu);
  bool caller_cancelled = false;
  while (!state->done) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (ctx.cancelled != nullptr && ctx.cancelled->load()) {
      caller_cancelled = true;
      break;
    }
    auto slice = std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                               std::chrono::milliseconds(20));
    state->cv.wait_for(lock, slice);
  }
  if (!state->done) {
    state->cancelled.store(true);
    ToolOutput out;
    out.is_error = true;
    if (caller_cancelled) {
      out.content = name + " was cancelled";
      out.metadata["cancelled"] = true;
    } else if (run_deadline_first) {
      out.content = name + " was stopped: the run's time limit was reached";
      out.metadata["timed_out"] = true;
    } else {
      out.content = name + " timed out after " + seconds_text(limit_s) + " s";
      out.metadata["timed_out"] = true;
    }
    return finish(std::move(out));
  }
  ToolOutput out = std::move(state->output);
  lock.unlock();
  if (!out.metadata.is_object()) out.metadata = nlohmann::json::object();
  int64_t dropped = truncate_utf8(out.content, tool->max_output_bytes);
  if (dropped > 0) out.metadata["truncated_bytes"] = dropped;
  return finish(std::move(out));
}

}  // namespace r1
