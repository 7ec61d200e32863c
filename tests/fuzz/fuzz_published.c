/* libFuzzer harness: the published-cases reader (pub_validate), which also
 * resolves bundled models and hardware profiles by name (TPSIM_DATA_DIR) and
 * runs the engine on every case it reads. */
#include <assert.h>

#include "fuzz_common.h"
#include "validate/published.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write_input(data, size, ".yaml");
  validate_report rep;
  memset(&rep, 0, sizeof rep);
  tps_error err;
  tps_error_clear(&err);
  tps_status st = pub_validate(path, NULL, &rep, &err);
  if (st != TPS_OK) assert(err.msg[0] != '\0');
  pub_report_free(&rep);
  return 0;
}
