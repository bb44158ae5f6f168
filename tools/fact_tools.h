// The `remember` and `recall` tools over a FactStore.
//
// remember: {"text": string (1..4000 chars)} -> "remembered as fact #ID".
// recall:   {"query": string, "k": integer 1..20 (default 5)} -> a JSON array of strings.
// The store is captured by reference: it must outlive the tools and any registry holding them
// (see ToolRegistry's lifetime rule). Thread-safe when the store is.
#pragma once

#include "tools/fact_store.h"
#include "tools/tool.h"

namespace r1 {

Tool make_remember_tool(FactStore& store);
Tool make_recall_tool(FactStore& store);

}  // namespace r1
