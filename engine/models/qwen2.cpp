// `qwen2` (Qwen2/2.5 and DeepSeek-R1-Distill-Qwen): the llama-style decoder with biases on the
// q/k/v projections, NeoX-style rotary pairs, and (for the larger models) an untied output.
#include "engine/models/llama_family.h"

namespace r1 {

Result<std::unique_ptr<Model>> load_qwen2(const GgufFile& file) {
  LlamaFamilyOptions options;
  options.rope_neox = true;
  options.qkv_bias = true;
  return build_llama_family(file, "qwen2", options);
}

}  // namespace r1
