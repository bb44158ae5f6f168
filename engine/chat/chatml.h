// ChatML prompt rendering (Qwen, SmolLM2, Hermes): `<|im_start|>ROLE\nCONTENT<|im_end|>\n` per
// message, and `<|im_start|>assistant\n` as the generation prompt. Pure functions.
#pragma once

#include <string>
#include <vector>

namespace r1 {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
};

// When the first message is not a system message and default_system is non-empty, a system
// message with default_system is rendered first (SmolLM2's template does this).
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const std::string& default_system = "");

}  // namespace r1
