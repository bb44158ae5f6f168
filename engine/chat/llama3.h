// The Llama 3.1 chat format: `<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>` per
// message, the "Cutting Knowledge Date" system header, custom tools as JSON in the first user
// message, calls as {"name": ..., "parameters": ...} JSON, results with role ipython (layout at
// the top of llama3.cpp). Immutable and thread-safe.
#pragma once

#include <memory>

#include "engine/chat/chat_format.h"

namespace r1 {

std::unique_ptr<ChatFormat> make_llama3_format();

}  // namespace r1
