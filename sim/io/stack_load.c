/* Loading a software-stack profile (docs/schema.md, "Software stack"):
 * hw_profiles/stacks/NAME.yaml. Times are stored in seconds. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/limits.h"
#include "io/yaml_doc.h"
#include "tpsim/io.h"

#define ALL IO_VARIANT_ALL

enum { ST_NAME, ST_SOURCE, ST_DISPATCH, ST_PER_MB, ST_PER_STEP, ST_ALLOC, ST_MOE, ST_OPS, ST_N };
static const io_key stack_keys[ST_N] = {
    [ST_NAME] = {.name = "name", .type = IO_KEY_STRING, .offset = offsetof(tps_stack, name),
                 .size = TPS_NAME_MAX, .applies = ALL, .required = ALL, .help = "stack name"},
    [ST_SOURCE] = {.name = "source", .type = IO_KEY_STRING,
                   .offset = offsetof(tps_stack, source), .size = TPS_SOURCE_MAX,
                   .applies = ALL, .required = ALL, .help = "where the figures come from"},
    [ST_DISPATCH] = {.name = "host_dispatch", .type = IO_KEY_QUANTITY,
                     .offset = offsetof(tps_stack, host_dispatch_s), .min = 0,
                     .quantity = "time", .applies = ALL, .required = ALL,
                     .help = "host time to issue one framework op (10 us)", .spread = true,
                     .sd_offset = offsetof(tps_stack, host_dispatch_sd_s)},
    /* optional; absent: 0 */
    [ST_PER_MB] = {.name = "per_micro_batch", .type = IO_KEY_QUANTITY,
                   .offset = offsetof(tps_stack, per_micro_batch_s), .min = 0,
                   .quantity = "time", .applies = ALL,
                   .help = "host time per micro-batch outside the layers (1 ms)", .spread = true,
                   .sd_offset = offsetof(tps_stack, per_micro_batch_sd_s)},
    [ST_PER_STEP] = {.name = "per_step", .type = IO_KEY_QUANTITY,
                     .offset = offsetof(tps_stack, per_step_s), .min = 0, .quantity = "time",
                     .applies = ALL, .help = "host time per step outside the layers (10 ms)",
                     .spread = true, .sd_offset = offsetof(tps_stack, per_step_sd_s)},
    [ST_ALLOC] = {.name = "allocator_overhead", .type = IO_KEY_NUMBER,
                  .offset = offsetof(tps_stack, allocator_overhead), .min = 1, .max = 4,
                  .applies = ALL,
                  .help = "caching allocator: reserved / allocated activation bytes (1.1)",
                  .spread = true, .sd_offset = offsetof(tps_stack, allocator_overhead_sd)},
    [ST_MOE] = {.name = "moe", .type = IO_KEY_NODE, .applies = ALL,
                .help = "mixture of experts: imbalance and its source"},
    [ST_OPS] = {.name = "ops", .type = IO_KEY_NODE, .applies = ALL, .required = ALL,
                .help = "per lowered op kind: host_ops and extra_kernels, [forward, backward]"},
};

/* moe: {imbalance, source} (docs/schema.md, "Software stack"). */
enum { MOE_IMBALANCE, MOE_SOURCE, MOE_N };
static const io_key moe_keys[MOE_N] = {
    [MOE_IMBALANCE] = {.name = "imbalance", .type = IO_KEY_NUMBER,
                       .offset = offsetof(tps_stack, moe_imbalance), .min = 1, .max = 64,
                       .applies = ALL, .required = ALL,
                       .help = "dropless MoE: tokens of the most loaded expert-parallel rank "
                               "over the expected load (1.25)"},
    [MOE_SOURCE] = {.name = "source", .type = IO_KEY_STRING,
                    .offset = offsetof(tps_stack, moe_source), .size = TPS_SOURCE_MAX,
                    .applies = ALL, .required = ALL, .help = "where the imbalance comes from"},
};

/* The lowered op kinds, in tps_op_kind order (ops.h). */
static const io_key kind_keys[TPS_OP_KIND_COUNT] = {
#define KIND(n, text) {.name = n, .type = IO_KEY_NODE, .applies = ALL, .required = ALL, .help = text}
    KIND("gemm", "a (column/row-parallel or replicated) linear layer"),
    KIND("attention", "the attention core"),
    KIND("norm", "LayerNorm or RMSNorm"),
    KIND("activation", "GeLU or SwiGLU"),
    KIND("residual", "(dropout +) residual add"),
    KIND("rope", "rotary embedding of q and k"),
    KIND("embedding", "vocabulary-parallel lookup"),
    KIND("loss", "vocabulary-parallel cross entropy"),
    KIND("collective", "a tensor-parallel collective"),
#undef KIND
};

enum { OP_HOST, OP_EXTRA, OP_N };
static const io_key op_keys[OP_N] = {
    [OP_HOST] = {.name = "host_ops", .type = IO_KEY_NODE, .applies = ALL, .required = ALL,
                 .help = "framework ops issued, [forward, backward]"},
    [OP_EXTRA] = {.name = "extra_kernels", .type = IO_KEY_NODE, .applies = ALL,
                  .required = ALL,
                  .help = "device kernels beyond the op's own, [forward, backward]"},
};

/* A [forward, backward] pair of counts in [0, 1000]. */
static tps_status read_pair(io_doc *d, const yaml_node_t *n, const char *what, double out[2]) {
  if (n->type != YAML_SEQUENCE_NODE || io_seq_len(n) != 2) {
    char got[64];
    io_node_desc(n, got, sizeof got);
    io_doc_fail(d, n, TPS_ETYPE, "%s must be a list [forward, backward], got %s", what, got);
    io_doc_hint(d, "for example [2, 4]");
    return TPS_ETYPE;
  }
  for (int i = 0; i < 2; i++) {
    tps_status st = io_node_number(d, io_seq_at(d, n, i), what, 0, 1000, &out[i]);
    if (st) return st;
  }
  return TPS_OK;
}

static tps_status read_ops(io_doc *d, const yaml_node_t *n, tps_stack *s) {
  tps_status st;
  if ((st = io_node_expect_map(d, n, "'ops'"))) return st;
  static const io_map_ctx ctx = {.where = "'ops'", .variant_bit = ALL};
  yaml_node_t *kf[TPS_OP_KIND_COUNT];
  if ((st = io_map_read(d, n, kind_keys, TPS_OP_KIND_COUNT, &ctx, s, kf))) return st;
  for (int k = 0; k < TPS_OP_KIND_COUNT; k++) {
    char where[64];
    snprintf(where, sizeof where, "'%s'", kind_keys[k].name);
    if ((st = io_node_expect_map(d, kf[k], where))) return st;
    io_map_ctx octx = {.where = where, .variant_bit = ALL};
    yaml_node_t *of[OP_N];
    if ((st = io_map_read(d, kf[k], op_keys, OP_N, &octx, s, of))) return st;
    char what[96];
    snprintf(what, sizeof what, "'%s.host_ops'", kind_keys[k].name);
    if ((st = read_pair(d, of[OP_HOST], what, s->host_ops[k]))) return st;
    snprintf(what, sizeof what, "'%s.extra_kernels'", kind_keys[k].name);
    if ((st = read_pair(d, of[OP_EXTRA], what, s->extra_kernels[k]))) return st;
  }
  return TPS_OK;
}

tps_status tps_stack_load(const char *path, tps_stack *s, tps_error *err) {
  io_doc d;
  tps_status st;
  if (!s) return tps_error_set(err, TPS_EINVAL, path, 0, 0, "no stack to fill");
  memset(s, 0, sizeof *s);
  if ((st = io_doc_load(&d, path, err))) return st;
  snprintf(s->path, sizeof s->path, "%s", path);
  yaml_node_t *root = io_doc_root(&d);
  yaml_node_t *f[ST_N];
  static const io_map_ctx ctx = {.where = "the software-stack profile", .variant_bit = ALL};
  if (!root) {
    tps_error_set(err, TPS_ESYNTAX, d.path, 1, 1, "file is empty");
    tps_error_hint(err, "a software-stack profile is a mapping with the keys name, source, "
                        "host_dispatch and ops");
    st = TPS_ESYNTAX;
  } else if (root->type != YAML_MAPPING_NODE) {
    char got[64];
    io_node_desc(root, got, sizeof got);
    st = io_doc_fail(&d, root, TPS_ETYPE,
                      "a software-stack profile must be a mapping of keys, got %s", got);
  } else if (!(st = io_map_read(&d, root, stack_keys, ST_N, &ctx, s, f)) &&
             !(st = io_check_limit(&d, f[ST_DISPATCH], "'host_dispatch'", s->host_dispatch_s,
                                   &io_limit_time)) &&
             !(st = io_check_limit(&d, f[ST_PER_MB], "'per_micro_batch'", s->per_micro_batch_s,
                                   &io_limit_time)) &&
             !(st = io_check_limit(&d, f[ST_PER_STEP], "'per_step'", s->per_step_s,
                                   &io_limit_time))) {
    st = read_ops(&d, f[ST_OPS], s);
    if (!st && f[ST_MOE] && !(st = io_node_expect_map(&d, f[ST_MOE], "'moe'"))) {
      static const io_map_ctx mctx = {.where = "'moe'", .variant_bit = ALL};
      yaml_node_t *mf[MOE_N];
      st = io_map_read(&d, f[ST_MOE], moe_keys, MOE_N, &mctx, s, mf);
    }
  }
  io_doc_free(&d);
  if (st) {
    char keep[sizeof s->path];
    snprintf(keep, sizeof keep, "%s", s->path);
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", keep);
  }
  return st;
}
