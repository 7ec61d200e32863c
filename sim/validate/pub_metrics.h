/* The measured keys `tp-sim validate --published` compares, one row each:
 * which engine quantity a key pairs with and in which unit the key is.
 * Every other measured key is ignored. */
#ifndef TPSIM_VALIDATE_PUB_METRICS_H
#define TPSIM_VALIDATE_PUB_METRICS_H

#include <stdbool.h>

#include "tpsim/tpsim.h"

typedef enum {
  PUB_Q_STEP_TIME,    /* est.step_time_s, seconds per training step */
  PUB_Q_HW_FLOPS,     /* hardware FLOP/s per card: est.hardware_flops_per_step
                         (recompute included) / step time / cards */
  PUB_Q_MODEL_FLOPS,  /* model FLOP/s per card: est.model_flops_per_step / step / cards */
  PUB_Q_MFU,          /* est.mfu, fraction of the profile's peak */
  PUB_Q_HFU,          /* hardware FLOP/s per card / peak, fraction */
  PUB_Q_TOKENS_CARD,  /* est.tokens_per_s_per_card, tokens/s */
  PUB_Q_MEMORY,       /* est.memory.total, bytes on the most loaded card */
  PUB_Q_LAYER_FWD,    /* one decoder block, one micro-batch: forward kernels +
                         TP collectives, seconds */
  PUB_Q_LAYER_BWD,    /* backward kernels + collectives + recompute, seconds */
  PUB_Q_LAYER_TOTAL   /* forward + backward, seconds */
} pub_quantity;

typedef struct pub_metric {
  const char *key;        /* measured key in the case file */
  pub_quantity quantity;
  double scale;           /* value in the key's unit = SI value x scale */
  const char *help;       /* meaning and unit, one line */
} pub_metric;

/* The row for a measured key, or NULL when tp-sim does not compare it. */
const pub_metric *pub_metric_find(const char *key);
/* All rows, for documentation: count and i-th row. */
int pub_metric_count(void);
const pub_metric *pub_metric_at(int i);
/* true when the metric needs the cost of one decoder block. */
bool pub_metric_needs_layer(const pub_metric *m);

/* The predicted value of metric m in the key's unit. layer may be NULL when
 * !pub_metric_needs_layer(m). A memory metric is read as the case says it
 * was measured (reading). Returns NaN when the quantity is undefined (no
 * peak FLOP/s for the run's precision). */
double pub_metric_predict(const pub_metric *m, const tps_estimate *est, const tps_hw *hw,
                          const tps_layer_cost *layer, tps_memory_reading reading);

#endif
