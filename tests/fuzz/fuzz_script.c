/* libFuzzer harness: the launch-script reader (sim/io/shell_read.c, through
 * tps_megatron_script_load and tps_megatron_args_parse) on arbitrary bytes.
 *
 * The bytes are read twice: as a script file (`tp-sim from-script`, into a
 * zeroed model, so that shape flags may build one) and, up to the first NUL,
 * as an argument string (`--megatron-args`, no model). The contract: no
 * crash, leak or hang; an error says what and where and leaves the model
 * and the run overrides as they were; a success leaves positive shapes and
 * a finite parameter count, and a short, terminated unresolved list.
 * A --mm-model flag may name a file beside the input (the input itself) or
 * anywhere: its errors are that file's. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tpsim/tpsim.h"

/* Lines in the input, for the bound on an error's line. */
static int count_lines(const uint8_t *data, size_t size) {
  int n = 1;
  for (size_t i = 0; i < size; i++) n += data[i] == '\n';
  return n;
}

static void check_unresolved(const tps_eco_unresolved *u, int lines) {
  assert(u->n >= 0 && u->n <= TPS_ECO_UNRESOLVED_MAX);
  assert(u->dropped >= 0 && u->recognised >= 0);
  for (int k = 0; k < u->n; k++) {
    const tps_eco_item *it = &u->items[k];
    assert(memchr(it->arg, '\0', sizeof it->arg));
    assert(memchr(it->text, '\0', sizeof it->text));
    assert(memchr(it->why, '\0', sizeof it->why));
    assert(it->line >= 0 && it->line <= lines);
  }
}

static void check_over(const tps_run_overrides *o) {
  assert(o->tp >= 0 && o->pp >= 0 && o->micro_batch >= 0 && o->global_batch >= 0);
  assert(o->seq_len >= 0 && o->cards >= 0);
}

/* An error in the input names a line of it; one in a file the input names
 * (a --mm-model JSON) is that file's. */
static void check_error(const tps_error *err, const char *path, int lines) {
  assert(err->msg[0] != '\0');
  assert(err->line >= 0 && (err->line <= lines || strcmp(err->file, path) != 0));
  assert(err->col >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int lines = count_lines(data, size);
  static tps_model model, before;
  tps_run_overrides over, over0;
  tps_eco_unresolved unres;
  tps_error err;

  /* 1. a launch script file */
  const char *path = fuzz_write_input(data, size, ".sh");
  memset(&model, 0, sizeof model);
  before = model;
  tps_run_overrides_init(&over);
  over0 = over;
  tps_error_clear(&err);
  tps_status st = tps_megatron_script_load(path, &model, &over, &unres, &err);
  if (st == TPS_OK) {
    check_over(&over);
    check_unresolved(&unres, lines);
    if (unres.shape == TPS_ECO_SHAPE_BUILT) {
      /* one decoder from the flags, or the modules of a --mm-model file */
      assert(model.n_modules >= 1 && model.n_modules <= TPS_MAX_MODULES);
      for (int k = 0; k < model.n_modules; k++)
        assert(model.modules[k].layers >= 1 && model.modules[k].hidden >= 1);
      const tps_module *d = &model.modules[model.n_modules - 1];
      assert(d->layers >= 1 && d->hidden >= 1 && d->heads >= 1 && d->vocab >= 1);
      assert(d->kv_heads >= 1 && d->heads % d->kv_heads == 0);
      double p = tps_model_params(&model);
      assert(isfinite(p) && p > 0);
    } else {
      assert(memcmp(&model, &before, sizeof model) == 0);
    }
  } else {
    check_error(&err, path, lines);
    assert(memcmp(&model, &before, sizeof model) == 0);
    assert(memcmp(&over, &over0, sizeof over) == 0);
    assert(unres.n == 0);
  }

  /* 2. the same bytes as --megatron-args (up to the first NUL) */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  tps_run_overrides_init(&over);
  tps_error_clear(&err);
  st = tps_megatron_args_parse(text, NULL, &over, &unres, &err);
  if (st == TPS_OK) {
    check_over(&over);
    check_unresolved(&unres, lines);
    assert(unres.shape == TPS_ECO_SHAPE_NONE);
  } else {
    check_error(&err, "--megatron-args", lines);
    assert(strcmp(err.file, "--megatron-args") == 0); /* no model: no --mm-model file read */
    assert(memcmp(&over, &over0, sizeof over) == 0);
  }
  free(text);
  return 0;
}
