// The llama-style decoder shared by `llama` and `qwen2` GGUF architectures: RMSNorm, rotary
// attention with grouped KV heads, SwiGLU feed-forward. Internal to engine/models/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"

namespace r1 {

struct LlamaFamilyOptions {
  bool rope_neox = false;  // qwen2: true
  bool qkv_bias = false;   // qwen2: true (bias tensors required)
};

// Reads hyper-parameters under `arch.` and binds tensors; see llama.cpp for the layout.
Result<std::unique_ptr<Model>> build_llama_family(const GgufFile& file, const std::string& arch,
                                                  const LlamaFamilyOptions& options);

}  // namespace r1
