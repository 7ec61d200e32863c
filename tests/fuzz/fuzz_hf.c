/* libFuzzer harness: the Hugging Face config.json reader (tps_model_load on a
 * path ending in .json, sim/io/hf_config.c) on arbitrary bytes.
 * A loaded model must satisfy the loader's contract (1..8 modules, positive
 * shapes); the parameter count must be computable. Any crash, leak, hang or
 * undefined behaviour is a finding. */
#include "fuzz_common.h"
#include "tpsim/tpsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_check_model_load(data, size, ".json");
  return 0;
}
