/* One published case read from its YAML mapping: the model (inline decoder
 * or a bundled model named by `model_profile:`), the parallel configuration,
 * the hardware text and the measured values tp-sim compares.
 *
 * Reading never fails on content: whatever makes a case unpredictable
 * (a missing key, a wrong type, something the engine does not model) is
 * written to `skip` with the key and, where there is one, its line. */
#ifndef TPSIM_VALIDATE_PUB_CASE_H
#define TPSIM_VALIDATE_PUB_CASE_H

#include "io/yaml_doc.h"
#include "tpsim/tpsim.h"
#include "validate/pub_metrics.h"
#include "validate/validate_types.h"

#define PUB_MAX_MEASURED 24
#define PUB_PATH_MAX 512

typedef struct pub_measured {
  const pub_metric *metric;
  double value;     /* in the key's unit, in [1e-9, 1e15] */
  bool uncertain;   /* an entry of the case's `uncertain:` list names it */
} pub_measured;

typedef struct pub_case {
  char id[VALIDATE_ID_MAX];
  char group[VALIDATE_GROUP_MAX];
  char skip[VALIDATE_WHY_MAX];  /* non-empty: cannot be predicted, and why */
  int line;                     /* 1-based line of the case in the file */
  int year;                     /* `year:`, else the earliest year of `source`; 0 unknown */

  /* Model: a bundled name or file (model_profile non-empty), else `module`. */
  char model_profile[PUB_PATH_MAX];
  tps_module module;            /* inline decoder, architecture from `arch` */
  int64_t seq_len;              /* model.seq_len; 0 not given */

  /* Run: parallel keys as overrides (0 / -1 where not given); precision and
   * flash attention as stated by the text, applied by pub_case_overrides. */
  tps_run_overrides over;
  tps_precision precision;      /* pub_precision() result */
  bool precision_explicit;      /* the text named exactly one precision */
  int flash;                    /* 1 on, 0 off, -1 not stated */

  /* Hardware. */
  char profile[PUB_PATH_MAX];   /* `profile:` (case or hardware), or "" */
  char device[256];             /* hardware.device, or "" */
  char stack[64];               /* `stack:` (case or hardware): the software stack that
                                   ran it, when not the profile's own; or "" */

  tps_memory_reading memory_reading; /* `memory_reading:` allocated | reserved | device
                                        (default: device, npu-smi / nvidia-smi "used") */
  pub_measured measured[PUB_MAX_MEASURED];
  int n_measured;
  char ignored[192];            /* measured keys tp-sim does not compare, comma-separated */
} pub_case;

/* Reads case `index` (0-based) of the `cases` list into c. Errors of content
 * go to c->skip; d's own error is left untouched. */
void pub_case_read(io_doc *d, const yaml_node_t *node, int index, pub_case *c);

/* The run overrides of a case: its parallel keys, plus precision and flash
 * attention by the documented rules. With a bundled model (profile_model),
 * what the case leaves unstated keeps the model file's training default;
 * inline, an unstated precision follows pub_precision's year rule and an
 * unstated flash attention is off before 2022 (no flash attention existed)
 * and on from 2022 or when the year is unknown. */
void pub_case_overrides(const pub_case *c, bool profile_model, tps_run_overrides *out);

#endif
