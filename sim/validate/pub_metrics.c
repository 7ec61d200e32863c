/* The measured-key table and the engine value each key pairs with. */
#include "validate/pub_metrics.h"

#include <math.h>
#include <string.h>

#define GIB 1073741824.0
#define MIB 1048576.0

static const pub_metric metrics[] = {
    {"iteration_time_s", PUB_Q_STEP_TIME, 1.0, "step time, s"},
    {"iteration_time_ms", PUB_Q_STEP_TIME, 1e3, "step time, ms"},
    {"step_time_ms", PUB_Q_STEP_TIME, 1e3, "step time, ms"},
    {"tflops_per_gpu", PUB_Q_HW_FLOPS, 1e-12,
     "hardware TFLOP/s per card, recompute included (Megatron's 2020-2021 tables)"},
    {"model_tflops_per_gpu", PUB_Q_MODEL_FLOPS, 1e-12, "model TFLOP/s per card, no recompute"},
    {"mfu_pct", PUB_Q_MFU, 100.0, "model FLOPs utilisation, % of the profile's peak"},
    {"hfu_pct", PUB_Q_HFU, 100.0, "hardware FLOPs utilisation, % of the profile's peak"},
    {"tokens_per_s_per_gpu", PUB_Q_TOKENS_CARD, 1.0, "tokens/s per card"},
    {"tokens_per_s_per_card", PUB_Q_TOKENS_CARD, 1.0, "tokens/s per card"},
    {"tokens_per_s_per_npu", PUB_Q_TOKENS_CARD, 1.0, "tokens/s per card"},
    {"memory_gb_per_card", PUB_Q_MEMORY, 1e-9, "peak memory per card, GB (10^9 B)"},
    {"memory_gib_per_card", PUB_Q_MEMORY, 1.0 / GIB, "peak memory per card, GiB"},
    {"memory_mb_per_card", PUB_Q_MEMORY, 1.0 / MIB, "peak memory per card, MiB (as nvidia-smi prints MB)"},
    {"memory_gib_used_of_total", PUB_Q_MEMORY, 1.0 / GIB,
     "memory used per card, GiB (the first number of 'USED of TOTAL')"},
    {"layer_fwd_ms", PUB_Q_LAYER_FWD, 1e3, "one decoder block forward, ms per micro-batch"},
    {"layer_bwd_ms", PUB_Q_LAYER_BWD, 1e3,
     "one decoder block backward (recompute included), ms per micro-batch"},
    {"layer_total_ms", PUB_Q_LAYER_TOTAL, 1e3, "one decoder block forward + backward, ms"},
};
#define N_METRICS ((int)(sizeof metrics / sizeof metrics[0]))

const pub_metric *pub_metric_find(const char *key) {
  for (int i = 0; key && i < N_METRICS; i++)
    if (strcmp(metrics[i].key, key) == 0) return &metrics[i];
  return NULL;
}

int pub_metric_count(void) { return N_METRICS; }

const pub_metric *pub_metric_at(int i) { return i >= 0 && i < N_METRICS ? &metrics[i] : NULL; }

bool pub_metric_needs_layer(const pub_metric *m) {
  return m->quantity == PUB_Q_LAYER_FWD || m->quantity == PUB_Q_LAYER_BWD ||
         m->quantity == PUB_Q_LAYER_TOTAL;
}

/* SI value of a quantity. */
static double si_value(pub_quantity q, const tps_estimate *e, const tps_hw *hw,
                       const tps_layer_cost *l, tps_memory_reading reading) {
  double card_s = e->step_time_s * (double)e->run.cards; /* card-seconds per step */
  double peak = hw->peak_flops[e->run.precision];
  switch (q) {
    case PUB_Q_STEP_TIME: return e->step_time_s;
    case PUB_Q_HW_FLOPS: return e->hardware_flops_per_step / card_s;
    case PUB_Q_MODEL_FLOPS: return e->model_flops_per_step / card_s;
    case PUB_Q_MFU: return peak > 0 ? e->mfu : NAN;
    case PUB_Q_HFU: return peak > 0 ? e->hardware_flops_per_step / card_s / peak : NAN;
    case PUB_Q_TOKENS_CARD: return e->tokens_per_s_per_card;
    case PUB_Q_MEMORY: return tps_memory_read(&e->memory, reading);
    case PUB_Q_LAYER_FWD: return l->fwd_s + l->tp_comm_fwd_s;
    case PUB_Q_LAYER_BWD: return l->bwd_s + l->tp_comm_bwd_s + l->recompute_s + l->recompute_comm_s;
    case PUB_Q_LAYER_TOTAL:
      return l->fwd_s + l->tp_comm_fwd_s + l->bwd_s + l->tp_comm_bwd_s + l->recompute_s +
             l->recompute_comm_s;
  }
  return NAN;
}

double pub_metric_predict(const pub_metric *m, const tps_estimate *est, const tps_hw *hw,
                          const tps_layer_cost *layer, tps_memory_reading reading) {
  if (pub_metric_needs_layer(m) && !layer) return NAN;
  return si_value(m->quantity, est, hw, layer, reading) * m->scale;
}
