/* libFuzzer harness: the Hugging Face config.json reader (tps_model_load on a
 * path ending in .json, sim/io/hf_config.c) on arbitrary bytes.
 * A loaded model must satisfy the loader's contract (1..8 modules, positive
 * shapes); the parameter count must be computable. Any crash, leak, hang or
 * undefined behaviour is a finding. */
#include <assert.h>
#include <math.h>

#include "fuzz_common.h"
#include "tpsim/tpsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input(data, size, ".json");
  static tps_model model;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = tps_model_load(path, &model, &err);
  if (st == TPS_OK) {
    assert(model.n_modules >= 1 && model.n_modules <= TPS_MAX_MODULES);
    for (int i = 0; i < model.n_modules; i++) {
      assert(model.modules[i].layers >= 1);
      assert(model.modules[i].hidden >= 1);
    }
    double p = tps_model_params(&model);
    assert(!isnan(p) && p > 0);
  } else {
    assert(err.msg[0] != '\0'); /* every failure says what is wrong */
  }
  return 0;
}
