// The smallest embedding of r1: load a YAML agent, run it on a question, print its events.
//   build/examples/embed_minimal examples/assistant.yaml "What is 17 * 23?"
#include <cstdio>

#include "agent/runtime.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s AGENT.yaml QUESTION\n", argv[0]);
    return 2;
  }
  r1::Runtime runtime;
  r1::Result<r1::AgentSpec> spec = runtime.load_agent(argv[1]);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.status().message().c_str());
    return 2;
  }
  r1::RunOptions run;
  run.input = argv[2];
  run.on_event = [](const r1::AgentEvent& e) { std::puts(e.to_json().dump().c_str()); };
  r1::Result<r1::RunResult> result = runtime.run(*spec, run);
  if (!result) {
    std::fprintf(stderr, "%s\n", result.status().message().c_str());
    return 1;
  }
  std::printf("answer (%s): %s\n", result->stop_reason.c_str(), result->answer.c_str());
  return result->stop_reason == "final" ? 0 : 1;
}
