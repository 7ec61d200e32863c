/* Intervals of the rows `tp-sim recommend` prints (recommend_unc.c). */
#ifndef TPSIM_CLI_RECOMMEND_UNC_H
#define TPSIM_CLI_RECOMMEND_UNC_H

#include "tpsim/tpsim.h"

typedef struct recommend_unc {
  tps_uncertainty *top;    /* res->n_top entries, or NULL (no intervals) */
  tps_uncertainty *by_tp;  /* res->n_tp entries, those of by_tp[i].found filled */
  const tps_model_error *model_error; /* the term applied, or NULL */
} recommend_unc;

/* Intervals at level (0: none, out's arrays NULL) of the top rows and of the
 * best configuration of each TP, with the model-error term of hw in errors
 * (may be NULL). Free with recommend_unc_free whatever the status. */
tps_status recommend_intervals(const tps_model *model, const tps_hw *hw,
                               const tps_search_result *res, double level,
                               const tps_model_errors *errors, recommend_unc *out,
                               tps_error *err);
void recommend_unc_free(recommend_unc *u);

#endif
