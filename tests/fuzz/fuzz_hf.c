/* libFuzzer harness: the JSON model readers (tps_model_load on a path ending
 * in .json): the Hugging Face config.json reader (sim/io/hf_config.c) and the
 * MindSpeed-MM model JSON reader it hands a file with 'text_decoder' /
 * 'image_encoder' sections to (sim/io/mm_model.c), on arbitrary bytes.
 * A loaded model must satisfy the loader's contract (1..8 modules, positive
 * shapes); the parameter count must be computable. Any crash, leak, hang or
 * undefined behaviour is a finding. */
#include "fuzz_common.h"
#include "tpsim/tpsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_check_model_load(data, size, ".json");
  return 0;
}
