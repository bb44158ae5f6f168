// The ChatML chat format (Qwen2.5, SmolLM2, Hermes): `<|im_start|>ROLE\nCONTENT<|im_end|>\n` per
// message and `<|im_start|>assistant\n` as the generation prompt; tools the Hermes way, as Qwen2.5
// writes them (layout at the top of chatml.cpp). Immutable and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/chat/chat_format.h"

namespace r1 {

// default_system: rendered as the system message when the conversation has none (SmolLM2's
// template does this; see chatml_default_system()). "" for none.
std::unique_ptr<ChatFormat> make_chatml_format(std::string default_system = "");

// The plain renderer `r1 chat` has used since before ChatFormat: every message as
// `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, no tools, no reasoning handling. When the first
// message is not a system message and default_system is non-empty, a system message with
// default_system is rendered first. Prefer make_chatml_format().
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const std::string& default_system = "");

}  // namespace r1
