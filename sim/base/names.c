/* Names of the enums of model.h: one NULL-terminated table per enum, indexed
 * by the enum value. The loaders use the same tables to parse, so a name
 * printed in a report is always a name a file may contain. */
#include <stddef.h>

#include "base/names.h"
#include "tpsim/model.h"

const char *const tps_module_type_names[] = {"decoder", "vit", "projector", NULL};
const char *const tps_mlp_names[] = {"gelu", "swiglu", NULL};
const char *const tps_norm_names[] = {"layernorm", "rmsnorm", NULL};
const char *const tps_position_names[] = {"none", "learned", "rope", NULL};
const char *const tps_precision_names[] = {"bf16", "fp16", "fp32", NULL};
const char *const tps_recompute_names[] = {"none", "selective", "full", NULL};
const char *const tps_topology_names[] = {"switch", "full_mesh", NULL};
const char *const tps_cp_algo_names[] = {"ring", "ulysses", "hybrid", NULL};
const char *const tps_router_score_names[] = {"softmax", "sigmoid", NULL};
const char *const tps_fp8_format_names[] = {"none", "e4m3", "hybrid", NULL};
const char *const tps_cross_entropy_names[] = {"megatron", "te", NULL};

/* Each table has one name per enum value, plus the NULL terminator. */
#define NAMES_COUNT(a) ((int)(sizeof a / sizeof a[0]) - 1)

/* Looks up value in a NULL-terminated table of n names. */
static const char *name_of(const char *const *names, int n, int value) {
  if (value < 0 || value >= n) return "unknown";
  return names[value];
}

const char *tps_precision_name(tps_precision p) {
  return name_of(tps_precision_names, NAMES_COUNT(tps_precision_names), (int)p);
}

const char *tps_recompute_name(tps_recompute r) {
  return name_of(tps_recompute_names, NAMES_COUNT(tps_recompute_names), (int)r);
}

const char *tps_module_type_name(tps_module_type t) {
  return name_of(tps_module_type_names, NAMES_COUNT(tps_module_type_names), (int)t);
}

const char *tps_cp_algo_name(tps_cp_algo a) {
  return name_of(tps_cp_algo_names, NAMES_COUNT(tps_cp_algo_names), (int)a);
}

const char *tps_fp8_format_name(tps_fp8_format f) {
  return name_of(tps_fp8_format_names, NAMES_COUNT(tps_fp8_format_names), (int)f);
}

const char *tps_cross_entropy_name(tps_cross_entropy c) {
  return name_of(tps_cross_entropy_names, NAMES_COUNT(tps_cross_entropy_names), (int)c);
}

int tps_precision_bytes(tps_precision p) {
  switch (p) {
    case TPS_PRECISION_BF16:
    case TPS_PRECISION_FP16:
      return 2;
    case TPS_PRECISION_FP32:
      return 4;
    default:
      return 0;
  }
}

_Static_assert(NAMES_COUNT(tps_module_type_names) == TPS_MODULE_PROJECTOR + 1, "module types");
_Static_assert(NAMES_COUNT(tps_mlp_names) == TPS_MLP_SWIGLU + 1, "mlp kinds");
_Static_assert(NAMES_COUNT(tps_norm_names) == TPS_NORM_RMSNORM + 1, "norm kinds");
_Static_assert(NAMES_COUNT(tps_position_names) == TPS_POSITION_ROPE + 1, "positions");
_Static_assert(NAMES_COUNT(tps_precision_names) == TPS_PRECISION_COUNT, "precisions");
_Static_assert(NAMES_COUNT(tps_recompute_names) == TPS_RECOMPUTE_FULL + 1, "recompute");
_Static_assert(NAMES_COUNT(tps_topology_names) == TPS_TOPOLOGY_FULL_MESH + 1, "topologies");
_Static_assert(NAMES_COUNT(tps_cp_algo_names) == TPS_CP_ALGO_COUNT, "cp algorithms");
_Static_assert(NAMES_COUNT(tps_router_score_names) == TPS_ROUTER_SIGMOID + 1, "router scores");
_Static_assert(NAMES_COUNT(tps_fp8_format_names) == TPS_FP8_COUNT, "fp8 formats");
_Static_assert(NAMES_COUNT(tps_cross_entropy_names) == TPS_CE_COUNT, "cross entropies");
