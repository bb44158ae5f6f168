// The DeepSeek-R1 chat format (R1, V3, and the R1-Distill-Qwen / R1-Distill-Llama models).
//
// Prompt (the distill templates' layout; tools as llama.cpp's R1 template writes them):
//   <｜begin▁of▁sentence｜>[TOOLS]{last system message}<｜User｜>{user}<｜Assistant｜>{answer}
//   <｜end▁of▁sentence｜> ... <｜Assistant｜><think>\n
// Tool calls, tool results and the accepted spellings of the call delimiters are specified at
// the top of deepseek_r1.cpp. Immutable and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/chat/chat_format.h"

namespace r1 {

std::unique_ptr<ChatFormat> make_deepseek_r1_format();

// Every spelling of each tool-call delimiter the parser accepts, the canonical one first.
struct DeepseekR1Delimiters {
  std::vector<std::string> calls_begin;  // <｜tool▁calls▁begin｜>, <｜tool_calls_begin｜>, ...
  std::vector<std::string> call_begin;  // <｜tool▁call▁begin｜>, ...
  std::vector<std::string> sep;         // <｜tool▁sep｜>, ...
  std::vector<std::string> call_end;    // <｜tool▁call▁end｜>, ...
  std::vector<std::string> calls_end;   // <｜tool▁calls▁end｜>, ...
};
const DeepseekR1Delimiters& deepseek_r1_delimiters();

}  // namespace r1
