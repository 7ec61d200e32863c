/* Loading models and hardware profiles from YAML (libyaml), with units and
 * strict validation. Errors carry FILE:LINE:COL. No printing. */
#ifndef TPSIM_IO_H
#define TPSIM_IO_H

#include "tpsim/model.h"
#include <stddef.h>

#include "tpsim/status.h"

/* Loads a model file. Sets defaults for keys left out (see docs/schema.md). */
tps_status tps_model_load(const char *path, tps_model *model, tps_error *err);
/* Loads a hardware profile, and the software stack its `stack:` key names
 * (hw->stack; all zero without one). */
tps_status tps_hw_load(const char *path, tps_hw *hw, tps_error *err);
/* Loads a software-stack profile (hw_profiles/stacks/NAME.yaml). */
tps_status tps_stack_load(const char *path, tps_stack *stack, tps_error *err);

/* Loads the model-error terms per hardware family
 * (validation/model-error.yaml, docs/uncertainty.md). */
tps_status tps_model_errors_load(const char *path, tps_model_errors *me, tps_error *err);

/* Resolves a bundled name ("qwen25vl-7b", "910b2") or a path to a file.
 * kind is "models", "hw_profiles", "hw_profiles/stacks" or "validation". Search order: an existing path as
 * given; $TPSIM_DATA_DIR/kind/NAME.yaml; the build-time data directory. */
tps_status tps_data_find(const char *kind, const char *name_or_path,
                         char *out, size_t out_size, tps_error *err);
/* Lists bundled names of a kind (sorted); returns count, fills up to max. */
int tps_data_list(const char *kind, char names[][TPS_NAME_MAX], int max);

/* Units. Parses "64 GiB", "1.6 TB/s", "376 TFLOPS", "8 us" into SI values
 * (bytes, bytes/s, FLOP/s, seconds). quantity is one of "bytes",
 * "bandwidth", "flops", "time". A bare number is an error (EUNIT). */
tps_status tps_unit_parse(const char *quantity, const char *text, double *out,
                          char *why, size_t why_size);

/* Parses a token count: "1T", "500B", "20M", "2.5e12", "1.5t" (T = 1e12,
 * B or G = 1e9, M = 1e6, K = 1e3). Must be finite and > 0: EINVAL on junk,
 * ERANGE when not. */
tps_status tps_token_count_parse(const char *text, double *out);

/* Closest candidate to `word` by edit distance, or NULL if none is close. */
const char *tps_did_you_mean(const char *word, const char *const *candidates,
                             int n);

#endif
