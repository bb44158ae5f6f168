// `r1 run AGENT.yaml` and `r1 audit verify`: argument parsing and printing only; the agent
// runtime does the work.
#include "cli/agent_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "agent/runtime.h"
#include "cli/commands.h"
#include "memory/audit_log.h"

namespace r1::cli {

namespace {

struct RunCommandOptions {
  std::string agent;
  std::string prompt;
  std::string session;
  std::string resume;
  std::string approve = "ask";
  std::string events;
  std::vector<std::string> inputs;
  int threads = 0;
};

struct AuditOptions {
  std::string db;
};

RunCommandOptions g_run;
AuditOptions g_audit;

// Asks on the terminal; without one nobody can answer and the call is denied.
bool ask_on_terminal(const ToolCall& call, const std::string& reason) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) return false;
  std::fprintf(tty, "\nr1: allow %s(%s)? %s [y/N] ", call.name.c_str(), call.arguments.c_str(),
               reason.c_str());
  std::fflush(tty);
  char line[64] = {0};
  const bool yes = std::fgets(line, sizeof line, tty) && (line[0] == 'y' || line[0] == 'Y');
  std::fclose(tty);
  return yes;
}

int run_agent() {
  const RunCommandOptions& o = g_run;
  Runtime rt(RuntimeOptions{o.threads});
  Result<AgentSpec> spec = rt.load_agent(o.agent);
  if (!spec) return fail(spec.status());
  RunOptions run;
  run.input = o.prompt;
  run.session_id = o.session;
  run.resume_run_id = o.resume;
  if (run.input.empty() && run.resume_run_id.empty()) {
    if (isatty(STDIN_FILENO)) return fail(Status::invalid("run: give the question as PROMPT"));
    std::string line, all;
    while (std::getline(std::cin, line)) all += (all.empty() ? "" : "\n") + line;
    run.input = all;
  }
  for (const std::string& kv : o.inputs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(Status::invalid("--input " + kv + ": expected NAME=VALUE"));
    }
    run.inputs[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (o.approve == "allow") {
    run.approve = [](const ToolCall&, const std::string&) { return true; };
  } else if (o.approve == "ask") {
    run.approve = ask_on_terminal;
  }  // deny: no approver, so every "ask" is denied
  const bool json_events = o.events == "json";
  const bool tty = isatty(STDOUT_FILENO) != 0;
  bool in_reasoning = false;
  run.on_event = [&](const AgentEvent& e) {
    if (json_events) {
      std::cout << e.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n"
                << std::flush;
      return;
    }
    auto end_reasoning = [&]() {
      if (in_reasoning) std::fputs(tty ? "\x1b[0m\n" : "\n", stderr);
      in_reasoning = false;
    };
    switch (e.kind) {
      case AgentEvent::Kind::kRunStart:
        std::fprintf(stderr, "r1: run %s\n", e.run_id.c_str());
        break;
      case AgentEvent::Kind::kStepStart:
        break;
      case AgentEvent::Kind::kReasoning:
        if (!in_reasoning && tty) std::fputs("\x1b[2m", stderr);
        in_reasoning = true;
        std::fputs(e.text.c_str(), stderr);
        break;
      case AgentEvent::Kind::kContent:
        end_reasoning();
        std::fputs(e.text.c_str(), stdout);
        std::fflush(stdout);
        break;
      case AgentEvent::Kind::kToolCall:
        end_reasoning();
        std::fprintf(stderr, "\n-> %s(%s)\n", e.call.name.c_str(), e.call.arguments.c_str());
        break;
      case AgentEvent::Kind::kToolCallError:
        end_reasoning();
        std::fprintf(stderr, "\n-> malformed tool call: %s\n", e.text.c_str());
        break;
      case AgentEvent::Kind::kPolicyDecision:
        if (e.decision != "allow") {
          std::fprintf(stderr, "   policy: %s (%s)\n", e.decision.c_str(), e.reason.c_str());
        }
        break;
      case AgentEvent::Kind::kToolResult: {
        std::string shown = e.text.size() > 300 ? e.text.substr(0, 300) + "..." : e.text;
        std::fprintf(stderr, "<- %s [%s] %s\n", e.call.name.c_str(), e.status.c_str(),
                     shown.c_str());
        break;
      }
      case AgentEvent::Kind::kFinal:
        end_reasoning();
        break;
    }
    std::fflush(stderr);
  };
  Result<RunResult> r = rt.run(*spec, run);
  if (!r) return fail(r.status());
  if (!json_events) {
    std::fputs("\n", stdout);
    std::fprintf(stderr, "r1: %s after %d steps, %d tool calls, %lld tokens (session %s, run %s)\n",
                 r->stop_reason.c_str(), r->steps, r->tool_calls, static_cast<long long>(r->tokens),
                 r->session_id.c_str(), r->run_id.c_str());
    if (!r->error.empty()) std::fprintf(stderr, "r1: %s\n", r->error.c_str());
  }
  return r->stop_reason == "final" ? 0 : 1;
}

int run_audit_verify() {
  const std::string db = g_audit.db.empty() ? default_agent_db_path() : g_audit.db;
  Result<AuditReport> rep = verify_audit_db(db);
  if (!rep) return fail(rep.status());
  if (rep->ok) {
    std::printf("audit ok: %lld rows, chain intact (%s)\n",
                static_cast<long long>(rep->rows_checked), db.c_str());
    return 0;
  }
  std::printf("audit BROKEN at row %lld: %s (%lld rows checked before it; %s)\n",
              static_cast<long long>(rep->first_bad_row_id), rep->reason.c_str(),
              static_cast<long long>(rep->rows_checked), db.c_str());
  return 1;
}

}  // namespace

AgentCommands add_agent_commands(CLI::App& app) {
  AgentCommands c;
  c.run = app.add_subcommand("run", "Run a YAML agent on a question");
  c.run->add_option("agent", g_run.agent, "Agent YAML file")->required();
  c.run->add_option("prompt", g_run.prompt, "The question (default: stdin)");
  c.run->add_option("--session", g_run.session, "Continue this session (its id)");
  c.run->add_option("--resume", g_run.resume, "Resume this interrupted run (its id)");
  c.run
      ->add_option("--approve", g_run.approve,
                   "Calls a policy wants approved: ask (on the terminal), deny, allow")
      ->check(CLI::IsMember({"ask", "deny", "allow"}));
  c.run->add_option("--events", g_run.events, "json: print one JSON event per line")
      ->check(CLI::IsMember({"json"}));
  c.run->add_option("--input", g_run.inputs, "NAME=VALUE for an {placeholder} in the instructions");
  c.run->add_option("-t,--threads", g_run.threads, "Threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  CLI::App* audit = app.add_subcommand("audit", "Check the audit trail");
  audit->require_subcommand(1);
  c.audit_verify = audit->add_subcommand("verify", "Verify the hash chain of the audit trail");
  c.audit_verify->add_option("--db", g_audit.db, "Agent database (default: the default one)");
  return c;
}

int run_agent_command() {
  return run_agent();
}
int run_audit_verify_command() {
  return run_audit_verify();
}

}  // namespace r1::cli
