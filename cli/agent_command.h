// `r1 run` and `r1 audit verify`.
#pragma once

namespace CLI {
class App;
}

namespace r1::cli {

struct AgentCommands {
  CLI::App* run = nullptr;
  CLI::App* audit_verify = nullptr;
};
AgentCommands add_agent_commands(CLI::App& app);
int run_agent_command();         // exit code: 0 final answer, 1 another stop reason or failure
int run_audit_verify_command();  // exit code: 0 chain intact, 1 broken or unreadable

}  // namespace r1::cli
