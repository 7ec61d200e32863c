/* libFuzzer harness: the hardware-profile loader (tps_hw_load) on arbitrary
 * bytes. A loaded profile must have positive, finite memory. */
#include <assert.h>
#include <math.h>

#include "fuzz_common.h"
#include "tpsim/tpsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input(data, size, ".yaml");
  static tps_hw hw;
  tps_error err;
  tps_error_clear(&err);
  tps_status st = tps_hw_load(path, &hw, &err);
  if (st == TPS_OK) {
    assert(isfinite(hw.memory_bytes) && hw.memory_bytes > 0);
    assert(hw.devices_per_node >= 1);
  } else {
    assert(err.msg[0] != '\0');
  }
  return 0;
}
