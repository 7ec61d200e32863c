/* Loading the model-error terms per hardware family
 * (validation/model-error.yaml; docs/uncertainty.md, "Model error"). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/yaml_doc.h"
#include "tpsim/io.h"

#define ALL IO_VARIANT_ALL

enum { ME_SOURCE, ME_FAMILIES, ME_N };
static const io_key top_keys[ME_N] = {
    [ME_SOURCE] = {.name = "source", .type = IO_KEY_STRING,
                   .offset = offsetof(tps_model_errors, source), .size = TPS_SOURCE_MAX,
                   .applies = ALL, .required = ALL, .help = "where the figures come from"},
    [ME_FAMILIES] = {.name = "families", .type = IO_KEY_NODE, .applies = ALL, .required = ALL,
                     .help = "a list of {hw or stack, time, memory}"},
};

enum { F_HW, F_STACK, F_TIME, F_MEMORY, F_N };
static const io_key family_keys[F_N] = {
    [F_HW] = {.name = "hw", .type = IO_KEY_STRING, .offset = offsetof(tps_model_error, hw),
              .size = TPS_NAME_MAX, .applies = ALL,
              .help = "hardware profile name (a100-80g-sxm)"},
    [F_STACK] = {.name = "stack", .type = IO_KEY_STRING,
                 .offset = offsetof(tps_model_error, stack), .size = TPS_NAME_MAX,
                 .applies = ALL, .help = "software stack name, for profiles not listed by hw"},
    [F_TIME] = {.name = "time", .type = IO_KEY_FRACTION,
                .offset = offsetof(tps_model_error, time_sd), .applies = ALL, .required = ALL,
                .help = "sd of log(predicted / measured) step time (16%)"},
    [F_MEMORY] = {.name = "memory", .type = IO_KEY_FRACTION,
                  .offset = offsetof(tps_model_error, memory_sd), .applies = ALL,
                  .required = ALL, .help = "sd of log(predicted / measured) memory (11%)"},
};

static tps_status read_families(io_doc *d, const yaml_node_t *n, tps_model_errors *me) {
  char got[64];
  if (!n || n->type != YAML_SEQUENCE_NODE) {
    io_node_desc(n, got, sizeof got);
    return io_doc_fail(d, n, TPS_ETYPE, "'families' must be a list, got %s", got);
  }
  int len = io_seq_len(n);
  if (len > TPS_MAX_MODEL_ERRORS)
    return io_doc_fail(d, n, TPS_ERANGE, "'families' has %d entries; at most %d are allowed", len,
                       TPS_MAX_MODEL_ERRORS);
  for (int i = 0; i < len; i++) {
    yaml_node_t *e = io_seq_at(d, n, i);
    tps_status st;
    if ((st = io_node_expect_map(d, e, "each entry of 'families'"))) return st;
    tps_model_error *m = &me->e[i];
    static const io_map_ctx ctx = {.where = "an entry of 'families'", .variant_bit = ALL};
    yaml_node_t *f[F_N];
    if ((st = io_map_read(d, e, family_keys, F_N, &ctx, m, f))) return st;
    if (!f[F_HW] && !f[F_STACK]) {
      io_doc_fail(d, e, TPS_EMISSINGKEY, "an entry of 'families' needs 'hw', 'stack' or both");
      io_doc_hint(d, "hw: a100-80g-sxm, stack: megatron-cuda names one profile running one stack; "
                     "stack: megatron-cuda alone every profile running it that no entry names");
      return TPS_EMISSINGKEY;
    }
    for (int j = 0; j < i; j++)
      if (strcmp(me->e[j].hw, m->hw) == 0 && strcmp(me->e[j].stack, m->stack) == 0)
        return io_doc_fail(d, e, TPS_ESYNTAX, "'%s' is listed twice in 'families'",
                           m->hw[0] ? m->hw : m->stack);
    me->n = i + 1;
  }
  return TPS_OK;
}

tps_status tps_model_errors_load(const char *path, tps_model_errors *me, tps_error *err) {
  io_doc d;
  tps_status st;
  if (!me) return tps_error_set(err, TPS_EINVAL, path, 0, 0, "no model-error table to fill");
  memset(me, 0, sizeof *me);
  if ((st = io_doc_load(&d, path, err))) return st;
  snprintf(me->path, sizeof me->path, "%s", path);
  yaml_node_t *root = io_doc_root(&d);
  yaml_node_t *f[ME_N];
  static const io_map_ctx ctx = {.where = "the model-error file", .variant_bit = ALL};
  if (!root) {
    tps_error_set(err, TPS_ESYNTAX, d.path, 1, 1, "file is empty");
    tps_error_hint(err, "a model-error file is a mapping with the keys source and families");
    st = TPS_ESYNTAX;
  } else if (root->type != YAML_MAPPING_NODE) {
    char got[64];
    io_node_desc(root, got, sizeof got);
    st = io_doc_fail(&d, root, TPS_ETYPE, "a model-error file must be a mapping of keys, got %s",
                     got);
  } else if (!(st = io_map_read(&d, root, top_keys, ME_N, &ctx, me, f))) {
    st = read_families(&d, f[ME_FAMILIES], me);
  }
  io_doc_free(&d);
  if (st) {
    char keep[sizeof me->path];
    snprintf(keep, sizeof keep, "%s", me->path);
    memset(me, 0, sizeof *me);
    snprintf(me->path, sizeof me->path, "%s", keep);
  }
  return st;
}
