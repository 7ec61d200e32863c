/* libFuzzer harness: the software-stack loader (tps_stack_load) on arbitrary
 * bytes. A loaded stack has finite, non-negative times and counts. */
#include <assert.h>
#include <math.h>

#include "fuzz_common.h"
#include "tpsim/tpsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input(data, size, ".yaml");
  static tps_stack s;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = tps_stack_load(path, &s, &err);
  if (st == TPS_OK) {
    assert(isfinite(s.host_dispatch_s) && s.host_dispatch_s >= 0);
    assert(isfinite(s.per_micro_batch_s) && s.per_micro_batch_s >= 0);
    assert(isfinite(s.per_step_s) && s.per_step_s >= 0);
    for (int k = 0; k < TPS_OP_KIND_COUNT; k++)
      for (int p = 0; p < 2; p++) assert(s.host_ops[k][p] >= 0 && s.extra_kernels[k][p] >= 0);
  } else {
    assert(err.msg[0] != '\0');
  }
  return 0;
}
