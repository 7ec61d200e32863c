/* Parameter counts of layers, modules and models (whole model, not per rank),
 * summed from the same lowering the cost model uses, at TP = 1 and with the
 * vocabulary unpadded, so they match published counts. */
#include <string.h>

#include "tpsim/ops.h"

double tps_layer_params(const tps_module *mod, tps_lower_opts opts) {
  tps_module m = *mod;
  tps_run run;
  memset(&run, 0, sizeof run);
  run.tp = 1;
  run.pp = 1;
  run.dp = 1;
  run.micro_batch = 1;
  run.seq_len = 1;
  run.vocab_divisor = 1;
  run.precision = TPS_PRECISION_BF16;
  if (m.type != TPS_MODULE_DECODER) {
    /* Token counts do not change parameters; pick one the merger accepts. */
    m.tokens = m.spatial_merge > 0 ? m.spatial_merge * m.spatial_merge : 1;
    m.window = 0;
  }
  tps_op_list list;
  tps_op_list_init(&list);
  double params = 0.0;
  if (tps_lower_layer(&m, &run, opts, &list, NULL) == TPS_OK)
    for (int i = 0; i < list.n; i++) params += list.ops[i].params;
  tps_op_list_free(&list);
  return params;
}

double tps_module_params(const tps_module *mod) {
  tps_lower_opts block = {.kind = TPS_LAYER_BLOCK};
  switch (mod->type) {
    case TPS_MODULE_DECODER: {
      tps_lower_opts emb = {.kind = TPS_LAYER_EMBEDDING}, head = {.kind = TPS_LAYER_HEAD};
      if (mod->vocab <= 0) /* a bare block stack: no embedding, no head (plan.c) */
        return (double)mod->layers * tps_layer_params(mod, block);
      return tps_layer_params(mod, emb) + (double)mod->layers * tps_layer_params(mod, block) +
             tps_layer_params(mod, head);
    }
    case TPS_MODULE_VIT: {
      tps_lower_opts patch = {.kind = TPS_LAYER_PATCH_EMBED};
      return tps_layer_params(mod, patch) + (double)mod->layers * tps_layer_params(mod, block);
    }
    case TPS_MODULE_PROJECTOR: {
      tps_lower_opts merger = {.kind = TPS_LAYER_MERGER};
      return tps_layer_params(mod, merger);
    }
  }
  return 0.0;
}

double tps_model_params(const tps_model *model) {
  double total = 0.0;
  for (int i = 0; i < model->n_modules; i++) total += tps_module_params(&model->modules[i]);
  return total;
}

double tps_model_trainable_params(const tps_model *model) {
  double total = 0.0;
  for (int i = 0; i < model->n_modules; i++)
    if (!model->modules[i].frozen) total += tps_module_params(&model->modules[i]);
  return total;
}

const char *tps_op_kind_name(tps_op_kind k) {
  static const char *const names[] = {"gemm", "attention", "norm", "activation", "residual",
                                      "rope", "embedding", "loss", "collective"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

const char *tps_coll_name(tps_coll c) {
  static const char *const names[] = {"none", "all_reduce", "reduce_scatter", "all_gather",
                                      "all_to_all", "ring_p2p"};
  return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

const char *tps_layer_kind_name(tps_layer_kind k) {
  static const char *const names[] = {"embedding", "block", "head", "patch_embed", "merger"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}
