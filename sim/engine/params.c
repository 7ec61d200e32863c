/* Parameter counts of layers, modules and models (whole model, not per rank),
 * summed from the same lowering the cost model uses, at TP = 1 and with the
 * vocabulary unpadded, so they match published counts. */
#include <string.h>

#include "tpsim/ops.h"

/* Parameters of one layer at TP = 1 (whole model); *routed receives those
 * of routed experts among them. */
static double layer_params(const tps_module *mod, tps_lower_opts opts, double *routed) {
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
  double params = 0.0, r = 0.0;
  if (tps_lower_layer(&m, &run, opts, &list, NULL) == TPS_OK)
    for (int i = 0; i < list.n; i++) {
      params += list.ops[i].params;
      if (list.ops[i].routed) r += list.ops[i].params;
    }
  tps_op_list_free(&list);
  if (routed) *routed = r;
  return params;
}

double tps_layer_params(const tps_module *mod, tps_lower_opts opts) {
  return layer_params(mod, opts, NULL);
}

bool tps_module_layer_is_moe(const tps_module *mod, int64_t i) {
  if (mod->type != TPS_MODULE_DECODER || mod->experts <= 0) return false;
  int64_t freq = mod->moe_layer_freq > 1 ? mod->moe_layer_freq : 1;
  return i >= mod->first_dense_layers && i % freq == 0;
}

/* Blocks of a decoder with an MoE MLP. */
static int64_t moe_blocks(const tps_module *mod) {
  if (mod->type != TPS_MODULE_DECODER || mod->experts <= 0) return 0;
  int64_t freq = mod->moe_layer_freq > 1 ? mod->moe_layer_freq : 1;
  int64_t first = mod->first_dense_layers > 0 ? mod->first_dense_layers : 0;
  if (first >= mod->layers) return 0;
  /* multiples of freq in [first, layers - 1] */
  return (mod->layers - 1) / freq - (first + freq - 1) / freq + 1;
}

/* One MTP module: its projection layer, its block and its head's norm. */
static double mtp_module_params(const tps_module *mod) {
  if (mod->type != TPS_MODULE_DECODER || mod->mtp_layers <= 0) return 0.0;
  tps_lower_opts proj = {.kind = TPS_LAYER_MTP}, block = {.kind = TPS_LAYER_BLOCK},
                 head = {.kind = TPS_LAYER_HEAD, .shared_head = true};
  block.moe = mod->experts > 0;
  return tps_layer_params(mod, proj) + tps_layer_params(mod, block) + tps_layer_params(mod, head);
}

double tps_module_params(const tps_module *mod) {
  tps_lower_opts block = {.kind = TPS_LAYER_BLOCK};
  switch (mod->type) {
    case TPS_MODULE_DECODER: {
      tps_lower_opts emb = {.kind = TPS_LAYER_EMBEDDING}, head = {.kind = TPS_LAYER_HEAD};
      tps_lower_opts moe = {.kind = TPS_LAYER_BLOCK, .moe = true};
      int64_t n_moe = moe_blocks(mod);
      double blocks = (double)(mod->layers - n_moe) * tps_layer_params(mod, block) +
                      (n_moe > 0 ? (double)n_moe * tps_layer_params(mod, moe) : 0.0);
      double mtp = (double)mod->mtp_layers * mtp_module_params(mod);
      if (mod->vocab <= 0) /* a bare block stack: no embedding, no head (plan.c) */
        return blocks;
      return tps_layer_params(mod, emb) + blocks + tps_layer_params(mod, head) + mtp;
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

/* Routed-expert parameters of one MoE block that a token does not pass
 * through: (experts - top-k) / experts of them. */
static double idle_expert_params(const tps_module *mod) {
  if (mod->type != TPS_MODULE_DECODER || mod->experts <= 0) return 0.0;
  tps_lower_opts moe = {.kind = TPS_LAYER_BLOCK, .moe = true};
  double routed = 0.0;
  layer_params(mod, moe, &routed);
  int64_t k = mod->experts_per_token < mod->experts ? mod->experts_per_token : mod->experts;
  return routed * (double)(mod->experts - k) / (double)mod->experts;
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

double tps_model_active_params(const tps_model *model) {
  double total = 0.0;
  for (int i = 0; i < model->n_modules; i++) {
    const tps_module *mod = &model->modules[i];
    total += tps_module_params(mod) - (double)moe_blocks(mod) * idle_expert_params(mod);
  }
  return total - tps_model_mtp_params(model);
}

double tps_model_mtp_params(const tps_model *model) {
  double total = 0.0;
  for (int i = 0; i < model->n_modules; i++) {
    const tps_module *mod = &model->modules[i];
    if (mod->vocab > 0) total += (double)mod->mtp_layers * mtp_module_params(mod);
  }
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
  static const char *const names[] = {"embedding", "block", "head", "patch_embed", "merger",
                                      "mtp"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}
