/* Shared by the libFuzzer harnesses: the loaders take a path, so each input is
 * written to one temporary file per process (created on first use, removed at
 * exit) and the loader reads it back. POSIX.1-2008 only (mkdtemp), so that
 * the harnesses build with the project's _POSIX_C_SOURCE and -std=c11. */
#ifndef TPSIM_FUZZ_COMMON_H
#define TPSIM_FUZZ_COMMON_H

#include <assert.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpsim/tpsim.h"

static char fuzz_dir[64];
static char fuzz_path[96];

static void fuzz_cleanup(void) {
  if (fuzz_path[0]) unlink(fuzz_path);
  if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* Writes data to this process's temporary file (DIR/input.SUFFIX in a
 * private mkdtemp directory, so the suffix the loaders look at is kept) and
 * returns its path; aborts (a harness bug, not a finding) when the file
 * cannot be written. */
static const char *fuzz_write_input(const uint8_t *data, size_t size, const char *suffix) {
  if (!fuzz_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/tpsim-fuzz-XXXXXX",
             tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir)) abort();
    snprintf(fuzz_path, sizeof fuzz_path, "%s/input%s", fuzz_dir, suffix);
    atexit(fuzz_cleanup);
    gsl_set_error_handler_off();
  }
  FILE *f = fopen(fuzz_path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return fuzz_path;
}

/* Loads a model file written from data (suffix ".yaml" or ".json" picks the
 * reader) and checks the loader's contract: a loaded model has 1..8
 * modules with positive shapes and a computable parameter count; a failure
 * says what is wrong. */
static inline void fuzz_check_model_load(const uint8_t *data, size_t size, const char *suffix) {
  const char *path = fuzz_write_input(data, size, suffix);
  static tps_model model;
  tps_error err;
  tps_error_clear(&err);
  if (tps_model_load(path, &model, &err) == TPS_OK) {
    assert(model.n_modules >= 1 && model.n_modules <= TPS_MAX_MODULES);
    for (int i = 0; i < model.n_modules; i++) {
      assert(model.modules[i].layers >= 1);
      assert(model.modules[i].hidden >= 1);
    }
    double p = tps_model_params(&model);
    assert(!isnan(p) && p > 0);
  } else {
    assert(err.msg[0] != '\0');
  }
}

#endif
