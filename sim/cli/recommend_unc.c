/* Prediction intervals for `tp-sim recommend` (docs/uncertainty.md): only
 * the rows printed get them (the top rows and the best configuration of
 * each TP), never the configurations searched, so that a Mixtral-size
 * search stays as fast as without. */
#include <stdlib.h>

#include "cli/recommend_unc.h"

/* The estimate of one search row (the same evaluator) and its intervals. */
static tps_status row_intervals(const tps_model *model, const tps_hw *hw,
                                const tps_search_result *res, const tps_search_row *row,
                                const tps_unc_opts *uo, tps_estimate *est, tps_uncertainty *u,
                                tps_error *err) {
  tps_run run;
  tps_status st = tps_search_config_run(model, &res->base, &row->cfg, &run, err);
  if (st == TPS_OK) st = tps_estimate_run(model, &run, hw, est, err);
  if (st == TPS_OK) st = tps_uncertainty_run(model, hw, est, uo, u, err);
  return st;
}

tps_status recommend_intervals(const tps_model *model, const tps_hw *hw,
                               const tps_search_result *res, double level,
                               const tps_model_errors *errors, recommend_unc *out,
                               tps_error *err) {
  out->top = out->by_tp = NULL;
  out->model_error = tps_model_error_find(errors, hw);
  if (!(level > 0) || res->n_top < 1) return TPS_OK;
  tps_unc_opts uo;
  tps_unc_opts_init(&uo);
  uo.level = level;
  uo.time_sd = out->model_error ? out->model_error->time_sd : 0.0;
  uo.memory_sd = out->model_error ? out->model_error->memory_sd : 0.0;
  out->top = calloc((size_t)res->n_top, sizeof *out->top);
  out->by_tp = calloc((size_t)res->n_tp + 1, sizeof *out->by_tp);
  tps_estimate *est = malloc(sizeof *est);
  tps_status st = TPS_OK;
  if (!out->top || !out->by_tp || !est)
    st = tps_error_set(err, TPS_ENOMEM, NULL, 0, 0, "out of memory while computing intervals");
  for (int i = 0; st == TPS_OK && i < res->n_top; i++)
    st = row_intervals(model, hw, res, &res->top[i], &uo, est, &out->top[i], err);
  for (int i = 0; st == TPS_OK && i < res->n_tp; i++)
    if (res->by_tp[i].found)
      st = row_intervals(model, hw, res, &res->by_tp[i].best, &uo, est, &out->by_tp[i], err);
  free(est);
  if (st != TPS_OK) recommend_unc_free(out);
  return st;
}

void recommend_unc_free(recommend_unc *u) {
  free(u->top);
  free(u->by_tp);
  u->top = u->by_tp = NULL;
}
