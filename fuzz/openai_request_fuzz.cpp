// libFuzzer target: request bodies of the OpenAI-compatible API (server/openai_api.h) and API
// key files. Any bytes must give a parsed request or an error object, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/openai_api.h"
#include "server/server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  r1::server::RequestLimits limits;
  r1::server::ChatCompletionRequest chat;
  if (auto e = r1::server::parse_chat_completion(body, limits, &chat)) {
    (void)e->to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  }
  r1::server::CompletionRequest completion;
  (void)r1::server::parse_completion(body, limits, &completion);
  r1::server::EmbeddingRequest embedding;
  (void)r1::server::parse_embedding(body, limits, &embedding);
  (void)r1::server::parse_api_keys(body, "fuzz");
  r1::server::StopFilter stop({"</s>", "\n\n"});
  (void)stop.push(body);
  (void)stop.finish();
  return 0;
}
